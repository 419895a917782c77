// The small HTTP vocabulary relayq's routes are written in: a request as the
// server read it, the response a route gives, and the Router that maps
// method + path to a route. It knows nothing of sockets or of the library
// underneath (server/http_server.h), so routes read like plain functions and
// tests can call them directly.
//
// Thread safety: a Router is filled before its server starts and is then
// read-only; HttpRequest and HttpResponse are plain values.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relayq::server {

using HttpFields = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // as sent, e.g. "POST"
  std::string target;  // as sent: path and query string
  std::string path;    // the target up to '?', not decoded
  HttpFields query;    // the query string, percent-decoded, in order
  HttpFields headers;  // names as sent, in order
  std::string body;
  // The `{name}` segments of a pattern route, in order.
  std::vector<std::string> path_params;
  // The client's IP address as the socket sees it ("" when unknown); a
  // front proxy's address when there is one.
  std::string remote_address;

  // The first header of that name (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // The first query parameter `key`, or nullopt; and how often it is given.
  std::optional<std::string> Param(std::string_view key) const;
  size_t ParamCount(std::string_view key) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HttpFields headers;  // extra headers (Allow, WWW-Authenticate, ...)
  // Run on the connection's I/O thread once the answer is written (or has
  // failed to be): bookkeeping such as the access log, kept off whatever
  // thread called Respond (for the webhook, the store's writer).
  std::function<void()> on_sent;

  // {"error": why} with `status`; `why` may hold any bytes (invalid UTF-8 is
  // replaced), so it is safe to build from what a client sent.
  static HttpResponse Error(int status, std::string_view why);
  static HttpResponse Json(int status, std::string body);
};

// A route answers by calling Respond exactly once, from any thread.
using Respond = std::function<void(HttpResponse)>;
using AsyncHandler = std::function<void(HttpRequest&&, Respond)>;
using SyncHandler = std::function<HttpResponse(const HttpRequest&)>;

// Looked at once the request's header is read and before any byte of its
// body is taken: an answer returned here is final, the body is never read
// (and the connection closes if one was announced). For checks that need no
// body: authentication, content type, content encoding.
using HeaderCheck = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

struct Route {
  std::string method;   // "GET" also serves HEAD
  std::string pattern;  // "/exact/path", or with `{name}` segments: "/api/v1/jobs/{id}"
  // Where the handler runs. kInline: on the I/O thread; it must not block
  // (no disk, no locks held for long). kBlocking: on the server's worker
  // pool; anything goes, the I/O threads stay free.
  enum class Runs { kInline, kBlocking };
  Runs runs = Runs::kInline;
  AsyncHandler handler;
  // The largest body this route takes (413 over it); 0: the server's
  // default (HttpServerOptions::max_body_bytes).
  size_t max_body_bytes = 0;
  HeaderCheck header_check;  // optional, after the router's own
};

class Router {
 public:
  // Adds a route. A handler that answers at once can be given as a
  // SyncHandler (Inline or Blocking); an AsyncHandler answers when its work
  // completes (the webhook, after the store's commit).
  void Add(Route route);
  void Get(std::string pattern, SyncHandler handler, Route::Runs runs = Route::Runs::kInline);
  void Post(std::string pattern, SyncHandler handler, Route::Runs runs = Route::Runs::kInline);

  // A check applied to every request but those whose path is in `exempt`
  // (e.g. the admin token, with /healthz exempt).
  void SetHeaderCheck(HeaderCheck check, std::vector<std::string> exempt = {});

  // What a request's header selects: the route (with the path parameters
  // filled into `request`), or the answer when no route fits: 404 for an
  // unknown path, 405 (with Allow) for a known path and another method, or
  // the router's header check's refusal.
  struct Match {
    const Route* route = nullptr;
    std::optional<HttpResponse> answer;
  };
  Match Find(HttpRequest& request) const;

  const std::vector<Route>& Routes() const { return routes_; }

 private:
  void AddSync(std::string method, std::string pattern, SyncHandler handler, Route::Runs runs);

  std::vector<Route> routes_;
  HeaderCheck check_;
  std::vector<std::string> exempt_;
};

}  // namespace relayq::server
