#include "github/http_github_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "common/time_format.h"
#include "github/app_jwt.h"
#include "github/http_util.h"

namespace relayq::github {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

// Whose credentials a request carries.
enum class AuthMode {
  kDefault,  // the token, or the installation token for the call's repo
  kAppJwt,   // the App's own JWT (installation discovery and token exchange)
};

struct Call {
  std::string method;
  std::string path;  // below the API prefix, with its query: "/repos/o/r/hooks?per_page=100"
  std::string body;  // JSON; empty for none
  AuthMode auth = AuthMode::kDefault;
  std::string repo;  // "owner/name"; selects the installation under App auth
};

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

bool IsWrite(std::string_view method) { return method != "GET" && method != "HEAD"; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Describes a call for messages: method and path without the query.
std::string Describe(const Call& call) {
  return "GitHub " + call.method + " " + call.path.substr(0, call.path.find('?'));
}

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

// JSON accessors that treat a missing key, null or a value of another type
// as absent, because GitHub sends null for fields that do not apply yet
// (conclusion, runner_name) and nlohmann would throw on them.
std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t Int(const Json& j, const char* key, int64_t fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}
bool Bool(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
int64_t TimeMs(const Json& j, const char* key) {
  std::string text = Str(j, key);
  if (text.empty()) return 0;
  auto t = ParseRfc3339(text);
  return t.ok() ? *t : 0;
}
std::vector<std::string> StrList(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const Json& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
    // Runner labels are objects {"id", "name", "type"}.
    if (v.is_object()) {
      std::string name = Str(v, "name");
      if (!name.empty()) out.push_back(std::move(name));
    }
  }
  return out;
}

WorkflowRun DecodeRun(const Json& j) {
  WorkflowRun r;
  r.id = Int(j, "id");
  r.attempt = Int(j, "run_attempt", 1);
  r.name = Str(j, "name");
  r.display_title = Str(j, "display_title");
  r.path = Str(j, "path");
  r.head_branch = Str(j, "head_branch");
  r.event = Str(j, "event");
  r.status = Str(j, "status");
  r.conclusion = Str(j, "conclusion");
  r.html_url = Str(j, "html_url");
  r.created_at_ms = TimeMs(j, "created_at");
  r.updated_at_ms = TimeMs(j, "updated_at");
  return r;
}

WorkflowJob DecodeJob(const Json& j) {
  WorkflowJob job;
  job.id = Int(j, "id");
  job.run_id = Int(j, "run_id");
  job.attempt = Int(j, "run_attempt", 1);
  job.name = Str(j, "name");
  job.workflow_name = Str(j, "workflow_name");
  job.head_branch = Str(j, "head_branch");
  job.status = Str(j, "status");
  job.conclusion = Str(j, "conclusion");
  job.runner_name = Str(j, "runner_name");
  job.labels = StrList(j, "labels");
  job.created_at_ms = TimeMs(j, "created_at");
  job.started_at_ms = TimeMs(j, "started_at");
  job.completed_at_ms = TimeMs(j, "completed_at");
  return job;
}

Runner DecodeRunner(const Json& j) {
  Runner r;
  r.id = Int(j, "id");
  r.name = Str(j, "name");
  r.os = Str(j, "os");
  r.status = Str(j, "status");
  r.busy = Bool(j, "busy");
  r.labels = StrList(j, "labels");
  return r;
}

Hook DecodeHook(const Json& j) {
  Hook h;
  h.id = Int(j, "id");
  h.active = Bool(j, "active");
  h.events = StrList(j, "events");
  auto config = j.find("config");
  if (config != j.end() && config->is_object()) {
    h.url = Str(*config, "url");
    h.content_type = Str(*config, "content_type");
    h.has_secret = !Str(*config, "secret").empty();
  }
  return h;
}

HookDelivery DecodeDelivery(const Json& j) {
  HookDelivery d;
  d.id = Int(j, "id");
  d.guid = Str(j, "guid");
  d.delivered_at_ms = TimeMs(j, "delivered_at");
  d.redelivery = Bool(j, "redelivery");
  d.status_code = static_cast<int>(Int(j, "status_code"));
  d.status = Str(j, "status");
  d.event = Str(j, "event");
  d.action = Str(j, "action");
  return d;
}

Json HookBody(const HookSpec& spec, bool with_name) {
  Json body = {{"active", spec.active},
               {"events", spec.events},
               {"config",
                {{"url", spec.url},
                 {"content_type", spec.content_type},
                 {"secret", spec.secret},
                 {"insecure_ssl", "0"}}}};
  if (with_name) body["name"] = "web";
  return body;
}

class HttpGitHubClientImpl final : public GitHubClient {
 public:
  HttpGitHubClientImpl(ClientOptions options, BaseUrl base, Clock& clock, Sleeper& sleeper)
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
    stop_subscription_ = sleeper_.Subscribe([this] { http_.stop(); });
  }

  ~HttpGitHubClientImpl() override { sleeper_.Unsubscribe(stop_subscription_); }

  Result<DispatchResult> DispatchWorkflow(std::string_view repo, std::string_view workflow,
                                          std::string_view ref,
                                          const std::map<std::string, std::string>& inputs,
                                          bool return_run_details) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    if (workflow.empty() || ref.empty()) {
      return Status::InvalidArgument("dispatch needs a workflow and a ref");
    }
    Json body = {{"ref", ref}, {"inputs", Json::object()}};
    for (const auto& [k, v] : inputs) body["inputs"][k] = v;
    if (return_run_details) body["return_run_details"] = true;
    Call call{"POST", base + "/actions/workflows/" + PercentEncode(workflow) + "/dispatches",
              body.dump(), AuthMode::kDefault, std::string(repo)};

    DispatchResult result;
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, Send(call, /*idempotent=*/false));
    if (return_run_details && (answer.status == 400 || answer.status == 422)) {
      // Older GHES reject the unknown field; nothing was dispatched, so
      // sending once more without it cannot start the workflow twice.
      body.erase("return_run_details");
      call.body = body.dump();
      result.run_details_unsupported = true;
      RELAYQ_ASSIGN_OR_RETURN(answer, Send(call, /*idempotent=*/false));
    }
    if (!answer.ok()) return ErrorFor(call, answer);
    if (answer.status == 204 || answer.body.empty()) return result;
    RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
    if (!j.is_object()) return result;
    int64_t id = Int(j, "workflow_run_id", Int(j, "id"));
    if (id > 0) result.run_id = id;
    if (std::string u = Str(j, "run_url"); !u.empty()) result.run_url = u;
    if (std::string u = Str(j, "html_url"); !u.empty()) result.html_url = u;
    return result;
  }

  Status CancelRun(std::string_view repo, int64_t run_id) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"POST", base + "/actions/runs/" + std::to_string(run_id) + "/cancel", "",
              AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, Send(call, /*idempotent=*/false));
    if (answer.status == 409) {
      return Status::Conflict("run " + std::to_string(run_id) +
                              " is not cancellable (already completed, or past the point it "
                              "can be stopped): " +
                              ErrorFor(call, answer).message());
    }
    if (!answer.ok()) return ErrorFor(call, answer);
    return Status::Ok();
  }

  Result<WorkflowRun> GetRun(std::string_view repo, int64_t run_id) override {
    RELAYQ_ASSIGN_OR_RETURN(Json j, GetObject(repo, "/actions/runs/" + std::to_string(run_id)));
    return DecodeRun(j);
  }

  Result<WorkflowJob> GetJob(std::string_view repo, int64_t job_id) override {
    RELAYQ_ASSIGN_OR_RETURN(Json j, GetObject(repo, "/actions/jobs/" + std::to_string(job_id)));
    return DecodeJob(j);
  }

  Result<std::vector<WorkflowRun>> ListRunsWithStatus(std::string_view repo,
                                                      std::string_view status) override {
    RELAYQ_ASSIGN_OR_RETURN(
        std::vector<Json> items,
        GetAllPages(repo, "/actions/runs?status=" + PercentEncode(status) + "&per_page=100",
                    "workflow_runs"));
    std::vector<WorkflowRun> out;
    for (const Json& j : items) out.push_back(DecodeRun(j));
    return out;
  }

  Result<std::vector<Runner>> ListRunners(std::string_view repo) override {
    RELAYQ_ASSIGN_OR_RETURN(std::vector<Json> items,
                            GetAllPages(repo, "/actions/runners?per_page=100", "runners"));
    std::vector<Runner> out;
    for (const Json& j : items) out.push_back(DecodeRunner(j));
    return out;
  }

  Result<std::vector<Hook>> ListHooks(std::string_view repo) override {
    RELAYQ_ASSIGN_OR_RETURN(std::vector<Json> items,
                            GetAllPages(repo, "/hooks?per_page=100", nullptr));
    std::vector<Hook> out;
    for (const Json& j : items) out.push_back(DecodeHook(j));
    return out;
  }

  Result<Hook> CreateHook(std::string_view repo, const HookSpec& spec) override {
    return WriteHook(repo, "POST", "/hooks", spec, /*with_name=*/true);
  }

  Result<Hook> UpdateHook(std::string_view repo, int64_t hook_id, const HookSpec& spec) override {
    return WriteHook(repo, "PATCH", "/hooks/" + std::to_string(hook_id), spec, false);
  }

  Result<DeliveryPage> ListHookDeliveries(std::string_view repo, int64_t hook_id, int per_page,
                                          std::string_view cursor) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    per_page = std::clamp(per_page, 1, 100);
    std::string path = base + "/hooks/" + std::to_string(hook_id) +
                       "/deliveries?per_page=" + std::to_string(per_page);
    if (!cursor.empty()) path += "&cursor=" + PercentEncode(cursor);
    Call call{"GET", path, "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
    if (!j.is_array()) return NotShaped(call, "an array");
    DeliveryPage page;
    for (const Json& d : j) {
      if (d.is_object()) page.deliveries.push_back(DecodeDelivery(d));
    }
    if (auto next = NextLink(answer.Header("Link"))) {
      if (auto c = QueryParam(*next, "cursor"); c && !c->empty()) page.next_cursor = *c;
    }
    return page;
  }

  Status RedeliverHookDelivery(std::string_view repo, int64_t hook_id,
                               int64_t delivery_id) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"POST",
              base + "/hooks/" + std::to_string(hook_id) + "/deliveries/" +
                  std::to_string(delivery_id) + "/attempts",
              "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
    (void)answer;
    return Status::Ok();
  }

  ClientStats Stats() const override {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  static Result<std::string> RepoPath(std::string_view repo) {
    RELAYQ_ASSIGN_OR_RETURN(auto parts, SplitRepo(repo));
    return "/repos/" + PercentEncode(parts.first) + "/" + PercentEncode(parts.second);
  }

  Result<Json> GetObject(std::string_view repo, const std::string& sub_path) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"GET", base + sub_path, "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
    if (!j.is_object()) return NotShaped(call, "an object");
    return j;
  }

  Result<Hook> WriteHook(std::string_view repo, const char* method, const std::string& sub_path,
                         const HookSpec& spec, bool with_name) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    if (!spec.secret.empty()) RememberSecret(spec.secret);
    Call call{method, base + sub_path, HookBody(spec, with_name).dump(), AuthMode::kDefault,
              std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
    if (!j.is_object()) return NotShaped(call, "an object");
    return DecodeHook(j);
  }

  // Follows rel="next" links from `sub_path` (below the repository) and
  // collects the elements of `items_key` (or of the top-level array).
  Result<std::vector<Json>> GetAllPages(std::string_view repo, const std::string& sub_path,
                                        const char* items_key) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    std::vector<Json> out;
    std::string path = base + sub_path;
    for (int page = 0; page < std::max(1, options_.max_pages); ++page) {
      Call call{"GET", path, "", AuthMode::kDefault, std::string(repo)};
      RELAYQ_ASSIGN_OR_RETURN(Answer answer, SendOk(call));
      RELAYQ_ASSIGN_OR_RETURN(Json j, ParseJson(call, answer));
      const Json* items = &j;
      if (items_key != nullptr) {
        auto it = j.is_object() ? j.find(items_key) : j.end();
        if (it == j.end())
          return NotShaped(call, std::string("an object with \"") + items_key + "\"");
        items = &*it;
      }
      if (!items->is_array()) return NotShaped(call, "a list");
      for (const Json& item : *items) {
        if (item.is_object()) out.push_back(item);
      }
      auto next = NextLink(answer.Header("Link"));
      if (!next) break;
      // Only the path is taken from the link, so the credentials never go
      // to a host other than the configured one.
      std::string next_path = PathAndQuery(*next);
      if (!base_.path_prefix.empty()) {
        if (!next_path.starts_with(base_.path_prefix + "/")) {
          return Status::Unavailable(Describe(call) + ": next-page link outside the API base");
        }
        next_path.erase(0, base_.path_prefix.size());
      }
      path = std::move(next_path);
    }
    return out;
  }

  Result<Json> ParseJson(const Call& call, const Answer& answer) const {
    Json j = Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return Status::Unavailable(Describe(call) + ": HTTP " + std::to_string(answer.status) +
                                 " answer is not valid JSON");
    }
    return j;
  }

  static Status NotShaped(const Call& call, const std::string& expected) {
    return Status::Unavailable(Describe(call) + ": answer is not " + expected +
                               " as GitHub documents");
  }

  // GitHub's own explanation from an error body, redacted and shortened.
  std::string GitHubMessage(const Answer& answer) const {
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
  Status ErrorFor(const Call& call, const Answer& answer) const {
    std::string msg =
        Describe(call) + ": HTTP " + std::to_string(answer.status) + GitHubMessage(answer);
    switch (answer.status) {
      case 400:
      case 422:
        return Status::InvalidArgument(msg + " (not retried: GitHub rejected the request itself)");
      case 401:
        return Status::PermissionDenied(msg + " (not retried: the credentials were refused)");
      case 403:
        return Status::PermissionDenied(msg +
                                        " (not retried: the credentials lack the permission)");
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

  Result<Answer> SendOk(const Call& call) {
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, Send(call));
    if (!answer.ok()) return ErrorFor(call, answer);
    return answer;
  }

  static Status Stopping(const Call& call) {
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
  Result<Answer> Send(const Call& call, bool idempotent = true) {
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
        std::lock_guard lock(http_mu_);
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
        last_msg = Describe(call) + ": network error: " + httplib::to_string(error);
        if (!idempotent && error != httplib::Error::Connection) {
          return Status::OutcomeUnknown(last_msg +
                                        " (sent once, not resent: GitHub may have acted)");
        }
        if (sleeper_.Stopping()) return Stopping(call);
        if (attempt < attempts) sleeper_.SleepFor(Backoff(attempt));
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
        if (attempt < attempts) BlockUntil(clock_.Monotonic() + wait);
        continue;
      }
      if (answer->status >= 500) {
        last_code = Status::Code::kUnavailable;
        last_msg =
            Describe(call) + ": HTTP " + std::to_string(answer->status) + GitHubMessage(*answer);
        if (!idempotent) {
          return Status::OutcomeUnknown(last_msg +
                                        " (sent once, not resent: GitHub may have acted)");
        }
        if (attempt < attempts) {
          auto retry_after = ParseRetryAfter(answer->Header("Retry-After"));
          sleeper_.SleepFor(retry_after ? milliseconds(*retry_after) : Backoff(attempt));
        }
        continue;
      }
      return std::move(*answer);
    }
    return MakeStatus(last_code,
                      last_msg + " (gave up after " + std::to_string(attempts) + " attempts)");
  }

  static bool IsRateLimited(const Answer& answer) {
    if (answer.status == 429) return true;
    if (answer.status != 403) return false;
    if (answer.Header("x-ratelimit-remaining") == "0") return true;
    if (!answer.Header("Retry-After").empty()) return true;
    return Lower(answer.body).find("rate limit") != std::string::npos;
  }

  // How long GitHub asks us to wait, in its documented order of precedence.
  milliseconds RateLimitWait(const Answer& answer, int attempt) {
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
  void BlockUntil(MonoTime t) {
    std::lock_guard lock(stats_mu_);
    if (!blocked_until_ || *blocked_until_ < t) blocked_until_ = t;
  }

  // Waits while a rate limit is in force, or fails when it lasts too long.
  Status WaitForRateLimitGate(const Call& call) {
    milliseconds wait{0};
    {
      std::lock_guard lock(stats_mu_);
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

  void PaceWrite() {
    if (options_.write_interval <= milliseconds(0)) return;
    milliseconds wait{0};
    {
      std::lock_guard lock(pace_mu_);
      MonoTime now = clock_.Monotonic();
      MonoTime slot = std::max(now, next_write_at_);
      wait = std::chrono::duration_cast<milliseconds>(slot - now);
      next_write_at_ = slot + options_.write_interval;
    }
    sleeper_.SleepFor(wait);
  }

  milliseconds Backoff(int attempt) {
    double cap = static_cast<double>(options_.backoff_base.count());
    for (int i = 1; i < attempt && cap < options_.backoff_max.count(); ++i) cap *= 2;
    cap = std::min(cap, static_cast<double>(options_.backoff_max.count()));
    double r;
    if (options_.random) {
      r = std::clamp(options_.random(), 0.0, 1.0);
    } else {
      std::lock_guard lock(rng_mu_);
      r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    return milliseconds(static_cast<int64_t>(cap * r));
  }

  void Observe(const Answer& answer) {
    std::lock_guard lock(stats_mu_);
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

  void Count(int64_t ClientStats::*counter) {
    std::lock_guard lock(stats_mu_);
    ++(stats_.*counter);
  }

  // --- credentials ---

  Result<std::string> AuthorizationFor(const Call& call) {
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
  Result<std::string> InstallationToken(const std::string& repo) {
    // Held across the exchange so concurrent callers share one exchange; the
    // exchange itself authenticates with a JWT and never re-enters here.
    std::lock_guard lock(auth_mu_);
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

  // Requires auth_mu_.
  Result<int64_t> InstallationIdLocked(const std::string& repo) {
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

  void ForgetInstallationToken(const std::string& repo) {
    std::lock_guard lock(auth_mu_);
    if (options_.app->installation_id) {
      tokens_.erase(*options_.app->installation_id);
    } else if (auto it = installation_by_repo_.find(repo); it != installation_by_repo_.end()) {
      tokens_.erase(it->second);
    }
  }

  // Remembers a credential so it can be scrubbed from any message built from
  // GitHub's answers (defence in depth: GitHub does not echo tokens).
  void RememberSecret(const std::string& secret) {
    if (secret.size() < 4) return;
    std::lock_guard lock(secrets_mu_);
    if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
    secrets_.push_back(secret);
    while (secrets_.size() > 32) secrets_.pop_front();
  }

  std::string Redact(std::string text) const {
    std::lock_guard lock(secrets_mu_);
    for (const std::string& s : secrets_) {
      for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos)) {
        text.replace(pos, s.size(), "[redacted]");
      }
    }
    return text;
  }

  struct CachedToken {
    std::string token;
    WallTime expires_at;
  };

  const ClientOptions options_;
  const BaseUrl base_;
  Clock& clock_;
  Sleeper& sleeper_;

  std::mutex http_mu_;
  httplib::Client http_;  // guarded by http_mu_: one request at a time

  mutable std::mutex stats_mu_;
  ClientStats stats_;                      // guarded by stats_mu_
  std::optional<MonoTime> blocked_until_;  // guarded by stats_mu_: no request before it

  std::mutex pace_mu_;
  MonoTime next_write_at_{};  // guarded by pace_mu_: earliest time of the next write

  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // guarded by rng_mu_

  std::mutex auth_mu_;
  std::map<int64_t, CachedToken> tokens_;                // guarded by auth_mu_
  std::map<std::string, int64_t> installation_by_repo_;  // guarded by auth_mu_

  mutable std::mutex secrets_mu_;
  std::deque<std::string> secrets_;  // guarded by secrets_mu_

  int stop_subscription_ = 0;
};

}  // namespace

Result<std::unique_ptr<GitHubClient>> HttpGitHubClient::Create(const ClientOptions& options,
                                                               Clock& clock, Sleeper& sleeper) {
  RELAYQ_ASSIGN_OR_RETURN(BaseUrl base, ParseBaseUrl(options.api_url));
  const bool has_token = !options.token.empty();
  const bool has_app = options.app.has_value();
  if (has_token == has_app) {
    return Status::InvalidArgument(
        "GitHub credentials: set exactly one of a token and a GitHub App");
  }
  if (has_app) {
    if (options.app->app_id.empty()) return Status::InvalidArgument("GitHub App id is empty");
    RELAYQ_RETURN_IF_ERROR(ValidateAppPrivateKey(options.app->private_key_pem));
  }
  if (options.max_attempts < 1) return Status::InvalidArgument("max_attempts must be at least 1");
  if (options.user_agent.empty()) return Status::InvalidArgument("user_agent must not be empty");
  if (base.scheme == "https") {
    std::ifstream ca(options.ca_bundle_path);
    if (!ca.good()) {
      return Status::InvalidArgument("CA bundle " + options.ca_bundle_path +
                                     " cannot be read; it is needed to verify GitHub's "
                                     "certificate (install ca-certificates)");
    }
  }
  return std::unique_ptr<GitHubClient>(
      std::make_unique<HttpGitHubClientImpl>(options, std::move(base), clock, sleeper));
}

}  // namespace relayq::github
