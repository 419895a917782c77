#include "handlers/action_executor.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "common/time_format.h"
#include "handlers/action_progress.h"
#include "handlers/views.h"
#include "store/lifecycle.h"

namespace relayq::handlers {

using nlohmann::json;

// The saved progress (ActionProgress) and what only this attempt knows.
struct ActionExecutor::Progress : ActionProgress {
  store::Claim claim;
  // True when this very Execute() call recorded the current stage
  // (cancelling or dispatching), so no earlier send of its request can exist
  // (never persisted).
  bool began_now = false;
  // The last failure of this attempt (GitHub's answer, or the store's), for
  // the log line; never persisted.
  Status error;
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
    case Status::Code::kOutcomeUnknown:
      return true;
    default:
      return false;
  }
}

// A job the API shows on a runner (or finished on one) has started.
bool StartedOnRunner(const github::WorkflowJob& job) {
  return !job.runner_name.empty() || job.status == "in_progress";
}

// Every status a run can have before and after it starts: the search for a
// dispatched run whose answer was lost must look in all of them (kit
// workflows queue behind concurrency groups, so `pending` is normal).
constexpr const char* kRunStatuses[] = {"requested", "waiting",     "pending",
                                        "queued",    "in_progress", "completed"};

// One log line per state change of an action: what was done and why, and
// on a failure the error as GitHub (or the store) answered it. Messages
// carry status codes and GitHub's message, never credentials.
void LogOutcome(const store::ActionRecord& a, const ActionProgress& p, const Status& error,
                const ActionOutcome& out) {
  LogFields f = {{"kind", std::string(store::ActionKindName(a.kind))},
                 {"action_id", std::to_string(a.id)},
                 {"key", a.key},
                 {"repo", a.repository}};
  if (a.job_id) f.emplace_back("job_id", std::to_string(*a.job_id));
  if (a.run_id) f.emplace_back("run_id", std::to_string(*a.run_id));
  f.emplace_back("outcome", std::string(ExecOutcomeName(out.status)));
  f.emplace_back("what", out.message);
  // Why relayq acted: the executor's own decision when it made one (an
  // early offline fallback says so, with its time), else the router's.
  f.emplace_back("why", p.decision.value_or(a.reason));
  if (p.decided_at) f.emplace_back("decided_at", FormatRfc3339(*p.decided_at));
  if (p.target_workflow) f.emplace_back("target_workflow", *p.target_workflow);
  const std::optional<int64_t> request = out.request_id ? out.request_id : p.request_id;
  if (request) f.emplace_back("request_id", std::to_string(*request));
  const std::optional<int64_t> new_run = out.run_id ? out.run_id : p.run_id;
  if (new_run) f.emplace_back("new_run_id", std::to_string(*new_run));
  if (p.html_url) f.emplace_back("new_run_url", *p.html_url);
  if (p.note) f.emplace_back("note", *p.note);
  LogLevel level = LogLevel::kInfo;
  if (!error.ok()) {
    f.emplace_back("error_code", std::string(CodeName(error.code())));
    f.emplace_back("error", error.message());
  }
  if (out.status == ExecOutcome::kFailed || out.status == ExecOutcome::kLost ||
      out.status == ExecOutcome::kRetrying) {
    level = LogLevel::kWarn;
  }
  Log(level, a.kind == store::ActionKind::kNotify ? "notification" : "routing action", f);
}

}  // namespace

std::string_view ExecOutcomeName(ExecOutcome o) {
  switch (o) {
    case ExecOutcome::kDone:
      return "done";
    case ExecOutcome::kAborted:
      return "aborted";
    case ExecOutcome::kRefused:
      return "refused";
    case ExecOutcome::kFailed:
      return "failed";
    case ExecOutcome::kRetrying:
      return "retrying";
    case ExecOutcome::kRescheduled:
      return "rescheduled";
    case ExecOutcome::kLost:
      return "lost";
    case ExecOutcome::kReleased:
      return "released";
  }
  return "unknown";
}

ActionExecutor::ActionExecutor(store::ActionStore& actions, github::GitHubClient& github,
                               const PolicyHolder& policy, Clock& clock, MetricsRegistry& metrics,
                               ExecutorOptions options)
    : actions_(actions),
      github_(github),
      policy_(policy),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      workers_(clock_,
               {.period = options_.idle_wake,
                .run_at_start = true,
                .threads = std::max(1, options_.workers)},
               [this](PeriodicWorker::Pass& pass) { WorkerPass(pass); }),
      // Waits on monotonic time, so a wall-clock step neither delays nor
      // hurries a renewal. Starts idle: nothing is held yet.
      heartbeat_(clock_, {.period = IdleHeartbeat(), .run_at_start = false, .threads = 1},
                 [this](PeriodicWorker::Pass& pass) { HeartbeatPass(pass); }) {}

std::chrono::milliseconds ActionExecutor::RenewEvery() const {
  return std::max(std::chrono::milliseconds(1), options_.lease / 4);
}

std::chrono::milliseconds ActionExecutor::IdleHeartbeat() const {
  return std::max(RenewEvery(), kIdleHeartbeat);
}

void ActionExecutor::HeartbeatPass(PeriodicWorker::Pass& pass) {
  RenewHeld();
  MutexLock lock(held_mu_);
  // Holding nothing, it sleeps long; Hold() wakes it when a claim is taken
  // that must be renewed sooner than that.
  pass.next = held_.empty() ? IdleHeartbeat() : RenewEvery();
  heartbeat_due_ = clock_.Monotonic() + pass.next;
}

void ActionExecutor::Hold(const store::Claim& claim) {
  bool wake = false;
  {
    MutexLock lock(held_mu_);
    held_[claim.action_id] = claim.token;
    // Renewed within lease/4 of being taken: the heartbeat's pause must end
    // by then.
    if (heartbeat_due_ > clock_.Monotonic() + RenewEvery()) {
      heartbeat_due_ = clock_.Monotonic();
      wake = true;
    }
  }
  if (wake) heartbeat_.Wake();
}

ActionExecutor::~ActionExecutor() { Stop(); }

bool ActionExecutor::Stopping() { return workers_.stop_requested(); }

int ActionExecutor::RenewHeld() { return Renew(/*force=*/true); }

int ActionExecutor::Renew(bool force) {
  std::vector<store::Claim> held;
  const MonoTime mono = clock_.Monotonic();
  const int64_t offset =
      NowMs() -
      std::chrono::duration_cast<std::chrono::milliseconds>(mono.time_since_epoch()).count();
  {
    MutexLock lock(held_mu_);
    // Unforced (before each claim), renew only when the wall clock stepped
    // since the last renewal (our live claims may look expired now) or a
    // renewal is overdue (no heartbeat running).
    const bool stepped = std::llabs(offset - last_renew_offset_ms_) > 1000;
    const bool overdue = mono - last_renew_ >= options_.lease / 4;
    if (!force && !stepped && !overdue) return 0;
    last_renew_ = mono;
    last_renew_offset_ms_ = offset;
    for (const auto& [id, token] : held_) held.push_back(store::Claim{id, token});
  }
  if (held.empty()) return 0;
  const int64_t now = NowMs();
  // A lost claim is found out by its worker at its next fenced write.
  auto renewed = actions_.RenewAll(held, now + options_.lease.count(), now);
  return renewed.ok() ? *renewed : 0;
}

int ActionExecutor::RunDue() {
  int handled = 0;
  for (;;) {
    if (Stopping()) return handled;
    // Our own live claims first: after a wall-clock step they could look
    // expired, and must not be claimed a second time.
    Renew(/*force=*/false);
    const int64_t now = NowMs();
    auto claimed = options_.only_kind
                       ? actions_.ClaimDueOfKind(*options_.only_kind, now, options_.owner,
                                                 now + options_.lease.count(), options_.claim_batch)
                       : actions_.ClaimDue(now, options_.owner, now + options_.lease.count(),
                                           options_.claim_batch);
    if (!claimed.ok() || claimed->empty()) return handled;
    {
      for (const store::ClaimedAction& c : *claimed) Hold(c.claim);
    }
    for (const store::ClaimedAction& c : *claimed) {
      if (Stopping()) {
        // Not started: hand it back, due at once for the next start.
        (void)actions_.ReleaseClaim(c.claim, NowMs());
        MutexLock lock(held_mu_);
        held_.erase(c.claim.action_id);
        continue;
      }
      (void)Execute(c.action, c.claim);
      ++handled;
    }
    if (claimed->size() < options_.claim_batch) return handled;
  }
}

ActionOutcome ActionExecutor::Execute(const store::ActionRecord& a, const store::Claim& claim) {
  Hold(claim);
  Progress p;
  p.claim = claim;
  ActionOutcome out;
  // Exceptions stop here: a malformed payload fails its own action only.
  bool parsed = false;
  try {
    static_cast<ActionProgress&>(p) = ActionProgress::Parse(a.result);
    parsed = true;
    switch (a.kind) {
      case store::ActionKind::kFallback:
        out = ExecuteFallback(a, p);
        break;
      case store::ActionKind::kChain:
        out = ExecuteChain(a, p);
        break;
      case store::ActionKind::kDispatch:
        out = ExecuteDispatch(a, p);
        break;
      case store::ActionKind::kNotify:
        out = ExecuteNotify(a, p);
        break;
      case store::ActionKind::kUnknown:
        out =
            Fail(a, p, "unknown action kind '" + std::string(store::ActionKindName(a.kind)) + "'");
        break;
    }
  } catch (const std::exception& e) {
    // A stored result that does not read is kept as it was, with the outcome.
    if (!parsed) p.extra = ParseObject(a.result);
    out = Fail(a, p, std::string("malformed action: ") + e.what());
  }
  LogOutcome(a, p, p.error, out);
  MutexLock lock(held_mu_);
  held_.erase(claim.action_id);
  return out;
}

ActionOutcome ActionExecutor::ExecuteFallback(const store::ActionRecord& a, Progress& p) {
  const json payload = ParseObject(a.payload);
  const int64_t job_id = a.job_id.value_or(payload.value("job_id", int64_t{0}));

  if (p.stage == ProgressStage::kNew) {
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
    if (route != nullptr &&
        (route->fallback_when_offline || !route->constraints.required_labels.empty())) {
      // Judged with runner status or not at all: a failed listing is a
      // transient error like any other, never a refusal.
      auto listed = Availability(a.repository);
      if (!listed.ok()) {
        return RetryOrFail(
            a, p, Status::Unavailable("runner status unknown: " + listed.status().message()));
      }
      availability = std::move(*listed);
    }
    policy::FallbackDecision d =
        policy::DecideFallback(*policy, view, availability ? &*availability : nullptr, NowMs());
    using Kind = policy::FallbackDecision::Kind;
    switch (d.kind) {
      case Kind::kNotGoverned:
        return Abort(a, p, "no route governs job " + std::to_string(job_id) + " any more");
      case Kind::kNotQueued:
        if ((*job)->runner_name) return Abort(a, p, "started on " + *(*job)->runner_name);
        return Abort(a, p, "job is " + (*job)->status + ", not queued");
      case Kind::kRefused:
        return Refuse(a, p, std::string(policy::RefusalReasonName(d.refusal)) + ": " + d.reason);
      case Kind::kNotDue: {
        Status s = actions_.Reschedule(p.claim, d.due_at_ms, NowMs());
        if (!s.ok()) return StoreFailed(a, p, s);
        Count(a, ExecOutcome::kRescheduled);
        return {ExecOutcome::kRescheduled, "due at " + FormatRfc3339(d.due_at_ms), {}, {}};
      }
      case Kind::kDue:
        p.decided_at = NowMs();
        p.decision = d.reason;
        break;
    }
    // Cancelling kills every job of the run: go on only while none of them
    // has started, in the store or (it may not have heard yet) on GitHub.
    auto siblings = actions_.JobsOfRun((*job)->run_id, (*job)->run_attempt);
    if (!siblings.ok()) return RetryOrFail(a, p, siblings.status());
    std::vector<int64_t> to_check = {job_id};
    for (const store::JobState& s : *siblings) {
      if (s.id == job_id) continue;
      if (s.runner_name || store::JobStageOf(s.status) >= store::JobStage::kInProgress) {
        return Abort(a, p,
                     "job " + std::to_string(s.id) + " of the run already started" +
                         (s.runner_name ? " on " + *s.runner_name : ""));
      }
      to_check.push_back(s.id);
    }
    for (int64_t id : to_check) {
      auto remote = github_.GetJob(a.repository, id);
      if (!remote.ok()) {
        if (remote.status().code() == Status::Code::kNotFound) {
          return Abort(a, p, "job " + std::to_string(id) + " not found on GitHub");
        }
        return RetryOrFail(a, p, remote.status());
      }
      if (StartedOnRunner(*remote) || remote->status == "completed") {
        std::string what = remote->runner_name.empty() ? "job is " + remote->status
                                                       : "started on " + remote->runner_name;
        if (id != job_id) what = "job " + std::to_string(id) + " of the run: " + what;
        return Abort(a, p, what);
      }
    }
    // From here on the fallback goes through: "cancelling" is saved before
    // the cancel is sent, so an attempt that dies or loses the answer is
    // followed by one that reads the run's status and replaces it.
    p.stage = ProgressStage::kCancelling;
    p.cancelled_run_id = (*job)->run_id;
    p.route = d.route->name;
    p.target_workflow = d.target_workflow;
    p.target_labels = d.target_labels;
    p.ref = d.ref;
    p.inputs = d.inputs;
    p.inputs_known = d.inputs_known;
    p.fallback_count = view.fallback_count + 1;
    if (*request) p.parent_request_id = (*request)->id;
    if (Status s = actions_.SaveProgress(p.claim, p.Dump(), NowMs()); !s.ok())
      return StoreFailed(a, p, s);
    p.began_now = true;
  }

  if (p.stage == ProgressStage::kCancelling) {
    const int64_t run_id = p.cancelled_run_id.value_or(0);
    // The run's status, as far as it tells what became of a cancel.
    // Returns true when the run ended cancelled (go on to replace it); ends
    // the action (via `ended`) when it finished on its own.
    std::optional<ActionOutcome> ended;
    auto cancelled_already = [&](bool ours) -> bool {
      auto run = github_.GetRun(a.repository, run_id);
      if (!run.ok()) {
        ended = run.status().code() == Status::Code::kNotFound
                    ? Fail(a, p, "run " + std::to_string(run_id) + " not found on GitHub")
                    : RetryOrFail(a, p, run.status());
        return false;
      }
      if (run->status != "completed") return false;
      if (run->conclusion == "cancelled" && ours) return true;
      ended = Abort(a, p,
                    run->conclusion == "cancelled"
                        ? "the run was cancelled by someone else"
                        : "the run completed (" + run->conclusion + ") before it was cancelled");
      return false;
    };
    bool done = false;
    if (!p.began_now) {
      // An earlier attempt may have sent the cancel.
      done = cancelled_already(/*ours=*/true);
      if (ended) return *ended;
    }
    if (!done) {
      Status cancelled = github_.CancelRun(a.repository, run_id);
      if (cancelled.code() == Status::Code::kConflict) {
        done = cancelled_already(/*ours=*/!p.began_now);
        if (ended) return *ended;
        if (!done) {
          auto again = github_.GetJob(a.repository, job_id);
          if (again.ok() && !again->runner_name.empty())
            return Abort(a, p, "started on " + again->runner_name);
          return Abort(a, p, "the run could not be cancelled (409): " + cancelled.message());
        }
      } else if (!cancelled.ok()) {
        return RetryOrFail(a, p, cancelled);
      }
    }
    p.stage = ProgressStage::kCancelled;
    if (Status s = actions_.SaveProgress(p.claim, p.Dump(), NowMs()); !s.ok())
      return StoreFailed(a, p, s);
  }

  if (p.stage == ProgressStage::kCancelled) {
    // The job may have reached a runner between the check and the cancel.
    // GitHub cancels running jobs too, so its work is lost either way: it is
    // replaced, and the reason recorded.
    if (!p.started_before_cancel) {
      auto remote = github_.GetJob(a.repository, job_id);
      if (remote.ok() && !remote->runner_name.empty()) {
        p.started_before_cancel = remote->runner_name;
        p.note = "the job had started on " + remote->runner_name +
                 " when the cancel took effect; GitHub cancelled it, so it is replaced";
      }
    }
    store::DispatchRequest r;
    r.repository = a.repository;
    r.workflow = p.target_workflow.value_or("");
    r.ref = p.ref.value_or("");
    r.inputs = p.inputs.value_or(std::map<std::string, std::string>());
    r.parent_id = p.parent_request_id;
    r.fallback_count = p.fallback_count.value_or(1);
    if (Status s = BeginDispatching(a, p, r); !s.ok()) return StoreFailed(a, p, s);
  }
  if (p.stage == ProgressStage::kDispatching || p.stage == ProgressStage::kDone) {
    return DispatchStage(a, p, p.request_id.value_or(0));
  }
  const std::string stage = p.stage == ProgressStage::kUnknown
                                ? p.unknown_stage
                                : std::string(ProgressStageName(p.stage));
  return Fail(a, p, "unknown fallback stage '" + stage + "'");
}

ActionOutcome ActionExecutor::ExecuteChain(const store::ActionRecord& a, Progress& p) {
  if (p.stage == ProgressStage::kNew) {
    const json payload = ParseObject(a.payload);
    store::DispatchRequest r;
    r.repository = payload.value("repository", a.repository);
    r.workflow = payload.value("workflow", std::string());
    r.ref = payload.value("ref", std::string());
    r.inputs = StringMap(payload.value("inputs", json::object()));
    if (payload.contains("parent_request_id"))
      r.parent_id = payload["parent_request_id"].get<int64_t>();
    if (Status s = BeginDispatching(a, p, r); !s.ok()) return StoreFailed(a, p, s);
  }
  return DispatchStage(a, p, p.request_id.value_or(0));
}

ActionOutcome ActionExecutor::ExecuteDispatch(const store::ActionRecord& a, Progress& p) {
  const json payload = ParseObject(a.payload);
  if (p.stage == ProgressStage::kNew) {
    p.stage = ProgressStage::kDispatching;
    p.request_id = payload.value("request_id", int64_t{0});
  }
  return DispatchStage(a, p, p.request_id.value_or(0));
}

ActionOutcome ActionExecutor::ExecuteNotify(const store::ActionRecord& a, Progress& p) {
  if (!options_.notify) return Fail(a, p, "notifications are not configured (no notify: targets)");
  std::string what;
  if (Status sent = options_.notify(a, what); !sent.ok()) return RetryOrFail(a, p, sent);
  return Give(a, p, std::move(what), store::ActionStatus::kDone, ExecOutcome::kDone);
}

Status ActionExecutor::BeginDispatching(const store::ActionRecord& /*a*/, Progress& p,
                                        const store::DispatchRequest& request) {
  // The request and the progress that names it are one transaction, and the
  // progress already counts the first send: if relayq dies after GitHub took
  // the dispatch but before recording it, the next attempt looks for the run
  // before sending again.
  ActionProgress next = p;
  auto created = actions_.CreateRequestForAction(
      request, p.claim,
      [&](int64_t id) {
        next.stage = ProgressStage::kDispatching;
        next.request_id = id;
        next.sends = 1;
        return next.Dump();
      },
      NowMs());
  if (!created.ok()) return created.status();
  static_cast<ActionProgress&>(p) = std::move(next);
  p.began_now = true;
  return Status::Ok();
}

ActionOutcome ActionExecutor::DispatchStage(const store::ActionRecord& a, Progress& p,
                                            int64_t request_id) {
  auto request = actions_.GetRequest(request_id);
  if (!request.ok()) return RetryOrFail(a, p, request.status());
  if (!*request) return Fail(a, p, "request " + std::to_string(request_id) + " is not recorded");
  const store::DispatchRequest& r = **request;
  const std::string as_run = "dispatched " + r.workflow + " as run ";
  // Already tied to a run (a webhook for it arrived): it was dispatched, by
  // an attempt whose answer was lost.
  if (r.run_id) return Dispatched(a, p, r, r.run_id, as_run + std::to_string(*r.run_id));
  // GitHub accepted the dispatch but recording it failed: finish it, never
  // send again.
  const bool accepted = p.dispatched.value_or(false) || p.stage == ProgressStage::kDone;
  if (accepted && p.run_id) {
    const int64_t run_id = *p.run_id;
    return Dispatched(a, p, r, run_id, as_run + std::to_string(run_id));
  }
  // `sends` counts dispatches that may have reached GitHub, including the
  // one about to happen. One sent by an earlier attempt may have been
  // accepted without relayq hearing the answer: look for its run by the
  // [relayq:ID] title in every status first; a failed listing is retried
  // later, never answered by sending again.
  const int64_t sends = p.sends.value_or(0);
  if (!p.began_now && (sends > 0 || accepted)) {
    const std::string tag = "[relayq:" + std::to_string(r.id) + "]";
    for (const char* status : kRunStatuses) {
      auto runs = github_.ListRunsWithStatus(r.repository, status);
      if (!runs.ok()) {
        return RetryOrFail(
            a, p,
            Status::Unavailable("looking for the run of request " + std::to_string(r.id) +
                                " before sending again: " + runs.status().message()));
      }
      for (const auto& run : *runs) {
        if (run.display_title.find(tag) != std::string::npos) {
          return Dispatched(a, p, r, run.id, as_run + std::to_string(run.id));
        }
      }
    }
    if (accepted) {
      // GitHub said yes but its run is not listed yet: look again later.
      return RetryOrFail(a, p,
                         Status::Unavailable("request " + std::to_string(r.id) +
                                             " was dispatched; its run is not listed yet"));
    }
  }
  // A request submitted without a ref runs on the repository's default
  // branch, learnt now (GitHub may have been down when it was submitted) and
  // recorded with the request.
  std::string ref = r.ref;
  if (ref.empty()) {
    auto branch = github_.DefaultBranch(r.repository);
    if (!branch.ok()) {
      return RetryOrFail(
          a, p, branch.status().WithContext("learning the default branch of " + r.repository));
    }
    ref = *branch;
    if (Status s = actions_.SetRequestRef(r.id, ref, NowMs()); !s.ok()) return StoreFailed(a, p, s);
  }
  if (!p.began_now) {
    p.sends = sends + 1;
    if (Status s = actions_.SaveProgress(p.claim, p.Dump(), NowMs()); !s.ok())
      return StoreFailed(a, p, s);
  }
  // One send per attempt from here on; the next needs a new attempt.
  p.began_now = false;

  std::map<std::string, std::string> inputs = r.inputs;
  inputs["relayq_id"] = std::to_string(r.id);
  auto result = github_.DispatchWorkflow(r.repository, r.workflow, ref, inputs, true);
  if (!result.ok() && result.status().code() == Status::Code::kInvalidArgument &&
      result.status().message().find("relayq_id") != std::string::npos) {
    // A workflow that declares no relayq_id input (422: nothing dispatched):
    // dispatch without it and rely on the run id GitHub returns.
    inputs.erase("relayq_id");
    result = github_.DispatchWorkflow(r.repository, r.workflow, ref, inputs, true);
    p.relayq_id_input = false;
  }
  if (!result.ok()) {
    if (!Transient(result.status())) {
      (void)actions_.MarkRequestFailed(r.id, result.status().message(), NowMs());
    }
    return RetryOrFail(a, p, result.status());
  }
  p.dispatched = true;
  if (result->run_id) p.run_id = *result->run_id;
  if (result->html_url) p.html_url = *result->html_url;
  return Dispatched(a, p, r, result->run_id,
                    "dispatched " + r.workflow + " on " + ref +
                        (result->run_id ? " as run " + std::to_string(*result->run_id) : ""));
}

ActionOutcome ActionExecutor::Dispatched(const store::ActionRecord& a, Progress& p,
                                         const store::DispatchRequest& r,
                                         std::optional<int64_t> run_id, std::string message) {
  // Stage "done" exists only in the row that also says the action is done:
  // if that write fails, the saved progress says "dispatched" (with the run
  // when known), so the next attempt finishes without sending.
  p.dispatched = true;
  if (run_id) p.run_id = *run_id;
  ActionProgress done = p;
  done.stage = ProgressStage::kDone;
  done.outcome = message;
  done.request_id = r.id;
  // The request and the action are marked in one transaction, so the store
  // never shows a done action whose request still looks pending.
  if (Status s = actions_.FinishDispatched(p.claim, r.id, run_id, done.Dump(), NowMs()); !s.ok()) {
    return StoreFailed(a, p, s);
  }
  static_cast<ActionProgress&>(p) = std::move(done);
  Count(a, ExecOutcome::kDone);
  return {ExecOutcome::kDone, std::move(message), run_id, r.id};
}

ActionOutcome ActionExecutor::Abort(const store::ActionRecord& a, Progress& p, std::string why) {
  return Give(a, p, std::move(why), store::ActionStatus::kAborted, ExecOutcome::kAborted);
}

ActionOutcome ActionExecutor::Refuse(const store::ActionRecord& a, Progress& p, std::string why) {
  return Give(a, p, std::move(why), store::ActionStatus::kRefused, ExecOutcome::kRefused);
}

ActionOutcome ActionExecutor::Give(const store::ActionRecord& a, Progress& p, std::string why,
                                   store::ActionStatus status, ExecOutcome outcome) {
  p.outcome = why;
  if (Status s = actions_.Finish(p.claim, status, p.Dump(), why, NowMs()); !s.ok()) {
    if (store::ClaimWasLost(s)) return Lost(a, s);
    // Left running: the lease runs out and the action is judged again.
  }
  Count(a, outcome);
  return {outcome, std::move(why), {}, {}};
}

ActionOutcome ActionExecutor::Fail(const store::ActionRecord& a, Progress& p, std::string why) {
  p.outcome = why;
  if (Status s = actions_.Finish(p.claim, store::ActionStatus::kFailed, p.Dump(), why, NowMs());
      !s.ok()) {
    if (store::ClaimWasLost(s)) return Lost(a, s);
  }
  Count(a, ExecOutcome::kFailed);
  return {ExecOutcome::kFailed, std::move(why), {}, {}};
}

ActionOutcome ActionExecutor::Lost(const store::ActionRecord& a, const Status& why) {
  Count(a, ExecOutcome::kLost);
  return {ExecOutcome::kLost, why.message(), {}, {}};
}

ActionOutcome ActionExecutor::StoreFailed(const store::ActionRecord& a, Progress& p,
                                          const Status& error) {
  if (store::ClaimWasLost(error)) return Lost(a, error);
  // The store failing (busy, full disk) is transient whatever SQLite called it.
  return RetryOrFail(a, p, Status::Unavailable("store: " + error.message()));
}

ActionOutcome ActionExecutor::RetryOrFail(const store::ActionRecord& a, Progress& p,
                                          const Status& error) {
  p.error = error;
  if (Stopping()) {
    // Cut short by a stop, not a failure: due again at once, attempt not
    // counted, progress kept.
    Status s = actions_.Retry(p.claim, NowMs(), "interrupted by stop: " + error.message(), p.Dump(),
                              NowMs(), /*count_attempt=*/false);
    if (store::ClaimWasLost(s)) return Lost(a, s);
    Count(a, ExecOutcome::kRetrying);
    return {ExecOutcome::kRetrying, error.message(), {}, {}};
  }
  if (!Transient(error)) {
    ActionOutcome out = Fail(a, p, error.message());
    out.error = error;
    return out;
  }
  if (a.attempts + 1 >= options_.max_attempts) {
    ActionOutcome out = Fail(
        a, p, "gave up after " + std::to_string(a.attempts + 1) + " attempts: " + error.message());
    out.error = error;
    return out;
  }
  // Exponential backoff with "equal jitter": half fixed, half random.
  int64_t backoff =
      (a.kind == store::ActionKind::kNotify ? options_.notify_retry_base : options_.retry_base)
          .count();
  for (int64_t i = 0; i < a.attempts && backoff < options_.retry_max.count(); ++i) backoff *= 2;
  backoff = std::min<int64_t>(backoff, options_.retry_max.count());
  std::uniform_int_distribution<int64_t> spread(0, backoff / 2);
  int64_t jitter;
  {
    MutexLock lock(cache_mu_);
    jitter = spread(jitter_);
  }
  const int64_t next = NowMs() + backoff / 2 + jitter;
  Status s = actions_.Retry(p.claim, next, error.message(), p.Dump(), NowMs());
  if (store::ClaimWasLost(s)) return Lost(a, s);
  Count(a, ExecOutcome::kRetrying);
  return {ExecOutcome::kRetrying, error.message(), {}, {}, error};
}

void ActionExecutor::Count(const store::ActionRecord& a, ExecOutcome outcome) {
  // The metric's label for a retry is "retry" (PRODUCT.md).
  const std::string_view label =
      outcome == ExecOutcome::kRetrying ? "retry" : ExecOutcomeName(outcome);
  metrics_
      .GetCounter(
          "relayq_routing_actions_total", "Routing action attempts by kind and outcome",
          {{"kind", std::string(store::ActionKindName(a.kind))}, {"outcome", std::string(label)}})
      ->Increment();
}

Result<policy::RunnerAvailability> ActionExecutor::Availability(const std::string& repo) {
  const MonoTime now = clock_.Monotonic();
  {
    MutexLock lock(cache_mu_);
    auto it = runners_.find(repo);
    if (it != runners_.end() && now - it->second.fetched_at <= options_.runner_cache_ttl) {
      return it->second.availability;
    }
  }
  // Fetched outside the lock: a slow API call must not stall other workers.
  auto runners = github_.ListRunners(repo);
  if (!runners.ok()) return runners.status();  // not cached: each route asks again
  CachedRunners fresh;
  fresh.fetched_at = now;
  for (const auto& r : *runners) {
    fresh.availability.runners.push_back({r.name, r.labels, r.online(), r.busy});
  }
  MutexLock lock(cache_mu_);
  runners_[repo] = fresh;
  return fresh.availability;
}

void ActionExecutor::Start() {
  {
    MutexLock lock(held_mu_);
    heartbeat_due_ = clock_.Monotonic() + IdleHeartbeat();
  }
  workers_.Start();
  heartbeat_.Start();
}

void ActionExecutor::Wake() { workers_.Wake(); }

void ActionExecutor::Stop() {
  workers_.RequestStop();
  heartbeat_.RequestStop();
  if (options_.github_sleeper != nullptr) options_.github_sleeper->Stop();
  workers_.Stop();
  heartbeat_.Stop();
}

void ActionExecutor::WorkerPass(PeriodicWorker::Pass& pass) {
  const int handled = RunDue();
  auto next =
      options_.only_kind ? actions_.NextDueTimeOfKind(*options_.only_kind) : actions_.NextDueTime();
  std::chrono::milliseconds wait = options_.idle_wake;
  if (next.ok() && *next) {
    wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(0, **next - NowMs())));
  } else if (next.ok()) {
    // Nothing is scheduled at all: one worker keeps the idle_wake look for
    // actions another process records; the others sleep until Wake().
    MutexLock lock(held_mu_);
    const std::thread::id me = std::this_thread::get_id();
    if (idle_looker_ == std::thread::id()) idle_looker_ = me;
    if (idle_looker_ != me) wait = std::max(wait, kIdleHeartbeat * 24);
  }
  // Something is due but could not be claimed (the store was busy, or it
  // is another live owner's): do not spin on it.
  if (handled == 0 && wait.count() == 0) wait = std::chrono::milliseconds(50);
  pass.next = wait;
}

}  // namespace relayq::handlers
