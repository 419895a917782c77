// Internal to github/: the transport under HttpGitHubClient. It sends one
// REST call and hands back GitHub's answer, doing everything GitHub's REST
// best practices ask of a client that is not about a particular endpoint:
// the recommended headers, requests one at a time, a pause between writes,
// backoff with full jitter on network errors and 5xx, the rate-limit gate
// (Retry-After, x-ratelimit-*, secondary limits), never retrying what cannot
// succeed, credentials (a token, or a GitHub App's JWT exchanged for
// installation tokens that are cached), and the mapping of a final non-2xx
// answer to the named Status of the error policy. The REST mapping
// (http_github_client.cc) builds calls and decodes answers on top of it.
//
// All waiting goes through the injected Sleeper and all time through the
// injected Clock. Thread safety: thread-safe; requests are sent one at a
// time, and a caller waiting for backoff does not block the others.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "github/client.h"
#include "github/client_options.h"
#include "github/http_util.h"
#include "github/sleeper.h"

namespace relayq::github {

// Whose credentials a request carries.
enum class AuthMode {
  kDefault,  // the token, or the installation token for the call's repo
  kAppJwt,   // the App's own JWT (installation discovery and token exchange)
};

// One REST call.
struct Call {
  std::string method;
  std::string path;  // below the API prefix, with its query: "/repos/o/r/hooks?per_page=100"
  std::string body;  // JSON; empty for none
  AuthMode auth = AuthMode::kDefault;
  std::string repo;  // "owner/name"; selects the installation under App auth
};

// GitHub's answer to a call.
struct Answer {
  int status = 0;
  std::string body;
  httplib::Headers headers;  // case-insensitive keys

  std::string Header(const char* name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool ok() const { return status >= 200 && status < 300; }
};

// "GitHub GET /repos/o/r/hooks": a call for messages, without its query.
std::string Describe(const Call& call);

// "/repos/OWNER/NAME", percent-encoded; InvalidArgument unless `repo` is
// owner/name.
Result<std::string> RepoPath(std::string_view repo);

class Transport {
 public:
  // `options` are validated by HttpGitHubClient::Create. `clock` and
  // `sleeper` must outlive the transport.
  Transport(ClientOptions options, BaseUrl base, Clock& clock, Sleeper& sleeper);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const ClientOptions& options() const { return options_; }
  const BaseUrl& base() const { return base_; }

  // Sends `call`, retrying network errors, 5xx and rate limits as the error
  // policy says. Returns the first answer that is not retried (2xx or a
  // final 4xx), or the Status of the last failure when attempts ran out.
  //
  // A call that is not `idempotent` (a dispatch, a cancel) is sent at most
  // once: when it may have reached GitHub without an answer (a network
  // error other than failing to connect, a 5xx) it fails with
  // OutcomeUnknown and the caller must find out what happened before sending
  // again. A rate limit means GitHub did not act, so it fails with
  // RateLimited (and holds later calls until the limit ends) without waiting.
  Result<Answer> Send(const Call& call, bool idempotent = true);
  // Send, with any non-2xx answer turned into ErrorFor's Status.
  Result<Answer> SendOk(const Call& call);

  // Maps a final non-2xx answer to the named Status of the error policy.
  Status ErrorFor(const Call& call, const Answer& answer) const;
  // The answer's body as JSON, or Unavailable naming the call.
  Result<nlohmann::json> ParseJson(const Call& call, const Answer& answer) const;
  // Unavailable: the answer is not `expected` as GitHub documents.
  static Status NotShaped(const Call& call, const std::string& expected);

  // Remembers a credential so it can be scrubbed from any message built from
  // GitHub's answers (defence in depth: GitHub does not echo tokens).
  void RememberSecret(const std::string& secret);

  ClientStats Stats() const;

 private:
  static Status Stopping(const Call& call);
  // GitHub's own explanation from an error body, redacted and shortened.
  std::string GitHubMessage(const Answer& answer) const;
  static bool IsRateLimited(const Answer& answer);
  // How long GitHub asks us to wait, in its documented order of precedence.
  std::chrono::milliseconds RateLimitWait(const Answer& answer, int attempt);
  // Waits are on the monotonic clock: a wall-clock step neither lengthens a
  // rate-limit pause nor ends it early.
  void BlockUntil(MonoTime t);
  // Waits while a rate limit is in force, or fails when it lasts too long.
  Status WaitForRateLimitGate(const Call& call);
  void PaceWrite();
  std::chrono::milliseconds Backoff(int attempt);
  // Tells options_.on_retry that attempt `next` follows after `wait`.
  void ReportRetry(const std::string& failure, std::chrono::milliseconds wait, int next,
                   int attempts) const;
  // "cannot connect to HOST:PORT: REASON" for a connection that failed; the
  // reason comes from one more connect attempt (cpp-httplib keeps no errno).
  std::string ConnectFailure() const;
  void Observe(const Answer& answer);
  void Count(int64_t ClientStats::*counter);

  Result<std::string> AuthorizationFor(const Call& call);
  // The installation token for `repo`, from the cache while it has more
  // than five minutes left, else freshly exchanged.
  Result<std::string> InstallationToken(const std::string& repo);
  Result<int64_t> InstallationIdLocked(const std::string& repo) REQUIRES(auth_mu_);
  void ForgetInstallationToken(const std::string& repo);
  std::string Redact(std::string text) const;

  struct CachedToken {
    std::string token;
    WallTime expires_at;
  };

  const ClientOptions options_;
  const BaseUrl base_;
  Clock& clock_;
  Sleeper& sleeper_;

  Mutex http_mu_;
  httplib::Client http_ GUARDED_BY(http_mu_);  // one request at a time

  mutable Mutex stats_mu_;
  ClientStats stats_ GUARDED_BY(stats_mu_);
  std::optional<MonoTime> blocked_until_ GUARDED_BY(stats_mu_);  // no request before it

  Mutex pace_mu_;
  MonoTime next_write_at_ GUARDED_BY(pace_mu_) = {};  // earliest time of the next write

  Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_);

  Mutex auth_mu_;
  std::map<int64_t, CachedToken> tokens_ GUARDED_BY(auth_mu_);
  std::map<std::string, int64_t> installation_by_repo_ GUARDED_BY(auth_mu_);

  mutable Mutex secrets_mu_;
  std::deque<std::string> secrets_ GUARDED_BY(secrets_mu_);

  int stop_subscription_ = 0;
};

}  // namespace relayq::github
