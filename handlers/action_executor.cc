#include "handlers/action_executor.h"

#include <nlohmann/json.hpp>

#include "handlers/views.h"
#include "store/lifecycle.h"

namespace relayq::handlers {

using nlohmann::json;

struct ActionExecutor::Progress {
  json j = json::object();
  // True when this very Execute() call recorded the dispatching stage, so no
  // earlier send can exist (never persisted).
  bool began_now = false;

  std::string stage() const { return j.value("stage", std::string()); }
  std::string Dump() const { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
};

namespace {

json ParseObject(const std::optional<std::string>& text) {
  if (!text) return json::object();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

std::map<std::string, std::string> StringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  }
  return out;
}

bool Transient(const Status& s) {
  switch (s.code()) {
    case Status::Code::kUnavailable:
    case Status::Code::kRateLimited:
    case Status::Code::kIoError:
    case Status::Code::kInternal:
      return true;
    default:
      return false;
  }
}

// A job the API shows on a runner (or finished on one) has started.
bool StartedOnRunner(const github::WorkflowJob& job) {
  return !job.runner_name.empty() || job.status == "in_progress";
}

}  // namespace

ActionExecutor::ActionExecutor(store::ActionStore& actions, github::GitHubClient& github,
                               const PolicyHolder& policy, Clock& clock, MetricsRegistry& metrics,
                               ExecutorOptions options)
    : actions_(actions),
      github_(github),
      policy_(policy),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

ActionExecutor::~ActionExecutor() { Stop(); }

int ActionExecutor::RunDue() {
  int handled = 0;
  for (;;) {
    const int64_t now = NowMs();
    auto claimed = actions_.ClaimDue(now, options_.owner, now + options_.lease.count(),
                                     options_.claim_batch);
    if (!claimed.ok() || claimed->empty()) return handled;
    for (const store::ActionRecord& a : *claimed) {
      (void)Execute(a);
      ++handled;
    }
    if (claimed->size() < options_.claim_batch) return handled;
  }
}

ActionOutcome ActionExecutor::Execute(const store::ActionRecord& a) {
  Progress p;
  p.j = ParseObject(a.result);
  // Exceptions stop here: a malformed payload fails its own action only.
  try {
    if (a.kind == "fallback") return ExecuteFallback(a, p);
    if (a.kind == "chain") return ExecuteChain(a, p);
    if (a.kind == "dispatch") return ExecuteDispatch(a, p);
    return Fail(a, p, "unknown action kind '" + a.kind + "'");
  } catch (const std::exception& e) {
    return Fail(a, p, std::string("malformed action: ") + e.what());
  }
}

ActionOutcome ActionExecutor::ExecuteFallback(const store::ActionRecord& a, Progress& p) {
  const json payload = ParseObject(a.payload);
  const int64_t job_id = a.job_id.value_or(payload.value("job_id", int64_t{0}));
  const std::string stage = p.stage();

  if (stage.empty()) {
    auto job = actions_.GetJob(job_id);
    if (!job.ok()) return RetryOrFail(a, p, job.status());
    if (!*job) return Abort(a, p, "job " + std::to_string(job_id) + " is not recorded");
    auto run = actions_.GetRun((*job)->run_id, (*job)->run_attempt);
    auto request = actions_.RequestForRun((*job)->run_id);
    if (!run.ok()) return RetryOrFail(a, p, run.status());
    if (!request.ok()) return RetryOrFail(a, p, request.status());
    std::shared_ptr<const policy::Policy> policy = policy_.Get();
    policy::JobView view = MakeJobView(**job, *run, *request);
    const policy::Route* route = policy::MatchRoute(*policy, view);
    std::optional<policy::RunnerAvailability> availability;
    if (route != nullptr && (route->fallback_when_offline || !route->constraints.required_labels.empty())) {
      availability = Availability(a.repository);
    }
    policy::FallbackDecision d = policy::DecideFallback(
        *policy, view, availability ? &*availability : nullptr, NowMs());
    using Kind = policy::FallbackDecision::Kind;
    switch (d.kind) {
      case Kind::kNotGoverned:
        return Abort(a, p, "no route governs job " + std::to_string(job_id) + " any more");
      case Kind::kNotQueued:
        if ((*job)->runner_name) return Abort(a, p, "started on " + *(*job)->runner_name);
        return Abort(a, p, "job is " + (*job)->status + ", not queued");
      case Kind::kRefused:
        return Abort(a, p, std::string(policy::RefusalReasonName(d.refusal)) + ": " + d.reason);
      case Kind::kNotDue: {
        Status s = actions_.Reschedule(a.id, d.due_at_ms, NowMs());
        if (!s.ok()) return RetryOrFail(a, p, s);
        Count(a, "rescheduled");
        return {"rescheduled", "due at " + std::to_string(d.due_at_ms), {}, {}};
      }
      case Kind::kDue:
        break;
    }
    // Ask GitHub too: the store may not have heard of a start yet.
    auto remote = github_.GetJob(a.repository, job_id);
    if (!remote.ok()) {
      if (remote.status().code() == Status::Code::kNotFound) return Abort(a, p, "job not found on GitHub");
      return RetryOrFail(a, p, remote.status());
    }
    if (StartedOnRunner(*remote) || remote->status == "completed") {
      return Abort(a, p, remote->runner_name.empty() ? "job is " + remote->status
                                                     : "started on " + remote->runner_name);
    }
    Status cancelled = github_.CancelRun(a.repository, (*job)->run_id);
    if (cancelled.code() == Status::Code::kConflict) {
      auto again = github_.GetJob(a.repository, job_id);
      if (again.ok() && !again->runner_name.empty()) return Abort(a, p, "started on " + again->runner_name);
      return Abort(a, p, "the run could not be cancelled (409): " + cancelled.message());
    }
    if (!cancelled.ok()) return RetryOrFail(a, p, cancelled);
    p.j["stage"] = "cancelled";
    p.j["cancelled_run_id"] = (*job)->run_id;
    p.j["route"] = d.route->name;
    p.j["target_workflow"] = d.target_workflow;
    p.j["target_labels"] = d.target_labels;
    p.j["ref"] = d.ref;
    p.j["inputs"] = d.inputs;
    p.j["inputs_known"] = d.inputs_known;
    p.j["fallback_count"] = view.fallback_count + 1;
    if (*request) p.j["parent_request_id"] = (*request)->id;
    if (Status s = actions_.SaveProgress(a.id, p.Dump(), NowMs()); !s.ok()) return RetryOrFail(a, p, s);
  }

  if (p.stage() == "cancelled") {
    // The job may have reached a runner between our check and the cancel.
    auto job = actions_.GetJob(job_id);
    if (job.ok() && *job && (*job)->runner_name && store::JobStage((*job)->status) >= 3) {
      return Abort(a, p, "started on " + *(*job)->runner_name);
    }
    auto remote = github_.GetJob(a.repository, job_id);
    if (!remote.ok() && remote.status().code() != Status::Code::kNotFound) {
      return RetryOrFail(a, p, remote.status());
    }
    if (remote.ok() && StartedOnRunner(*remote)) return Abort(a, p, "started on " + remote->runner_name);
    store::DispatchRequest r;
    r.repository = a.repository;
    r.workflow = p.j.value("target_workflow", std::string());
    r.ref = p.j.value("ref", std::string());
    r.inputs = StringMap(p.j.value("inputs", json::object()));
    if (p.j.contains("parent_request_id")) r.parent_id = p.j["parent_request_id"].get<int64_t>();
    r.fallback_count = p.j.value("fallback_count", int64_t{1});
    if (Status s = BeginDispatching(a, p, r); !s.ok()) return RetryOrFail(a, p, s);
  }
  if (p.stage() == "dispatching") return DispatchStage(a, p, p.j.value("request_id", int64_t{0}));
  return Fail(a, p, "unknown fallback stage '" + p.stage() + "'");
}

ActionOutcome ActionExecutor::ExecuteChain(const store::ActionRecord& a, Progress& p) {
  if (p.stage().empty()) {
    const json payload = ParseObject(a.payload);
    store::DispatchRequest r;
    r.repository = payload.value("repository", a.repository);
    r.workflow = payload.value("workflow", std::string());
    r.ref = payload.value("ref", std::string());
    r.inputs = StringMap(payload.value("inputs", json::object()));
    if (payload.contains("parent_request_id")) r.parent_id = payload["parent_request_id"].get<int64_t>();
    if (Status s = BeginDispatching(a, p, r); !s.ok()) return RetryOrFail(a, p, s);
  }
  return DispatchStage(a, p, p.j.value("request_id", int64_t{0}));
}

ActionOutcome ActionExecutor::ExecuteDispatch(const store::ActionRecord& a, Progress& p) {
  const json payload = ParseObject(a.payload);
  if (p.stage().empty()) {
    p.j["stage"] = "dispatching";
    p.j["request_id"] = payload.value("request_id", int64_t{0});
  }
  return DispatchStage(a, p, p.j.value("request_id", int64_t{0}));
}

Status ActionExecutor::BeginDispatching(const store::ActionRecord& a, Progress& p,
                                        const store::DispatchRequest& request) {
  // The request and the progress that names it are one transaction, and the
  // progress already counts the first send: if relayq dies after GitHub took
  // the dispatch but before recording it, the next attempt looks for the run
  // before sending again.
  auto created = actions_.CreateRequestForAction(
      request, a.id,
      [&](int64_t id) {
        p.j["stage"] = "dispatching";
        p.j["request_id"] = id;
        p.j["sends"] = 1;
        return p.Dump();
      },
      NowMs());
  if (!created.ok()) return created.status();
  p.began_now = true;
  return Status::Ok();
}

ActionOutcome ActionExecutor::DispatchStage(const store::ActionRecord& a, Progress& p,
                                            int64_t request_id) {
  auto request = actions_.GetRequest(request_id);
  if (!request.ok()) return RetryOrFail(a, p, request.status());
  if (!*request) return Fail(a, p, "request " + std::to_string(request_id) + " is not recorded");
  const store::DispatchRequest& r = **request;
  // Already tied to a run (a webhook for it arrived): it was dispatched, by
  // an attempt whose answer was lost.
  if (r.run_id) {
    return Dispatched(a, p, r, r.run_id, "dispatched " + r.workflow + " as run " + std::to_string(*r.run_id));
  }
  // `sends` counts dispatches that may have reached GitHub, including the
  // one about to happen. More than one in flight means an earlier send may
  // have been accepted without relayq hearing the answer.
  const int64_t sends = p.j.value("sends", int64_t{0});
  const bool fresh = p.began_now;
  if (!fresh && sends > 0) {
    // A previous attempt sent the dispatch and did not learn the outcome:
    // look for the run by its [relayq:ID] title before sending again.
    const std::string tag = "[relayq:" + std::to_string(r.id) + "]";
    for (const char* status : {"queued", "in_progress", "completed", "waiting", "requested"}) {
      auto runs = github_.ListRunsWithStatus(r.repository, status);
      if (!runs.ok()) break;
      for (const auto& run : *runs) {
        if (run.display_title.find(tag) != std::string::npos) {
          return Dispatched(a, p, r, run.id, "dispatched " + r.workflow + " as run " + std::to_string(run.id));
        }
      }
    }
  }
  if (!fresh) {
    p.j["sends"] = sends + 1;
    if (Status s = actions_.SaveProgress(a.id, p.Dump(), NowMs()); !s.ok()) return RetryOrFail(a, p, s);
  }

  std::map<std::string, std::string> inputs = r.inputs;
  inputs["relayq_id"] = std::to_string(r.id);
  auto result = github_.DispatchWorkflow(r.repository, r.workflow, r.ref, inputs, true);
  if (!result.ok() && result.status().code() == Status::Code::kInvalidArgument &&
      result.status().message().find("relayq_id") != std::string::npos) {
    // A workflow that declares no relayq_id input: dispatch without it and
    // rely on the run id GitHub returns.
    inputs.erase("relayq_id");
    result = github_.DispatchWorkflow(r.repository, r.workflow, r.ref, inputs, true);
    p.j["relayq_id_input"] = false;
  }
  if (!result.ok()) {
    if (!Transient(result.status())) {
      (void)actions_.MarkRequestFailed(r.id, result.status().message(), NowMs());
    }
    return RetryOrFail(a, p, result.status());
  }
  if (result->html_url) p.j["html_url"] = *result->html_url;
  return Dispatched(a, p, r, result->run_id,
                    "dispatched " + r.workflow + " on " + r.ref +
                        (result->run_id ? " as run " + std::to_string(*result->run_id) : ""));
}

ActionOutcome ActionExecutor::Dispatched(const store::ActionRecord& a, Progress& p,
                                         const store::DispatchRequest& r,
                                         std::optional<int64_t> run_id, std::string message) {
  p.j["stage"] = "done";
  p.j["outcome"] = message;
  p.j["request_id"] = r.id;
  if (run_id) p.j["run_id"] = *run_id;
  // The request and the action are marked in one transaction, so the store
  // never shows a done action whose request still looks pending.
  if (Status s = actions_.FinishDispatched(a.id, r.id, run_id, p.Dump(), NowMs()); !s.ok()) {
    return RetryOrFail(a, p, s);
  }
  Count(a, "done");
  return {"done", std::move(message), run_id, r.id};
}

ActionOutcome ActionExecutor::Abort(const store::ActionRecord& a, Progress& p, std::string why) {
  p.j["outcome"] = why;
  (void)actions_.Finish(a.id, "aborted", p.Dump(), why, NowMs());
  Count(a, "aborted");
  return {"aborted", std::move(why), {}, {}};
}

ActionOutcome ActionExecutor::Fail(const store::ActionRecord& a, Progress& p, std::string why) {
  p.j["outcome"] = why;
  (void)actions_.Finish(a.id, "failed", p.Dump(), why, NowMs());
  Count(a, "failed");
  return {"failed", std::move(why), {}, {}};
}

ActionOutcome ActionExecutor::RetryOrFail(const store::ActionRecord& a, Progress& p,
                                          const Status& error) {
  if (!Transient(error)) return Fail(a, p, error.message());
  if (a.attempts + 1 >= options_.max_attempts) {
    return Fail(a, p, "gave up after " + std::to_string(a.attempts + 1) + " attempts: " + error.message());
  }
  // Exponential backoff with "equal jitter": half fixed, half random.
  int64_t backoff = options_.retry_base.count();
  for (int64_t i = 0; i < a.attempts && backoff < options_.retry_max.count(); ++i) backoff *= 2;
  backoff = std::min<int64_t>(backoff, options_.retry_max.count());
  std::uniform_int_distribution<int64_t> spread(0, backoff / 2);
  int64_t jitter;
  {
    std::lock_guard lock(cache_mu_);
    jitter = spread(jitter_);
  }
  const int64_t next = NowMs() + backoff / 2 + jitter;
  (void)actions_.Retry(a.id, next, error.message(), p.Dump(), NowMs());
  Count(a, "retry");
  return {"retrying", error.message(), {}, {}};
}

void ActionExecutor::Count(const store::ActionRecord& a, const std::string& outcome) {
  metrics_
      .GetCounter("relayq_routing_actions_total", "Routing action attempts by kind and outcome",
                  {{"kind", a.kind}, {"outcome", outcome}})
      ->Increment();
}

std::optional<policy::RunnerAvailability> ActionExecutor::Availability(const std::string& repo) {
  const int64_t now = NowMs();
  {
    std::lock_guard lock(cache_mu_);
    CachedRunners& c = runners_[repo];
    if (c.fetched_at != 0 && now - c.fetched_at <= options_.runner_cache_ttl.count()) {
      return c.ok ? std::optional(c.availability) : std::nullopt;
    }
  }
  // Fetched outside the lock: a slow API call must not stall other workers.
  auto runners = github_.ListRunners(repo);
  CachedRunners fresh;
  fresh.fetched_at = now;
  fresh.ok = runners.ok();
  if (runners.ok()) {
    for (const auto& r : *runners) {
      fresh.availability.runners.push_back({r.name, r.labels, r.online(), r.busy});
    }
  }
  std::lock_guard lock(cache_mu_);
  runners_[repo] = fresh;
  return fresh.ok ? std::optional(fresh.availability) : std::nullopt;
}

void ActionExecutor::Start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void ActionExecutor::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wake_seq_;
  }
  cv_.notify_all();
}

void ActionExecutor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ActionExecutor::Loop() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen = wake_seq_;
    }
    const int handled = RunDue();
    auto next = actions_.NextDueTime();
    std::chrono::milliseconds wait = options_.idle_wake;
    if (next.ok() && *next) {
      wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(0, **next - NowMs())));
    }
    // Something is due but could not be claimed (the store was busy): do not
    // spin on it.
    if (handled == 0 && wait.count() == 0) wait = std::chrono::milliseconds(50);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stopping_ || wake_seq_ != seen; });
    if (stopping_) return;
  }
}

}  // namespace relayq::handlers
