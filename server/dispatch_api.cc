#include "server/dispatch_api.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "github/sleeper.h"
#include "handlers/action_executor.h"
#include "handlers/action_progress.h"
#include "handlers/policy_holder.h"
#include "policy/policy.h"
#include "server/github_setup.h"

namespace relayq::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxName = 255;

// A GitHub owner or repository name: letters, digits, '-', '_', '.'.
bool IsNameChars(std::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return s != "." && s != "..";
}

// Printable ASCII with no space: refs, workflow names, idempotency keys.
bool IsVisibleAscii(std::string_view s) {
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

bool InList(const std::vector<std::string>& list, std::string_view repo) {
  for (const auto& r : list) {
    if (EqualsIgnoreCase(r, repo)) return true;
  }
  return false;
}

// The first characters of what a client sent, for a message.
std::string Quote(std::string_view s) {
  return "'" + std::string(s.substr(0, 64)) + (s.size() > 64 ? "...'" : "'");
}

// An input's value as the string GitHub receives: strings as they are,
// numbers and booleans as JSON writes them.
Result<std::string> ScalarText(const std::string& key, const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean() || v.is_number()) return v.dump();
  return Status::InvalidArgument("input " + Quote(key) +
                                 " must be a string, a number or a boolean, not " +
                                 std::string(v.type_name()));
}

Result<std::string> StringField(const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return Status::InvalidArgument(std::string("missing field '") + name + "'");
    return std::string();
  }
  if (!it->is_string()) {
    return Status::InvalidArgument(std::string("field '") + name + "' must be a string");
  }
  return it->get<std::string>();
}

}  // namespace

std::string WorkflowFileName(std::string_view workflow) {
  std::string name(policy::WorkflowBasename(workflow));
  auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name.empty() || ends_with(".yml") || ends_with(".yaml")) return name;
  if (name.find_first_not_of("0123456789") == std::string::npos) return name;  // a workflow id
  return name + ".yml";
}

Status CheckDispatchRepository(std::string_view repo, const DispatchRules& rules) {
  const size_t slash = repo.find('/');
  if (!IsOwnerSlashName(repo) || !IsNameChars(repo.substr(0, slash)) ||
      !IsNameChars(repo.substr(slash + 1))) {
    return Status::InvalidArgument("repo " + Quote(repo) + " is not OWNER/NAME");
  }
  const std::string_view owner = repo.substr(0, slash);
  if (!rules.allow.empty()) {
    bool allowed = false;
    for (const auto& a : rules.allow) {
      allowed = allowed || (a.find('/') != std::string::npos ? EqualsIgnoreCase(a, repo)
                                                             : EqualsIgnoreCase(a, owner));
    }
    if (!allowed) {
      return Status::InvalidArgument("repository " + std::string(repo) +
                                     " is not in this relayq's webhook.allow");
    }
  }
  if (!rules.repositories.empty() && !InList(rules.repositories, repo)) {
    return Status::InvalidArgument("repository " + std::string(repo) +
                                   " is not in this relayq's github.repositories");
  }
  return Status::Ok();
}

Result<DispatchSubmission> ParseDispatchSubmission(std::string_view body,
                                                   const DispatchRules& rules) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("the body is not JSON");
  if (!j.is_object()) {
    return Status::InvalidArgument(
        "the body must be a JSON object {\"repo\", \"workflow\", \"ref\", \"inputs\"}");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "repo" && k != "workflow" && k != "ref" && k != "inputs") {
      return Status::InvalidArgument("unknown field " + Quote(k) +
                                     " (the fields are repo, workflow, ref, inputs)");
    }
  }
  DispatchSubmission out;
  RELAYQ_ASSIGN_OR_RETURN(out.repository, StringField(j, "repo", true));
  RELAYQ_RETURN_IF_ERROR(CheckDispatchRepository(out.repository, rules));
  RELAYQ_ASSIGN_OR_RETURN(std::string workflow, StringField(j, "workflow", true));
  out.workflow = WorkflowFileName(workflow);
  if (out.workflow.empty() || out.workflow.size() > kMaxName || !IsVisibleAscii(out.workflow)) {
    return Status::InvalidArgument("workflow " + Quote(workflow) +
                                   " is not a workflow file name (e.g. transcribe_mac.yml)");
  }
  RELAYQ_ASSIGN_OR_RETURN(out.ref, StringField(j, "ref", false));
  if (out.ref.size() > kMaxName || !IsVisibleAscii(out.ref)) {
    return Status::InvalidArgument("ref " + Quote(out.ref) + " is not a branch or tag name");
  }
  auto inputs = j.find("inputs");
  if (inputs != j.end() && !inputs->is_null()) {
    if (!inputs->is_object()) {
      return Status::InvalidArgument("inputs must be an object of names to values");
    }
    if (inputs->size() > kMaxDispatchInputs) {
      return Status::InvalidArgument(
          std::to_string(inputs->size()) + " inputs: GitHub takes at most " +
          std::to_string(kMaxDispatchInputs) + " for a workflow_dispatch");
    }
    for (auto it = inputs->begin(); it != inputs->end(); ++it) {
      const std::string& key = it.key();
      if (key.empty() || key.size() > 100) {
        return Status::InvalidArgument("input name " + Quote(key) +
                                       " must have 1 to 100 characters");
      }
      if (key == "relayq_id") {
        return Status::InvalidArgument("input relayq_id is reserved: relayq sets it itself");
      }
      RELAYQ_ASSIGN_OR_RETURN(out.inputs[key], ScalarText(key, *it));
    }
  }
  return out;
}

namespace {

constexpr auto kLease = std::chrono::seconds(60);

// The one try a submission gets: a few seconds at most, so the answer comes
// well inside the CLI's read timeout (60 s); the executor's later tries use
// the daemon's patient client.
github::ClientOptions BoundedOptions(github::ClientOptions o) {
  o.connect_timeout =
      std::min<std::chrono::milliseconds>(o.connect_timeout, std::chrono::seconds(3));
  o.read_timeout = std::min<std::chrono::milliseconds>(o.read_timeout, std::chrono::seconds(8));
  o.max_attempts = std::min(o.max_attempts, 2);
  o.backoff_max = std::min<std::chrono::milliseconds>(o.backoff_max, std::chrono::seconds(1));
  o.max_rate_limit_wait =
      std::min<std::chrono::milliseconds>(o.max_rate_limit_wait, std::chrono::seconds(2));
  return o;
}

json OptionalTime(const std::optional<int64_t>& ms) {
  return ms ? json(FormatRfc3339(*ms)) : json(nullptr);
}

class DispatchApi final : public DispatchService {
 public:
  DispatchApi(DispatchApiDeps deps, DispatchRules rules)
      : actions_(deps.actions),
        clock_(deps.clock),
        metrics_(deps.metrics),
        wake_(std::move(deps.wake_executor)),
        rules_(std::move(rules)),
        sleeper_(deps.clock),
        no_policy_(std::make_shared<policy::Policy>()),
        owner_("daemon:" + std::to_string(::getpid())) {}

  Status Init(const Config& config) {
    if (!HasGitHubCredentials(config)) return Status::Ok();
    auto options = GitHubClientOptions(config);
    if (!options.ok()) return options.status();
    auto client = github::HttpGitHubClient::Create(BoundedOptions(*options), clock_, sleeper_);
    if (!client.ok()) return client.status();
    github_ = std::move(*client);
    handlers::ExecutorOptions exec;
    exec.owner = owner_;
    exec.lease = kLease;
    exec.github_sleeper = &sleeper_;
    executor_ = std::make_unique<handlers::ActionExecutor>(actions_, *github_, no_policy_, clock_,
                                                           metrics_, exec);
    return Status::Ok();
  }

  void SetAllow(std::vector<std::string> allow) override {
    MutexLock lock(rules_mu_);
    rules_.allow = std::move(allow);
  }

  void Stop() override {
    if (executor_) {
      executor_->Stop();  // stops sleeper_ too
    } else {
      sleeper_.Stop();
    }
  }

  HttpResponse Handle(const HttpRequest& req);

 private:
  // The answer for request `id` as recorded now; `outcome` is this call's
  // try, when there was one.
  HttpResponse Answer(int64_t id, const handlers::ActionOutcome* outcome);

  store::ActionStore& actions_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  std::function<void()> wake_;
  Mutex rules_mu_;
  DispatchRules rules_ GUARDED_BY(rules_mu_);
  github::StoppableSleeper sleeper_;
  handlers::PolicyHolder no_policy_;  // dispatch actions consult no policy
  const std::string owner_;
  std::unique_ptr<github::GitHubClient> github_;  // null: no credentials
  std::unique_ptr<handlers::ActionExecutor> executor_;
};

HttpResponse DispatchApi::Handle(const HttpRequest& req) {
  const std::string_view type = req.Header("Content-Type");
  if (!type.empty() && ToLower(type.substr(0, type.find(';'))) != "application/json") {
    return HttpResponse::Error(415, "send the body as application/json");
  }
  DispatchRules rules;
  {
    MutexLock lock(rules_mu_);
    rules = rules_;
  }
  auto submission = ParseDispatchSubmission(req.body, rules);
  if (!submission.ok()) return HttpResponse::Error(400, submission.status().message());
  const std::string key(req.Header("Idempotency-Key"));
  if (req.HasHeader("Idempotency-Key") &&
      (key.empty() || key.size() > kMaxName || !IsVisibleAscii(key))) {
    return HttpResponse::Error(400, "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  if (!executor_) {
    return HttpResponse::Error(
        503,
        "relayq has no GitHub credentials (GITHUB_TOKEN or a GitHub App): nothing was "
        "recorded, as nothing could send it");
  }

  store::DispatchRequest request;
  request.repository = submission->repository;
  request.workflow = submission->workflow;
  request.ref = submission->ref;
  request.inputs = submission->inputs;
  if (!key.empty()) request.idempotency_key = key;
  const int64_t now = ToUnixMillis(clock_.Now());
  store::Claim claim;
  auto recorded = actions_.CreateDispatch(request, owner_, now,
                                          now + std::chrono::milliseconds(kLease).count(), claim);
  if (!recorded.ok()) {
    Log(LogLevel::kError, "dispatch: the request could not be recorded",
        {{"error", recorded.status().message()}});
    return HttpResponse::Error(503, "store: " + recorded.status().message());
  }
  const int64_t id = recorded->id;
  if (claim.action_id == 0) {
    // A repeat of an earlier submission: its state, never a second send.
    const bool same = EqualsIgnoreCase(recorded->repository, request.repository) &&
                      recorded->workflow == request.workflow &&
                      recorded->inputs == request.inputs &&
                      (request.ref.empty() || recorded->ref == request.ref);
    if (!same) {
      return HttpResponse::Error(409, "Idempotency-Key " + Quote(key) + " was used for request " +
                                          std::to_string(id) + " with other parameters");
    }
    return Answer(id, nullptr);
  }
  Log(LogLevel::kInfo, "dispatch submitted",
      {{"request_id", std::to_string(id)},
       {"repo", request.repository},
       {"workflow", request.workflow},
       {"ref", request.ref.empty() ? "(default branch)" : request.ref}});
  auto action = actions_.GetAction(claim.action_id);
  if (!action.ok() || !*action) {
    // Recorded and claimed: the lease runs out and the executor sends it.
    if (wake_) wake_();
    return Answer(id, nullptr);
  }
  handlers::ActionOutcome outcome = executor_->Execute(**action, claim);
  if (outcome.status != handlers::ExecOutcome::kDone && wake_) wake_();
  return Answer(id, &outcome);
}

HttpResponse DispatchApi::Answer(int64_t id, const handlers::ActionOutcome* outcome) {
  auto request = actions_.GetRequest(id);
  auto action = actions_.GetActionByKey("dispatch:" + std::to_string(id));
  if (!request.ok() || !*request || !action.ok()) {
    // Recorded (the id is real) but not readable now.
    return HttpResponse::Json(
        202, DumpJson(json{{"id", id}, {"status", "queued"}, {"last_error", nullptr}}));
  }
  const store::DispatchRequest& r = **request;
  json body = {{"id", r.id},
               {"repository", r.repository},
               {"workflow", r.workflow},
               {"ref", r.ref.empty() ? json(nullptr) : json(r.ref)},
               {"inputs", r.inputs},
               {"run_id", r.run_id ? json(*r.run_id) : json(nullptr)},
               {"run_url", nullptr},
               {"last_error", nullptr},
               {"last_tried_at", nullptr},
               {"next_try_at", nullptr},
               {"action_id", nullptr}};
  if (*action) {
    const store::ActionRecord& a = **action;
    body["action_id"] = a.id;
    handlers::ActionProgress p;
    try {
      p = handlers::ActionProgress::Parse(a.result);
    } catch (const std::exception&) {
      // A malformed result: no run URL to show.
    }
    if (p.html_url) body["run_url"] = *p.html_url;
    if (!r.run_id && p.run_id) body["run_id"] = *p.run_id;
    if (a.last_error) body["last_error"] = *a.last_error;
    if (a.attempts > 0 || a.last_error) body["last_tried_at"] = FormatRfc3339(a.updated_at);
    if (a.status == store::ActionStatus::kPending || a.status == store::ActionStatus::kScheduled) {
      body["next_try_at"] = OptionalTime(a.next_attempt_at);
    }
  }
  if (r.last_error && body["last_error"].is_null()) body["last_error"] = *r.last_error;
  switch (r.status) {
    case store::RequestStatus::kDispatched:
      body["status"] = "dispatched";
      body["last_error"] = nullptr;
      return HttpResponse::Json(202, DumpJson(body));
    case store::RequestStatus::kFailed: {
      body["status"] = "failed";
      const std::string why = r.last_error.value_or("GitHub refused it");
      const Status::Code code = outcome ? outcome->error.code() : Status::Code::kInvalidArgument;
      int http = 422;
      if (code == Status::Code::kNotFound) {
        body["error"] = "unknown workflow: GitHub has no workflow " + r.workflow + " in " +
                        r.repository + " (or relayq's credentials cannot see it); request " +
                        std::to_string(r.id) + " is recorded as failed: " + why;
      } else if (code == Status::Code::kPermissionDenied) {
        http = 502;
        body["error"] = "GitHub refused relayq's credentials; request " + std::to_string(r.id) +
                        " is recorded as failed: " + why;
      } else {
        body["error"] =
            "GitHub refused request " + std::to_string(r.id) + " (recorded as failed): " + why;
      }
      return HttpResponse::Json(http, DumpJson(body));
    }
    default:
      break;
  }
  if (outcome && outcome->status == handlers::ExecOutcome::kFailed) {
    // Given up without a GitHub refusal (the action failed, the request
    // did not): nothing will send it.
    body["status"] = "failed";
    body["error"] = "request " + std::to_string(r.id) + " failed: " + outcome->message;
    return HttpResponse::Json(502, DumpJson(body));
  }
  body["status"] = "queued";
  return HttpResponse::Json(202, DumpJson(body));
}

}  // namespace

Result<std::unique_ptr<DispatchService>> AddDispatchApi(Router& router, DispatchApiDeps deps) {
  DispatchRules rules{deps.config.allow, deps.config.github_repositories};
  const Config& config = deps.config;
  auto api = std::make_shared<DispatchApi>(std::move(deps), std::move(rules));
  RELAYQ_RETURN_IF_ERROR(api->Init(config));
  Route route;
  route.method = "POST";
  route.pattern = "/api/v1/dispatch";
  route.runs = Route::Runs::kBlocking;  // a store write and one bounded GitHub try
  route.max_body_bytes = kMaxDispatchBodyBytes;
  route.handler = [api](HttpRequest&& req, Respond respond) { respond(api->Handle(req)); };
  router.Add(std::move(route));

  // The service owns the route's state through the same shared pointer.
  class Holder final : public DispatchService {
   public:
    explicit Holder(std::shared_ptr<DispatchApi> api) : api_(std::move(api)) {}
    void Stop() override { api_->Stop(); }
    void SetAllow(std::vector<std::string> allow) override { api_->SetAllow(std::move(allow)); }

   private:
    std::shared_ptr<DispatchApi> api_;
  };
  return std::unique_ptr<DispatchService>(new Holder(api));
}

}  // namespace relayq::server
