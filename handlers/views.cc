#include "handlers/views.h"

namespace relayq::handlers {

policy::JobView MakeJobView(const store::JobState& job, const std::optional<store::RunState>& run,
                            const std::optional<store::DispatchRequest>& request) {
  policy::JobView v;
  v.job_id = job.id;
  v.run_id = job.run_id;
  v.run_attempt = static_cast<int>(job.run_attempt);
  v.repository = job.repository;
  v.labels = job.labels;
  v.status = job.status;
  v.queued_at_ms = job.queued_at.value_or(job.updated_at);
  if (run) {
    v.workflow_path = run->workflow_path;
    v.head_branch = run->head_branch.value_or("");
    v.run_html_url = run->html_url.value_or("");
  }
  if (request) {
    v.fallback_count = static_cast<int>(request->fallback_count);
    v.inputs = request->inputs;
    v.input_size_bytes = policy::InputSizeBytes(request->inputs);
    if (v.head_branch.empty()) v.head_branch = request->ref;
  }
  return v;
}

policy::RunView MakeRunView(const store::RunState& run,
                            const std::optional<store::DispatchRequest>& request) {
  policy::RunView v;
  v.id = run.id;
  v.attempt = static_cast<int>(run.attempt);
  v.repository = run.repository;
  v.workflow_path = run.workflow_path;
  v.status = run.status;
  v.conclusion = run.conclusion.value_or("");
  v.head_branch = run.head_branch.value_or("");
  v.head_sha = run.head_sha.value_or("");
  v.html_url = run.html_url.value_or("");
  v.display_title = run.display_title.value_or("");
  if (request) v.inputs = request->inputs;
  return v;
}

}  // namespace relayq::handlers
