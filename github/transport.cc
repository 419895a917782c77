#include "github/transport.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/connect_probe.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "github/app_jwt.h"
#include "github/json_fields.h"

namespace relayq::github {
namespace {

using std::chrono::milliseconds;

bool IsWrite(std::string_view method) { return method != "GET" && method != "HEAD"; }

Status MakeStatus(Status::Code code, std::string msg) {
  switch (code) {
    case Status::Code::kRateLimited:
      return Status::RateLimited(std::move(msg));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(msg));
    case Status::Code::kPermissionDenied:
      return Status::PermissionDenied(std::move(msg));
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

}  // namespace

// Describes a call for messages: method and path without the query.
std::string Describe(const Call& call) {
  return "GitHub " + call.method + " " + call.path.substr(0, call.path.find('?'));
}

Result<std::string> RepoPath(std::string_view repo) {
  RELAYQ_ASSIGN_OR_RETURN(auto parts, SplitRepo(repo));
  return "/repos/" + PercentEncode(parts.first) + "/" + PercentEncode(parts.second);
}

Transport::Transport(ClientOptions options, BaseUrl base, Clock& clock, Sleeper& sleeper)
    : options_(std::move(options)),
      base_(std::move(base)),
      clock_(clock),
      sleeper_(sleeper),
      http_(base_.SchemeHostPort()),
      rng_(std::random_device{}()) {
  http_.set_connection_timeout(options_.connect_timeout);
  http_.set_read_timeout(options_.read_timeout);
  http_.set_write_timeout(options_.read_timeout);
  http_.set_keep_alive(true);
  http_.set_tcp_nodelay(true);
  http_.set_follow_location(false);
  // Paths and queries are percent-encoded here, segment by segment.
  http_.set_url_encode(false);
  if (base_.scheme == "https") {
    http_.set_ca_cert_path(options_.ca_bundle_path);
    http_.enable_server_certificate_verification(true);
  }
  if (!options_.token.empty()) RememberSecret(options_.token);
  // A stopping daemon abandons the request in flight instead of waiting for
  // its read timeout.
  // httplib::Client::stop is the one call made without http_mu_: it aborts
  // the request that holds it.
  stop_subscription_ = sleeper_.Subscribe([this]() NO_THREAD_SAFETY_ANALYSIS { http_.stop(); });
}

Transport::~Transport() { sleeper_.Unsubscribe(stop_subscription_); }

ClientStats Transport::Stats() const {
  MutexLock lock(stats_mu_);
  return stats_;
}

Result<Json> Transport::ParseJson(const Call& call, const Answer& answer) const {
  Json j = Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Unavailable(Describe(call) + ": HTTP " + std::to_string(answer.status) +
                               " answer is not valid JSON");
  }
  return j;
}

Status Transport::NotShaped(const Call& call, const std::string& expected) {
  return Status::Unavailable(Describe(call) + ": answer is not " + expected +
                             " as GitHub documents");
}

// GitHub's own explanation from an error body, redacted and shortened.
std::string Transport::GitHubMessage(const Answer& answer) const {
  Json j = Json::parse(answer.body, nullptr, false);
  std::string msg;
  if (j.is_object()) {
    msg = Str(j, "message");
    auto errors = j.find("errors");
    if (errors != j.end() && errors->is_array()) {
      for (const Json& e : *errors) {
        std::string part =
            e.is_string() ? e.get<std::string>() : (e.is_object() ? Str(e, "message") : "");
        if (!part.empty()) msg += (msg.empty() ? "" : "; ") + part;
      }
    }
  }
  if (msg.empty()) return "";
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (msg.size() > 300) msg = msg.substr(0, 300) + "...";
  return ": " + Redact(std::move(msg));
}

// Maps a final non-2xx answer to the named Status of the error policy.
Status Transport::ErrorFor(const Call& call, const Answer& answer) const {
  std::string msg =
      Describe(call) + ": HTTP " + std::to_string(answer.status) + GitHubMessage(answer);
  switch (answer.status) {
    case 400:
    case 422:
      return Status::InvalidArgument(msg + " (not retried: GitHub rejected the request itself)");
    case 401:
      return Status::PermissionDenied(msg + " (not retried: the credentials were refused)");
    case 403:
      return Status::PermissionDenied(msg + " (not retried: the credentials lack the permission)");
    case 404:
    case 410:
      return Status::NotFound(
          msg + " (not retried: it does not exist, or the credentials cannot see it)");
    case 409:
      return Status::Conflict(msg);
    default:
      break;
  }
  if (answer.status >= 400 && answer.status < 500) {
    return Status::InvalidArgument(msg + " (not retried)");
  }
  if (answer.status == 429) return Status::RateLimited(msg);
  return Status::Unavailable(msg + " (unexpected answer)");
}

Result<Answer> Transport::SendOk(const Call& call) {
  RELAYQ_ASSIGN_OR_RETURN(Answer answer, Send(call));
  if (!answer.ok()) return ErrorFor(call, answer);
  return answer;
}

Status Transport::Stopping(const Call& call) {
  return Status::Unavailable(Describe(call) + ": not sent: relayq is stopping");
}

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
Result<Answer> Transport::Send(const Call& call, bool idempotent) {
  const int attempts = idempotent ? std::max(1, options_.max_attempts) : 1;
  Status::Code last_code = Status::Code::kUnavailable;
  std::string last_msg = Describe(call) + ": not attempted";
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) Count(&ClientStats::retries);
    if (sleeper_.Stopping()) return Stopping(call);
    RELAYQ_RETURN_IF_ERROR(WaitForRateLimitGate(call));
    if (IsWrite(call.method)) PaceWrite();
    if (sleeper_.Stopping()) return Stopping(call);

    RELAYQ_ASSIGN_OR_RETURN(std::string authorization, AuthorizationFor(call));
    httplib::Request req;
    req.method = call.method;
    req.path = base_.path_prefix + call.path;
    req.headers = {{"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"},
                   {"User-Agent", options_.user_agent},
                   {"Authorization", std::move(authorization)}};
    if (!call.body.empty()) {
      req.headers.emplace("Content-Type", "application/json");
      req.body = call.body;
    }

    std::optional<Answer> answer;
    httplib::Error error = httplib::Error::Success;
    {
      MutexLock lock(http_mu_);
      httplib::Result res = http_.send(req);
      if (res) {
        answer = Answer{res->status, std::move(res->body), std::move(res->headers)};
      } else {
        error = res.error();
      }
    }

    if (!answer) {
      Count(&ClientStats::network_errors);
      last_code = Status::Code::kUnavailable;
      const std::string where = base_.host + ":" + std::to_string(base_.port);
      last_msg = Describe(call) + ": network error: " +
                 (error == httplib::Error::Connection
                      ? ConnectFailure()
                      : "talking to " + where + ": " + httplib::to_string(error));
      if (!idempotent && error != httplib::Error::Connection) {
        return Status::OutcomeUnknown(last_msg + " (sent once, not resent: GitHub may have acted)");
      }
      if (sleeper_.Stopping()) return Stopping(call);
      if (attempt < attempts) {
        milliseconds wait = Backoff(attempt);
        ReportRetry(last_msg, wait, attempt + 1, attempts);
        sleeper_.SleepFor(wait);
      }
      continue;
    }
    Observe(*answer);
    if (answer->ok()) return std::move(*answer);

    if (answer->status == 401 && call.auth == AuthMode::kDefault && options_.token.empty()) {
      // The installation token may have been revoked early; the next call
      // fetches a fresh one. This call is not retried (401 is final).
      ForgetInstallationToken(call.repo);
    }

    if (IsRateLimited(*answer)) {
      milliseconds wait = RateLimitWait(*answer, attempt);
      last_code = Status::Code::kRateLimited;
      last_msg = Describe(call) + ": HTTP " + std::to_string(answer->status) + " rate limited" +
                 GitHubMessage(*answer);
      if (wait > options_.max_rate_limit_wait || !idempotent) {
        BlockUntil(clock_.Monotonic() + wait);
        return Status::RateLimited(last_msg + " (next request allowed in " +
                                   std::to_string(wait.count() / 1000) + " s; not waiting)");
      }
      if (attempt < attempts) {
        ReportRetry(last_msg, wait, attempt + 1, attempts);
        BlockUntil(clock_.Monotonic() + wait);
      }
      continue;
    }
    if (answer->status >= 500) {
      last_code = Status::Code::kUnavailable;
      last_msg =
          Describe(call) + ": HTTP " + std::to_string(answer->status) + GitHubMessage(*answer);
      if (!idempotent) {
        return Status::OutcomeUnknown(last_msg + " (sent once, not resent: GitHub may have acted)");
      }
      if (attempt < attempts) {
        auto retry_after = ParseRetryAfter(answer->Header("Retry-After"));
        milliseconds wait = retry_after ? milliseconds(*retry_after) : Backoff(attempt);
        ReportRetry(last_msg, wait, attempt + 1, attempts);
        sleeper_.SleepFor(wait);
      }
      continue;
    }
    return std::move(*answer);
  }
  return MakeStatus(last_code,
                    last_msg + " (gave up after " + std::to_string(attempts) + " attempts)");
}

bool Transport::IsRateLimited(const Answer& answer) {
  if (answer.status == 429) return true;
  if (answer.status != 403) return false;
  if (answer.Header("x-ratelimit-remaining") == "0") return true;
  if (!answer.Header("Retry-After").empty()) return true;
  return ToLower(answer.body).find("rate limit") != std::string::npos;
}

// How long GitHub asks us to wait, in its documented order of precedence.
milliseconds Transport::RateLimitWait(const Answer& answer, int attempt) {
  if (auto retry_after = ParseRetryAfter(answer.Header("Retry-After"))) {
    return std::max(milliseconds(*retry_after), milliseconds(0));
  }
  if (answer.Header("x-ratelimit-remaining") == "0") {
    if (auto reset = ParseInt64(answer.Header("x-ratelimit-reset"))) {
      milliseconds wait = milliseconds(*reset * 1000 - ToUnixMillis(clock_.Now()));
      if (wait > milliseconds(0)) return wait;
      return Backoff(attempt);
    }
  }
  return std::max(options_.secondary_rate_limit_wait, Backoff(attempt));
}

// Waits are on the monotonic clock: a wall-clock step neither lengthens a
// rate-limit pause nor ends it early.
void Transport::BlockUntil(MonoTime t) {
  MutexLock lock(stats_mu_);
  if (!blocked_until_ || *blocked_until_ < t) blocked_until_ = t;
}

// Waits while a rate limit is in force, or fails when it lasts too long.
Status Transport::WaitForRateLimitGate(const Call& call) {
  milliseconds wait{0};
  {
    MutexLock lock(stats_mu_);
    if (blocked_until_) {
      wait = std::chrono::duration_cast<milliseconds>(*blocked_until_ - clock_.Monotonic());
      if (wait <= milliseconds(0)) blocked_until_.reset();
    }
  }
  if (wait <= milliseconds(0)) return Status::Ok();
  if (wait > options_.max_rate_limit_wait) {
    return Status::RateLimited(Describe(call) + ": GitHub rate limit in force for " +
                               std::to_string(wait.count() / 1000) + " s more; not waiting");
  }
  Count(&ClientStats::rate_limit_waits);
  sleeper_.SleepFor(wait);
  return Status::Ok();
}

void Transport::PaceWrite() {
  if (options_.write_interval <= milliseconds(0)) return;
  milliseconds wait{0};
  {
    MutexLock lock(pace_mu_);
    MonoTime now = clock_.Monotonic();
    MonoTime slot = std::max(now, next_write_at_);
    wait = std::chrono::duration_cast<milliseconds>(slot - now);
    next_write_at_ = slot + options_.write_interval;
  }
  sleeper_.SleepFor(wait);
}

milliseconds Transport::Backoff(int attempt) {
  double cap = static_cast<double>(options_.backoff_base.count());
  for (int i = 1; i < attempt && cap < options_.backoff_max.count(); ++i) cap *= 2;
  cap = std::min(cap, static_cast<double>(options_.backoff_max.count()));
  double r;
  if (options_.random) {
    r = std::clamp(options_.random(), 0.0, 1.0);
  } else {
    MutexLock lock(rng_mu_);
    r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return milliseconds(static_cast<int64_t>(cap * r));
}

void Transport::ReportRetry(const std::string& failure, milliseconds wait, int next,
                            int attempts) const {
  if (!options_.on_retry) return;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, wait < milliseconds(10000) ? "%.1f" : "%.0f",
                static_cast<double>(wait.count()) / 1000.0);
  options_.on_retry(Redact(failure) + "; retrying in " + seconds + "s (attempt " +
                    std::to_string(next) + " of " + std::to_string(attempts) + ")");
}

std::string Transport::ConnectFailure() const {
  std::string where = base_.host + ":" + std::to_string(base_.port);
  return "cannot connect to " + where + ": " +
         WhyConnectFails(base_.host, base_.port,
                         std::min(options_.connect_timeout, milliseconds(2000)));
}

void Transport::Observe(const Answer& answer) {
  MutexLock lock(stats_mu_);
  stats_.responses_by_status[answer.status]++;
  auto remaining = ParseInt64(answer.Header("x-ratelimit-remaining"));
  auto reset = ParseInt64(answer.Header("x-ratelimit-reset"));
  if (remaining) stats_.rate_limit_remaining = remaining;
  if (reset) stats_.rate_limit_reset_unix = reset;
  // A successful answer that used the last request of the window means the
  // next one would fail: hold every caller until the window resets.
  if (answer.ok() && remaining && *remaining == 0 && reset) {
    MonoTime t = clock_.Monotonic() + milliseconds(*reset * 1000 - ToUnixMillis(clock_.Now()));
    if (!blocked_until_ || *blocked_until_ < t) blocked_until_ = t;
  }
}

void Transport::Count(int64_t ClientStats::*counter) {
  MutexLock lock(stats_mu_);
  ++(stats_.*counter);
}

Result<std::string> Transport::AuthorizationFor(const Call& call) {
  if (call.auth == AuthMode::kAppJwt) {
    RELAYQ_ASSIGN_OR_RETURN(
        std::string jwt,
        MakeAppJwt(options_.app->app_id, options_.app->private_key_pem, clock_.Now()));
    RememberSecret(jwt);
    return "Bearer " + jwt;
  }
  if (!options_.token.empty()) return "Bearer " + options_.token;
  RELAYQ_ASSIGN_OR_RETURN(std::string token, InstallationToken(call.repo));
  return "Bearer " + token;
}

// The installation token for `repo`, from the cache while it has more
// than five minutes left, else freshly exchanged.
Result<std::string> Transport::InstallationToken(const std::string& repo) {
  // Held across the exchange so concurrent callers share one exchange; the
  // exchange itself authenticates with a JWT and never re-enters here.
  MutexLock lock(auth_mu_);
  RELAYQ_ASSIGN_OR_RETURN(int64_t installation, InstallationIdLocked(repo));
  auto it = tokens_.find(installation);
  if (it != tokens_.end() && clock_.Now() < it->second.expires_at - std::chrono::minutes(5)) {
    return it->second.token;
  }
  Call call{"POST", "/app/installations/" + std::to_string(installation) + "/access_tokens", "",
            AuthMode::kAppJwt, repo};
  RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
  RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
  std::string token = j.is_object() ? Str(j, "token") : "";
  if (token.empty()) return NotShaped(call, "an installation token");
  RememberSecret(token);
  WallTime expires_at = clock_.Now() + std::chrono::minutes(10);
  if (int64_t ms = TimeMs(j, "expires_at"); ms > 0) expires_at = FromUnixMillis(ms);
  tokens_[installation] = CachedToken{token, expires_at};
  Count(&ClientStats::token_exchanges);
  return token;
}

Result<int64_t> Transport::InstallationIdLocked(const std::string& repo) {
  if (options_.app->installation_id) return *options_.app->installation_id;
  auto it = installation_by_repo_.find(repo);
  if (it != installation_by_repo_.end()) return it->second;
  RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
  Call call{"GET", base + "/installation", "", AuthMode::kAppJwt, repo};
  RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
  RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
  int64_t id = j.is_object() ? Int(j, "id") : 0;
  if (id <= 0) return NotShaped(call, "an installation");
  installation_by_repo_[repo] = id;
  return id;
}

void Transport::ForgetInstallationToken(const std::string& repo) {
  MutexLock lock(auth_mu_);
  if (options_.app->installation_id) {
    tokens_.erase(*options_.app->installation_id);
  } else if (auto it = installation_by_repo_.find(repo); it != installation_by_repo_.end()) {
    tokens_.erase(it->second);
  }
}

// Remembers a credential so it can be scrubbed from any message built from
// GitHub's answers (defence in depth: GitHub does not echo tokens).
void Transport::RememberSecret(const std::string& secret) {
  if (secret.size() < 4) return;
  MutexLock lock(secrets_mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(secret);
  while (secrets_.size() > 32) secrets_.pop_front();
}

std::string Transport::Redact(std::string text) const {
  MutexLock lock(secrets_mu_);
  for (const std::string& s : secrets_) {
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos)) {
      text.replace(pos, s.size(), "[redacted]");
    }
  }
  return text;
}

}  // namespace relayq::github
