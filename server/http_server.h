// HttpServer: one listening address served by an event-driven HTTP/1.1
// server (Boost.Beast on Boost.Asio), used by both of relayq's listeners.
//
// Why not cpp-httplib here (it stays relayq's GitHub client): it serves each
// connection on a pool thread for as long as the connection lives, so a few
// dozen slow or idle strangers take every thread, and its read timeout bounds
// only the gap between two bytes. Here a connection costs a socket and a few
// kilobytes of buffer until it sends something, and every phase of a request
// has a total deadline (see docs/SECURITY.md for the measurements behind
// this choice).
//
// What a connection may do, enforced before anything is buffered beyond it:
//   - accept + TLS handshake + request line + headers within header_timeout,
//     counted from the accept (or, on a kept-alive connection, from the
//     request's first byte); idle between requests at most keep_alive_timeout;
//     the whole request, body included, within request_timeout; writing the
//     answer within header_timeout. Each is a total, not a per-read timeout.
//   - request line and each header line at most max_line_bytes (414 / 431);
//     all headers at most max_header_bytes and max_header_fields (431);
//   - a body at most the route's limit (413, decided from Content-Length
//     before any body byte is read; chunked bodies counted as they arrive);
//   - all request bodies being read, together, at most memory_budget_bytes
//     (503 to the request that would go over it);
//   - at most max_connections open at once. A new connection past that
//     closes the connection that has waited longest without sending a
//     complete request header (idle, handshaking or trickling), so strangers
//     holding sockets cannot lock others out; when every open connection is
//     past its header, the new one is answered 503 and closed (on a TLS
//     listener closed without an answer).
// Any answer given before the whole request was read closes the connection,
// so unread bytes are never parsed as a next request. Nothing a client sends
// produces a 500: parse errors are 400 with a reason.
//
// Thread safety: Create/Start/Stop from one controlling thread. Inline routes
// run on the I/O threads, blocking routes on the worker pool; a Respond may
// be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/result.h"
#include "server/http.h"

namespace relayq::server {

struct HttpServerOptions {
  std::string name = "public";  // for messages and metric labels
  std::string host = "127.0.0.1";
  int port = 0;          // 0: any free port
  std::string tls_cert;  // both set: HTTPS, TLS 1.2 or later only
  std::string tls_key;

  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};

  size_t max_line_bytes = 8 << 10;
  size_t max_header_bytes = 64 << 10;
  size_t max_header_fields = 100;
  size_t max_body_bytes = 1 << 20;  // for routes that set no limit of their own
  size_t memory_budget_bytes = 128u << 20;
  size_t max_connections = 10'000;

  int io_threads = 1;      // threads running the event loop
  int worker_threads = 2;  // threads for Route::Runs::kBlocking handlers
};

// Counters of what the server refused or cut off; monotonic since Start.
struct HttpServerStats {
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections, none evictable
  uint64_t timeouts = 0;             // any deadline
  uint64_t requests = 0;
};

class HttpServer {
 public:
  // Checks the options and loads the TLS certificate when configured; fails
  // with a clear message when it cannot be loaded. `metrics` (optional, must
  // outlive the server) gets relayq_http_* series labelled with options.name.
  static Result<std::unique_ptr<HttpServer>> Create(HttpServerOptions options, Router router,
                                                    MetricsRegistry* metrics);
  virtual ~HttpServer() = default;

  // Binds and starts the I/O and worker threads. Fails when the address
  // cannot be bound (in use, not local, no permission).
  virtual Status Start() = 0;
  // The bound port (useful when options.port was 0), and host:port.
  virtual int port() const = 0;
  virtual std::string address() const = 0;
  virtual bool tls() const = 0;
  virtual HttpServerStats Stats() const = 0;

  // Stops accepting, lets requests being handled finish (for at most
  // `grace`), closes every connection and joins the threads. Idempotent;
  // also done by the destructor.
  virtual void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5'000)) = 0;
};

// Raises this process's open-file limit to at least `wanted` descriptors
// when the hard limit allows. Returns the limit in force afterwards.
uint64_t RaiseFileLimit(uint64_t wanted);

}  // namespace relayq::server
