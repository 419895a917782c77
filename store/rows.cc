#include "store/rows.h"

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace relayq::store {

std::string LabelsJson(const std::vector<std::string>& labels) {
  return DumpJson(nlohmann::json(labels));
}

std::vector<std::string> ParseLabels(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string InputsJson(const std::map<std::string, std::string>& inputs) {
  return DumpJson(nlohmann::json(inputs));
}

namespace {

// One column into a field of the matching type; JSON columns (labels,
// inputs) are parsed here.
void Read(const Stmt& q, int col, int64_t& out) { out = q.Int(col); }
void Read(const Stmt& q, int col, std::optional<int64_t>& out) { out = q.OptInt(col); }
void Read(const Stmt& q, int col, std::string& out) { out = q.Text(col); }
void Read(const Stmt& q, int col, std::optional<std::string>& out) { out = q.OptText(col); }
void Read(const Stmt& q, int col, ActionKind& out) { out = ParseActionKind(q.Text(col)); }
void Read(const Stmt& q, int col, ActionStatus& out) { out = ParseActionStatus(q.Text(col)); }
void Read(const Stmt& q, int col, RequestStatus& out) { out = ParseRequestStatus(q.Text(col)); }
void Read(const Stmt& q, int col, std::vector<std::string>& labels) {
  labels = ParseLabels(q.Text(col));
}
void Read(const Stmt& q, int col, std::map<std::string, std::string>& inputs) {
  inputs.clear();
  auto j = nlohmann::json::parse(q.Text(col), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_string()) inputs[it.key()] = it->get<std::string>();
  }
}

// Reads columns 0, 1, 2, ... into `fields`, in order.
template <typename... T>
void ReadColumns(const Stmt& q, T&... fields) {
  int col = 0;
  (Read(q, col++, fields), ...);
}

}  // namespace

// Each reads the columns of its k*Columns (rows.h) in that order.

JobState JobFromRow(const Stmt& q) {
  JobState s;
  ReadColumns(q, s.id, s.run_id, s.run_attempt, s.repository, s.workflow_name, s.name, s.labels,
              s.status, s.conclusion, s.runner_name, s.runner_group, s.queued_at, s.started_at,
              s.completed_at, s.updated_at);
  return s;
}

RunState RunFromRow(const Stmt& q) {
  RunState s;
  ReadColumns(q, s.id, s.attempt, s.repository, s.workflow_path, s.workflow_name, s.display_title,
              s.event, s.status, s.conclusion, s.html_url, s.head_branch, s.head_sha, s.created_at,
              s.updated_at, s.run_started_at);
  return s;
}

DispatchRequest RequestFromRow(const Stmt& q) {
  DispatchRequest r;
  ReadColumns(q, r.id, r.repository, r.workflow, r.ref, r.inputs, r.status, r.run_id, r.parent_id,
              r.fallback_count, r.last_error, r.created_at, r.updated_at);
  return r;
}

ActionRecord ActionFromRow(const Stmt& q) {
  ActionRecord a;
  ReadColumns(q, a.id, a.kind, a.key, a.repository, a.status, a.due_at, a.next_attempt_at,
              a.attempts, a.last_error, a.reason, a.payload, a.result, a.job_id, a.run_id,
              a.run_attempt, a.created_at, a.updated_at, a.done_at);
  return a;
}

}  // namespace relayq::store
