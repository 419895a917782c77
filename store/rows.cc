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

JobState JobFromRow(const Stmt& q) {
  JobState s;
  s.id = q.Int(0);
  s.run_id = q.Int(1);
  s.run_attempt = q.Int(2);
  s.repository = q.Text(3);
  s.workflow_name = q.Text(4);
  s.name = q.Text(5);
  s.labels = ParseLabels(q.Text(6));
  s.status = q.Text(7);
  s.conclusion = q.OptText(8);
  s.runner_name = q.OptText(9);
  s.runner_group = q.OptText(10);
  s.queued_at = q.OptInt(11);
  s.started_at = q.OptInt(12);
  s.completed_at = q.OptInt(13);
  s.updated_at = q.Int(14);
  return s;
}

RunState RunFromRow(const Stmt& q) {
  RunState s;
  s.id = q.Int(0);
  s.attempt = q.Int(1);
  s.repository = q.Text(2);
  s.workflow_path = q.Text(3);
  s.workflow_name = q.Text(4);
  s.display_title = q.OptText(5);
  s.event = q.Text(6);
  s.status = q.Text(7);
  s.conclusion = q.OptText(8);
  s.html_url = q.OptText(9);
  s.head_branch = q.OptText(10);
  s.head_sha = q.OptText(11);
  s.created_at = q.OptInt(12);
  s.updated_at = q.OptInt(13);
  s.run_started_at = q.OptInt(14);
  return s;
}

DispatchRequest RequestFromRow(const Stmt& q) {
  DispatchRequest r;
  r.id = q.Int(0);
  r.repository = q.Text(1);
  r.workflow = q.Text(2);
  r.ref = q.Text(3);
  auto j = nlohmann::json::parse(q.Text(4), nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it->is_string()) r.inputs[it.key()] = it->get<std::string>();
    }
  }
  r.status = q.Text(5);
  r.run_id = q.OptInt(6);
  r.parent_id = q.OptInt(7);
  r.fallback_count = q.Int(8);
  r.last_error = q.OptText(9);
  r.created_at = q.Int(10);
  r.updated_at = q.Int(11);
  return r;
}

ActionRecord ActionFromRow(const Stmt& q) {
  ActionRecord a;
  a.id = q.Int(0);
  a.kind = q.Text(1);
  a.key = q.Text(2);
  a.repository = q.Text(3);
  a.status = q.Text(4);
  a.due_at = q.OptInt(5);
  a.next_attempt_at = q.OptInt(6);
  a.attempts = q.Int(7);
  a.last_error = q.OptText(8);
  a.reason = q.Text(9);
  a.payload = q.Text(10);
  a.result = q.OptText(11);
  a.job_id = q.OptInt(12);
  a.run_id = q.OptInt(13);
  a.run_attempt = q.OptInt(14);
  a.created_at = q.Int(15);
  a.updated_at = q.Int(16);
  a.done_at = q.OptInt(17);
  return a;
}

}  // namespace relayq::store
