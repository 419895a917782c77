// Listener: one cpp-httplib server bound to one address, tuned for webhook
// traffic, running on its own thread.
//
// cpp-httplib's defaults are made for small forms and few clients; each is
// set here on purpose:
//   - a worker pool of `threads` (a keep-alive connection holds a worker for
//     as long as it stays open, so the pool bounds concurrent connections);
//   - TCP_NODELAY, so a small answer is not held back by Nagle's algorithm;
//   - many requests per keep-alive connection (the default closes after 5);
//   - a listen backlog of 1024 instead of the library's compiled-in 5, so a
//     burst of new connections is not dropped;
//   - read/write timeouts, so a slow or idle client cannot hold a worker long.
// Thread safety: Start/Stop from one controlling thread; handlers run on
// the worker threads.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace relayq::server {

struct ListenerOptions {
  std::string name;  // "public" or "admin", for messages
  std::string host = "127.0.0.1";
  int port = 0;      // 0: any free port
  int threads = 64;
  int keep_alive_timeout_s = 5;
  int read_timeout_s = 10;
  size_t max_body_bytes = 25u << 20;
  std::string tls_cert;  // both set: HTTPS with TLS 1.2 or later
  std::string tls_key;
};

class Listener {
 public:
  // Creates the server (loading the TLS certificate when configured) so that
  // routes can be added to server(). Fails with a clear message when the
  // certificate or key cannot be loaded.
  static Result<std::unique_ptr<Listener>> Create(const ListenerOptions& options);
  ~Listener();

  httplib::Server& server() { return *server_; }

  // Binds and starts serving on a background thread. Fails when the address
  // cannot be bound (in use, not local, no permission).
  Status Start();
  // The bound port (useful when options.port was 0).
  int port() const { return port_; }
  std::string address() const;
  bool tls() const { return !options_.tls_cert.empty(); }

  // Stops accepting; requests already being served finish. Idempotent.
  void Stop();

 private:
  explicit Listener(ListenerOptions options) : options_(std::move(options)) {}

  ListenerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_fd_ = -1;  // captured before bind so the backlog can be raised
};

}  // namespace relayq::server
