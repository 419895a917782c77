#include "store/lifecycle.h"

#include <algorithm>

namespace relayq::store {

std::optional<int64_t> JobState::WaitSeconds() const {
  if (!queued_at || !started_at) return std::nullopt;
  int64_t ms = *started_at - *queued_at;
  return ms < 0 ? 0 : ms / 1000;
}

std::optional<int64_t> JobState::DurationSeconds() const {
  if (!started_at || !completed_at) return std::nullopt;
  int64_t ms = *completed_at - *started_at;
  return ms < 0 ? 0 : ms / 1000;
}

JobStage JobStageOf(std::string_view status) {
  if (status == "waiting") return JobStage::kWaiting;
  if (status == "queued" || status == "pending" || status == "requested") return JobStage::kQueued;
  if (status == "in_progress") return JobStage::kInProgress;
  if (status == "completed") return JobStage::kCompleted;
  return JobStage::kUnknown;
}

namespace {

// The step of a job status in lifecycle order, finer than JobStageOf: within
// kQueued, requested and pending come before queued. 0 for an unknown status.
int JobStep(std::string_view status) {
  if (status == "waiting") return 10;
  if (status == "requested" || status == "pending") return 20;
  if (status == "queued") return 21;
  if (status == "in_progress") return 30;
  if (status == "completed") return 40;
  return 0;
}

}  // namespace

bool JobStatusIsLater(std::string_view later, std::string_view earlier) {
  return JobStep(later) > JobStep(earlier);
}

RunStage RunStageOf(std::string_view status) {
  if (status == "requested" || status == "queued" || status == "pending" || status == "waiting") {
    return RunStage::kQueued;
  }
  if (status == "in_progress") return RunStage::kInProgress;
  if (status == "completed") return RunStage::kCompleted;
  return RunStage::kUnknown;
}

namespace {

template <typename T>
void FillIfMissing(std::optional<T>& dst, const std::optional<T>& src) {
  if (!dst && src) dst = src;
}

void FillIfEmpty(std::string& dst, const std::string& src) {
  if (dst.empty() && !src.empty()) dst = src;
}

// The status an event stands for: its status field, or its action when the
// status is missing or unknown.
std::string_view EventJobStatus(const JobEvent& e) {
  return JobStep(e.status) != 0 ? std::string_view(e.status) : std::string_view(e.action);
}

constexpr int kQueuedStep = 21;

bool SameJob(const JobState& a, const JobState& b) {
  return a.status == b.status && a.conclusion == b.conclusion && a.runner_name == b.runner_name &&
         a.runner_group == b.runner_group && a.queued_at == b.queued_at &&
         a.started_at == b.started_at && a.completed_at == b.completed_at && a.labels == b.labels &&
         a.name == b.name && a.workflow_name == b.workflow_name && a.repository == b.repository &&
         a.run_id == b.run_id;
}

}  // namespace

JobMerge MergeJobEvent(const std::optional<JobState>& current, const JobEvent& e,
                       int64_t received_at) {
  const std::string_view event_status = EventJobStatus(e);
  const int event_step = JobStep(event_status);
  const JobStage event_stage = JobStageOf(event_status);
  const bool has_runner =
      event_stage >= JobStage::kInProgress && e.runner_name && !e.runner_name->empty();
  JobState s;
  if (current) {
    s = *current;
  } else {
    s.id = e.job_id;
    s.run_id = e.run_id;
    s.run_attempt = e.run_attempt;
  }
  const JobStage current_stage = current ? JobStageOf(s.status) : JobStage::kUnknown;
  const int current_step = current ? JobStep(s.status) : 0;

  // Facts that do not change over a job's life: fill whatever is missing.
  if (s.run_id == 0) s.run_id = e.run_id;
  FillIfEmpty(s.repository, e.repository);
  FillIfEmpty(s.workflow_name, e.workflow_name);
  FillIfEmpty(s.name, e.name);
  if (s.labels.empty() && !e.labels.empty()) s.labels = e.labels;
  FillIfMissing(s.queued_at, e.created_at);

  // Facts only a job that reached a runner has. GitHub fills started_at on
  // queued events and on jobs cancelled before any runner took them, so a
  // start time counts only with a runner or an in_progress event.
  if (has_runner) {
    FillIfMissing(s.runner_name, e.runner_name);
    FillIfMissing(s.runner_group, e.runner_group);
  }
  if ((event_stage == JobStage::kInProgress || has_runner) && e.started_at)
    FillIfMissing(s.started_at, e.started_at);
  if (event_stage == JobStage::kCompleted) FillIfMissing(s.completed_at, e.completed_at);

  bool status_changed = false;
  if (event_step > current_step) {
    // Leaving waiting/requested/pending for the queue: the queue time starts
    // now (see the header), not at creation. A job that ended without
    // reaching a runner (rejected, cancelled while waiting) never queued.
    const bool reached_queue = event_stage <= JobStage::kInProgress || s.started_at.has_value();
    if (current_step != 0 && current_step < kQueuedStep && event_step >= kQueuedStep &&
        reached_queue) {
      int64_t entered = received_at;
      if (e.created_at) entered = std::max(entered, *e.created_at);
      if (s.started_at) entered = std::min(entered, *s.started_at);
      s.queued_at = entered;
    }
    s.status = std::string(event_status);
    if (event_stage == JobStage::kCompleted) s.conclusion = e.conclusion;
    status_changed = true;
  } else if (event_stage == JobStage::kCompleted && current_stage == JobStage::kCompleted) {
    FillIfMissing(s.conclusion, e.conclusion);
  }

  bool changed = !current || !SameJob(*current, s);
  if (changed) s.updated_at = received_at;
  return JobMerge{std::move(s), changed, status_changed};
}

RunMerge MergeRunEvent(const std::optional<RunState>& current, const RunEvent& e) {
  RunStage event_stage = RunStageOf(e.status);
  if (event_stage == RunStage::kUnknown) event_stage = RunStageOf(e.action);
  RunState s;
  if (current) {
    s = *current;
  } else {
    s.id = e.run_id;
    s.attempt = e.attempt;
  }
  const RunStage current_stage = current ? RunStageOf(s.status) : RunStage::kUnknown;

  FillIfEmpty(s.repository, e.repository);
  FillIfEmpty(s.workflow_path, e.workflow_path);
  FillIfEmpty(s.workflow_name, e.workflow_name);
  FillIfEmpty(s.event, e.event);
  FillIfMissing(s.display_title, e.display_title);
  FillIfMissing(s.html_url, e.html_url);
  FillIfMissing(s.head_branch, e.head_branch);
  FillIfMissing(s.head_sha, e.head_sha);
  FillIfMissing(s.created_at, e.created_at);
  FillIfMissing(s.run_started_at, e.run_started_at);

  const bool later_same_stage = current && event_stage == current_stage && e.updated_at &&
                                (!s.updated_at || *e.updated_at > *s.updated_at);
  bool status_changed = false;
  if (event_stage > current_stage || later_same_stage) {
    status_changed = event_stage > current_stage || s.status != e.status;
    s.status = e.status.empty() ? e.action : e.status;
    s.conclusion = event_stage == RunStage::kCompleted ? e.conclusion : std::nullopt;
    if (e.updated_at) s.updated_at = e.updated_at;
    if (e.display_title) s.display_title = e.display_title;
  }

  bool changed = !current || status_changed || current->updated_at != s.updated_at ||
                 current->display_title != s.display_title || current->html_url != s.html_url ||
                 current->created_at != s.created_at || current->workflow_path != s.workflow_path ||
                 current->head_branch != s.head_branch;
  return RunMerge{std::move(s), changed, status_changed};
}

}  // namespace relayq::store
