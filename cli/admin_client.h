// How the commands that can work through a running relayq (`dispatch`,
// `status`, `actions`) reach its admin API from any machine: which URL
// (--server, else RELAYQ_SERVER, else admin.server), the bearer token
// (RELAYQ_ADMIN_TOKEN or admin.token_file), and answers turned into Status
// values a person can act on ("cannot connect to pi.local:8081: Connection
// refused", "relayq at http://pi.local:8081 refused the admin token ...").
//
// The token never appears in an error or a progress line.
//
// Thread safety: an AdminClient is used by one thread at a time.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "server/config.h"

namespace httplib {
class Client;
}

namespace relayq::cli {

// The admin URL a command uses: `flag` (--server) when given, else the
// configuration's (admin.server, which RELAYQ_SERVER overrides). Empty: work
// on a local store. A flag typed now wins over an exported variable, as with
// any command-line tool.
std::string ChooseServer(const std::string& flag, const server::Config& config);

struct AdminAnswer {
  int status = 0;
  nlohmann::json body;  // the answer parsed as JSON; null when it was not JSON

  bool ok() const { return status >= 200 && status < 300; }
  // The answer's "error" field, else the start of its body.
  std::string Error() const;
};

class AdminClient {
 public:
  // `url` is http(s)://HOST[:PORT] with no path (a trailing '/' is fine);
  // InvalidArgument otherwise. An empty `token` is sent as none (the server
  // answers 401).
  static Result<std::unique_ptr<AdminClient>> Create(std::string_view url, std::string token);
  ~AdminClient();

  // GET `path_and_query`. Unavailable ("cannot connect to HOST:PORT: ...")
  // when no answer came after a few tries; otherwise the answer, whatever its
  // status (AnswerStatus turns a failed one into a Status).
  Result<AdminAnswer> Get(const std::string& path_and_query);

  // POST `body` as JSON. A POST whose answer is lost may have been acted on,
  // so it is resent only when `idempotency_key` is given (sent as the
  // Idempotency-Key header: the server answers a repeat with the first
  // result) or when the connection was never made. Retries are announced on
  // stderr.
  Result<AdminAnswer> Post(const std::string& path, const nlohmann::json& body,
                           const std::string& idempotency_key = "");

  // The URL as given, for messages ("http://pi.local:8081").
  const std::string& url() const { return url_; }

 private:
  AdminClient(std::string url, std::string host, int port, std::string token);
  Result<AdminAnswer> Send(const std::string& method, const std::string& path,
                           const std::string& body, const std::string& idempotency_key);

  std::string url_;
  std::string host_;
  int port_;
  std::string token_;
  std::unique_ptr<httplib::Client> http_;
};

// Ok for a 2xx answer; otherwise the failure in words: 401 names the token
// (never its value), 404 NotFound, 400/409/422 InvalidArgument with the
// server's reason, 5xx Unavailable.
Status AnswerStatus(const AdminAnswer& answer, const AdminClient& client);

// A fresh random Idempotency-Key (a UUID v4).
std::string NewIdempotencyKey();

}  // namespace relayq::cli
