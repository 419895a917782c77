#include "policy/decide.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "common/time_format.h"

namespace relayq::policy {

namespace {

std::string LabelList(const std::vector<std::string>& labels) {
  std::string out = "[";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += labels[i];
  }
  return out + "]";
}

std::string Seconds(int64_t ms) {
  return FormatDuration(std::chrono::seconds(std::max<int64_t>(ms, 0) / 1000));
}

bool RepositoryAllowed(const std::vector<std::string>& allowed, std::string_view repository) {
  if (allowed.empty()) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& r) { return EqualsIgnoreCase(r, repository); });
}

// True when some online runner carries every label of `labels`.
bool AnyOnline(const RunnerAvailability& avail, const std::vector<std::string>& labels) {
  return std::any_of(avail.runners.begin(), avail.runners.end(), [&](const RunnerView& r) {
    return r.online && HasAllLabels(r.labels, labels);
  });
}

TemplateContext ContextFor(const JobView& job) {
  TemplateContext ctx;
  ctx.inputs = job.inputs.has_value() ? &*job.inputs : nullptr;
  ctx.run_id = job.run_id;
  ctx.run_attempt = job.run_attempt;
  ctx.run_html_url = job.run_html_url;
  ctx.run_head_branch = job.head_branch;
  ctx.repository = job.repository;
  return ctx;
}

FallbackDecision Refuse(const Route* route, RefusalReason why, std::string reason) {
  FallbackDecision d;
  d.kind = FallbackDecision::Kind::kRefused;
  d.route = route;
  d.refusal = why;
  d.reason = std::move(reason);
  return d;
}

// Everything about a fallback that does not depend on `now`: rules 1-6 of
// the file comment, the deadline, and the dispatch it would make. Returns a
// decision of kind kNotDue for a job still in the running.
FallbackDecision Evaluate(const Policy& policy, const JobView& job,
                          const RunnerAvailability* avail) {
  FallbackDecision d;
  const Route* route = MatchRoute(policy, job);
  if (route == nullptr) return d;  // kNotGoverned
  d.route = route;
  if (job.status != "queued") {
    d.kind = FallbackDecision::Kind::kNotQueued;
    return d;
  }
  if (job.fallback_count >= route->max_fallbacks) {
    return Refuse(route, RefusalReason::kMaxFallbacks,
                  "the request already fell back " + std::to_string(job.fallback_count) +
                      " time(s); route '" + route->name + "' allows max_fallbacks " +
                      std::to_string(route->max_fallbacks));
  }
  const auto& max_mb = route->constraints.max_size_mb;
  if (max_mb.has_value() && job.input_size_bytes.has_value() &&
      *job.input_size_bytes > *max_mb * kBytesPerMb) {
    return Refuse(route, RefusalReason::kInputTooLarge,
                  "the input is " + std::to_string(*job.input_size_bytes) +
                      " bytes, over max_size_mb " + std::to_string(*max_mb) + " of route '" +
                      route->name + "'");
  }
  if (!job.inputs.has_value() && route->unknown_inputs == UnknownInputsAction::kRefuse) {
    return Refuse(route, RefusalReason::kInputsUnknown,
                  "the run was not submitted through relayq dispatch, so its original inputs are "
                  "unknown and a fallback could not repeat them (route '" +
                      route->name + "' has unknown_inputs: refuse)");
  }
  if (job.head_branch.empty()) {
    return Refuse(route, RefusalReason::kNoRef,
                  "the run's branch is unknown, so the fallback has no ref to dispatch on");
  }

  d.kind = FallbackDecision::Kind::kNotDue;
  d.idempotency_key = FallbackKey(job.run_id, job.run_attempt);
  d.target_workflow = route->fallback_workflow.empty()
                          ? std::string(WorkflowBasename(job.workflow_path))
                          : route->fallback_workflow;
  d.target_labels = route->fallback;
  d.ref = job.head_branch;
  d.inputs_known = job.inputs.has_value();
  if (job.inputs.has_value()) d.inputs = *job.inputs;
  TemplateContext ctx = ContextFor(job);
  for (const auto& [name, tmpl] : route->fallback_inputs) {
    auto value = tmpl.Render(ctx);
    if (!value.ok()) {
      return Refuse(route, RefusalReason::kInputTemplate,
                    "fallback_inputs." + name + ": " + value.status().message());
    }
    d.inputs[name] = std::move(value).value();
  }

  int64_t timeout_ms = route->queue_timeout.count();
  d.due_at_ms = job.queued_at_ms + timeout_ms;
  d.reason = "queued on " + LabelList(route->prefer) + " longer than queue_timeout " +
             Seconds(timeout_ms) + " of route '" + route->name + "'";
  if (route->fallback_when_offline && avail != nullptr && !AnyOnline(*avail, route->prefer)) {
    int64_t early = job.queued_at_ms + route->offline_grace.count();
    if (early < d.due_at_ms) {
      d.due_at_ms = early;
      d.preferred_offline = true;
      d.reason = "no online runner carries " + LabelList(route->prefer) + " and the job waited " +
                 "offline_grace " + Seconds(route->offline_grace.count()) + " (route '" +
                 route->name + "')";
    }
  }
  return d;
}

// Rule 8: a required capability that the fallback labels do not list must be
// carried by every registered runner with the fallback labels (GitHub may
// hand the fallback to any of them), and there must be at least one.
std::optional<FallbackDecision> CheckCapabilities(const Route& route,
                                                  const RunnerAvailability* avail) {
  for (const std::string& cap : route.constraints.required_labels) {
    if (HasAllLabels(route.fallback, {cap})) continue;
    std::string need = "route '" + route.name + "' needs '" + cap + "' but the fallback labels " +
                       LabelList(route.fallback) + " do not include it";
    if (avail == nullptr) {
      return Refuse(&route, RefusalReason::kMissingCapability,
                    need + ", and the runner status is unknown");
    }
    bool any = false;
    for (const RunnerView& r : avail->runners) {
      if (!HasAllLabels(r.labels, route.fallback)) continue;
      any = true;
      if (!HasAllLabels(r.labels, {cap})) {
        return Refuse(&route, RefusalReason::kMissingCapability,
                      need + ", and runner '" + r.name + "' would take it without '" + cap + "'");
      }
    }
    if (!any) {
      return Refuse(&route, RefusalReason::kMissingCapability,
                    need + ", and no registered runner carries " + LabelList(route.fallback));
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view RefusalReasonName(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kMaxFallbacks:
      return "max_fallbacks";
    case RefusalReason::kInputTooLarge:
      return "input_too_large";
    case RefusalReason::kInputsUnknown:
      return "inputs_unknown";
    case RefusalReason::kInputTemplate:
      return "input_template";
    case RefusalReason::kNoRef:
      return "no_ref";
    case RefusalReason::kMissingCapability:
      return "missing_capability";
  }
  return "unknown";
}

const Route* MatchRoute(const Policy& policy, const JobView& job) {
  std::string_view workflow = WorkflowBasename(job.workflow_path);
  for (const Route& r : policy.routes) {
    if (!r.match.workflow.empty() && r.match.workflow != workflow) continue;
    if (!HasAllLabels(job.labels, r.match.labels)) continue;
    if (!RepositoryAllowed(r.match.repositories, job.repository)) continue;
    return &r;
  }
  return nullptr;
}

FallbackDecision DecideFallback(const Policy& policy, const JobView& job,
                                const RunnerAvailability* availability, int64_t now_ms) {
  FallbackDecision d = Evaluate(policy, job, availability);
  if (d.kind != FallbackDecision::Kind::kNotDue || now_ms < d.due_at_ms) return d;
  if (auto refused = CheckCapabilities(*d.route, availability)) return *refused;
  d.kind = FallbackDecision::Kind::kDue;
  return d;
}

FallbackDecision PlanFallback(const Policy& policy, const JobView& job) {
  FallbackDecision d = Evaluate(policy, job, /*avail=*/nullptr);
  if (d.kind == FallbackDecision::Kind::kRefused) {
    d.due_at_ms = job.queued_at_ms + d.route->queue_timeout.count();
  }
  return d;
}

std::optional<int64_t> FallbackDeadline(const Policy& policy, const JobView& job,
                                        const RunnerAvailability* availability) {
  FallbackDecision d = Evaluate(policy, job, availability);
  if (d.kind != FallbackDecision::Kind::kNotDue) return std::nullopt;
  return d.due_at_ms;
}

std::vector<ChainDispatch> DecideChains(const Policy& policy, const RunView& run) {
  std::vector<ChainDispatch> out;
  if (run.status != "completed") return out;
  std::string_view workflow = WorkflowBasename(run.workflow_path);
  TemplateContext ctx;
  ctx.inputs = run.inputs.has_value() ? &*run.inputs : nullptr;
  ctx.run_id = run.id;
  ctx.run_attempt = run.attempt;
  ctx.run_html_url = run.html_url;
  ctx.run_head_branch = run.head_branch;
  ctx.run_head_sha = run.head_sha;
  ctx.run_conclusion = run.conclusion;
  ctx.run_display_title = run.display_title;
  ctx.repository = run.repository;

  for (const Chain& c : policy.chains) {
    if (c.after_workflow != workflow) continue;
    if (!RepositoryAllowed(c.repositories, run.repository)) continue;
    if (!c.conclusions.empty() && std::find(c.conclusions.begin(), c.conclusions.end(),
                                            run.conclusion) == c.conclusions.end()) {
      continue;
    }
    ChainDispatch cd;
    cd.chain = &c;
    cd.chain_name = c.name;
    cd.idempotency_key = ChainKey(c.name, run.id, run.attempt);
    cd.repository = c.dispatch_repository.empty() ? run.repository : c.dispatch_repository;
    cd.workflow = c.dispatch_workflow;
    if (c.ref.has_value()) {
      auto ref = c.ref->Render(ctx);
      if (!ref.ok()) {
        cd.status = ref.status().WithContext("dispatch.ref");
      } else {
        cd.ref = std::move(ref).value();
      }
    } else {
      cd.ref = run.head_branch;
    }
    if (cd.status.ok() && cd.ref.empty()) {
      cd.status = Status::NotFound(
          "the ref renders empty (the run's head_branch is unknown); set "
          "dispatch.ref in chain '" +
          c.name + "'");
    }
    for (const auto& [name, tmpl] : c.inputs) {
      if (!cd.status.ok()) break;
      auto value = tmpl.Render(ctx);
      if (!value.ok()) {
        cd.status = value.status().WithContext("dispatch.inputs." + name);
        break;
      }
      cd.inputs[name] = std::move(value).value();
    }
    if (!cd.status.ok()) cd.inputs.clear();
    out.push_back(std::move(cd));
  }
  return out;
}

std::string FallbackKey(int64_t run_id, int run_attempt) {
  return "fallback:" + std::to_string(run_id) + ":" + std::to_string(run_attempt);
}

std::string ChainKey(std::string_view chain_name, int64_t run_id, int run_attempt) {
  return "chain:" + std::string(chain_name) + ":" + std::to_string(run_id) + ":" +
         std::to_string(run_attempt);
}

std::optional<int64_t> InputSizeBytes(const std::map<std::string, std::string>& inputs) {
  if (auto it = inputs.find("size_bytes"); it != inputs.end()) {
    const std::string& s = it->second;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && v >= 0) return v;
  }
  if (auto it = inputs.find("size_mb"); it != inputs.end()) {
    const std::string& s = it->second;
    double mb = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), mb);
    constexpr double kMaxMb =
        static_cast<double>(std::numeric_limits<int64_t>::max() / kBytesPerMb);
    if (ec == std::errc() && end == s.data() + s.size() && std::isfinite(mb) && mb >= 0 &&
        mb < kMaxMb) {
      return static_cast<int64_t>(std::ceil(mb * static_cast<double>(kBytesPerMb)));
    }
  }
  return std::nullopt;
}

}  // namespace relayq::policy
