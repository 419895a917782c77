#include "handlers/router.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/log.h"
#include "common/time_format.h"
#include "handlers/views.h"
#include "policy/policy_reader.h"
#include "store/lifecycle.h"

namespace relayq::handlers {
namespace {

using nlohmann::json;
using policy::FallbackDecision;

std::string Dump(const json& j) { return DumpJson(j); }

// One log line per routing decision the router records. A redelivered event
// judged again logs again; the store keeps the first action of each key.
void LogDecision(std::string_view decision, const store::NewAction& a,
                 std::optional<int64_t> job_id = std::nullopt) {
  LogFields f = {{"decision", std::string(decision)},
                 {"kind", std::string(store::ActionKindName(a.kind))},
                 {"key", a.key},
                 {"repo", a.repository}};
  if (job_id) f.emplace_back("job_id", std::to_string(*job_id));
  if (a.run_id) f.emplace_back("run_id", std::to_string(*a.run_id));
  f.emplace_back("status", std::string(store::ActionStatusName(a.status)));
  f.emplace_back("why", a.reason);
  if (a.last_error) f.emplace_back("error", *a.last_error);
  Log(a.status == store::ActionStatus::kFailed ? LogLevel::kWarn : LogLevel::kInfo,
      "routing decision", f);
}

}  // namespace

std::vector<store::NewAction> Router::OnLifecycleChange(const store::LifecycleChange& change,
                                                        store::TxnReader& reader) {
  std::vector<store::NewAction> out;
  std::shared_ptr<const policy::Policy> policy = policy_.Get();
  if (!policy || (policy->routes.empty() && policy->chains.empty())) return out;
  const int64_t now = change.delivery->received_at;

  if (change.job && change.job_status_changed &&
      store::JobStageOf(change.job->status) == store::JobStage::kQueued) {
    std::optional<store::RunState> run =
        reader.FindRun(change.job->run_id, change.job->run_attempt);
    if (run) JudgeQueuedJob(*policy, *change.job, *run, reader, now, out);
  }
  if (change.run) {
    const store::RunState& run = *change.run;
    // The run may have arrived after its jobs: judge those still queued.
    if (!policy->routes.empty()) {
      for (const store::JobState& job : reader.JobsOfRun(run.id, run.attempt)) {
        if (store::JobStageOf(job.status) == store::JobStage::kQueued) {
          JudgeQueuedJob(*policy, job, run, reader, now, out);
        }
      }
    }
    if (change.run_status_changed && store::RunStageOf(run.status) == store::RunStage::kCompleted &&
        !policy->chains.empty()) {
      std::optional<store::DispatchRequest> request = reader.RequestForRun(run.id);
      for (const policy::ChainDispatch& c :
           policy::DecideChains(*policy, MakeRunView(run, request))) {
        store::NewAction a;
        a.kind = store::ActionKind::kChain;
        a.key = c.idempotency_key;
        a.repository = c.repository;
        a.run_id = run.id;
        a.run_attempt = run.attempt;
        a.reason = "chain " + c.chain_name + " after " +
                   std::string(policy::WorkflowBasename(run.workflow_path)) + " run " +
                   std::to_string(run.id) + " (" + run.conclusion.value_or("") + ")";
        json payload = {{"chain", c.chain_name},
                        {"repository", c.repository},
                        {"workflow", c.workflow},
                        {"ref", c.ref},
                        {"inputs", c.inputs},
                        {"source_run_id", run.id},
                        {"source_run_attempt", run.attempt}};
        if (request) payload["parent_request_id"] = request->id;
        a.payload = Dump(payload);
        if (c.status.ok()) {
          a.status = store::ActionStatus::kPending;
          a.due_at = now;
        } else {
          a.status = store::ActionStatus::kFailed;
          a.last_error = c.status.message();
        }
        LogDecision(c.status.ok() ? "chain planned" : "chain failed", a);
        out.push_back(std::move(a));
      }
    }
  }
  return out;
}

void Router::JudgeQueuedJob(const policy::Policy& policy, const store::JobState& job,
                            const store::RunState& run, store::TxnReader& reader, int64_t now,
                            std::vector<store::NewAction>& out) {
  std::optional<store::DispatchRequest> request = reader.RequestForRun(run.id);
  policy::JobView view = MakeJobView(job, run, request);
  // Never DecideFallback here: lateness and needs_* constraints are judged at
  // the deadline with the runner status of that moment (by the executor). A
  // job whose webhook arrives after its deadline is scheduled due now.
  FallbackDecision d = policy::PlanFallback(policy, view);
  if (d.kind == FallbackDecision::Kind::kNotGoverned) {
    Log(LogLevel::kInfo, "routing decision",
        {{"decision", "no route matched"},
         {"repo", job.repository},
         {"job_id", std::to_string(job.id)},
         {"run_id", std::to_string(job.run_id)},
         {"workflow", std::string(policy::WorkflowBasename(run.workflow_path))}});
    return;
  }
  if (d.kind == FallbackDecision::Kind::kNotQueued) return;
  store::NewAction a;
  a.kind = store::ActionKind::kFallback;
  a.key = policy::FallbackKey(job.run_id, static_cast<int>(job.run_attempt));
  a.repository = job.repository;
  a.job_id = job.id;
  a.run_id = job.run_id;
  a.run_attempt = job.run_attempt;
  json payload = {{"route", d.route->name}, {"job_id", job.id}};
  if (request) payload["request_id"] = request->id;
  a.payload = Dump(payload);
  // Refusals depend on the request behind the run (its inputs, how often it
  // fell back), so one is final only once the run is linked to its request.
  // Until then the link may still come (the dispatch answer, with
  // return_run_details, can be recorded after the run's webhooks): the job
  // is scheduled and judged again at its deadline with what is linked then.
  if (d.kind == FallbackDecision::Kind::kRefused && request) {
    // Known at once and for good: recorded so the audit log says why relayq
    // will not move this job.
    a.status = store::ActionStatus::kRefused;
    a.reason = "route " + d.route->name + ": " + d.reason;
    a.last_error = std::string(policy::RefusalReasonName(d.refusal));
    LogDecision("refused", a, job.id);
    out.push_back(std::move(a));
    return;
  }
  a.status = store::ActionStatus::kScheduled;
  a.due_at = d.due_at_ms;
  std::optional<int64_t> early;
  if (d.route->fallback_when_offline) {
    // The runner status is only known to the executor (an API call): wake
    // at the earliest moment an offline fallback could be due; if the
    // preferred runners are online then, the executor reschedules to the
    // full queue_timeout.
    a.due_at = std::min(d.due_at_ms, view.queued_at_ms + d.route->offline_grace.count());
    if (*a.due_at < d.due_at_ms) early = a.due_at;
  }
  a.reason = "route " + d.route->name + ": job " + std::to_string(job.id) + " queued at " +
             FormatRfc3339(view.queued_at_ms) +
             (d.due_at_ms <= now ? ", already past its deadline " : ", falls back at ") +
             FormatRfc3339(d.due_at_ms);
  if (d.kind == FallbackDecision::Kind::kRefused) {
    a.reason += " unless still refused then (" + std::string(policy::RefusalReasonName(d.refusal)) +
                ": the run is not linked to a relayq request yet)";
  }
  if (early) {
    // Said here so the reason never names only the later time.
    a.reason += ", or at " + FormatRfc3339(*early) + " if no runner carrying " +
                policy::LabelList(d.route->prefer) + " is online then";
  }
  LogDecision("fallback planned", a, job.id);
  out.push_back(std::move(a));
}

}  // namespace relayq::handlers
