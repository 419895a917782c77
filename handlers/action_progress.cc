#include "handlers/action_progress.h"

#include "common/json_text.h"

namespace relayq::handlers {

using nlohmann::json;

namespace {

constexpr std::pair<ProgressStage, std::string_view> kStageNames[] = {
    {ProgressStage::kCancelling, "cancelling"},
    {ProgressStage::kCancelled, "cancelled"},
    {ProgressStage::kDispatching, "dispatching"},
    {ProgressStage::kDone, "done"},
};

// Moves key `name` of `j` (when present) into `out`, as a T.
template <typename T>
void Take(json& j, const char* name, std::optional<T>& out) {
  auto it = j.find(name);
  if (it == j.end()) return;
  out = it->template get<T>();
  j.erase(it);
}

template <typename T>
void Put(json& j, const char* name, const std::optional<T>& v) {
  if (v) j[name] = *v;
}

}  // namespace

std::string_view ProgressStageName(ProgressStage s) {
  for (const auto& [stage, name] : kStageNames) {
    if (stage == s) return name;
  }
  return "";
}

ActionProgress ActionProgress::Parse(const std::optional<std::string>& text) {
  ActionProgress p;
  if (!text) return p;
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return p;
  std::optional<std::string> stage;
  Take(j, "stage", stage);
  if (stage && !stage->empty()) {
    p.stage = ProgressStage::kUnknown;
    p.unknown_stage = *stage;
    for (const auto& [value, name] : kStageNames) {
      if (name == *stage) {
        p.stage = value;
        p.unknown_stage.clear();
      }
    }
  }
  Take(j, "cancelled_run_id", p.cancelled_run_id);
  Take(j, "route", p.route);
  Take(j, "target_workflow", p.target_workflow);
  Take(j, "target_labels", p.target_labels);
  Take(j, "ref", p.ref);
  if (auto it = j.find("inputs"); it != j.end()) {
    // Only string values are inputs (a dispatch takes nothing else).
    std::map<std::string, std::string> inputs;
    if (it->is_object()) {
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        if (kv->is_string()) inputs[kv.key()] = kv->get<std::string>();
      }
    }
    p.inputs = std::move(inputs);
    j.erase(it);
  }
  Take(j, "inputs_known", p.inputs_known);
  Take(j, "fallback_count", p.fallback_count);
  Take(j, "parent_request_id", p.parent_request_id);
  Take(j, "started_before_cancel", p.started_before_cancel);
  Take(j, "note", p.note);
  Take(j, "decided_at", p.decided_at);
  Take(j, "decision", p.decision);
  Take(j, "request_id", p.request_id);
  Take(j, "sends", p.sends);
  Take(j, "dispatched", p.dispatched);
  if (auto it = j.find("run_id"); it != j.end() && it->is_number_integer()) {
    p.run_id = it->get<int64_t>();
    j.erase(it);
  }
  Take(j, "html_url", p.html_url);
  Take(j, "relayq_id_input", p.relayq_id_input);
  Take(j, "outcome", p.outcome);
  p.extra = std::move(j);
  return p;
}

std::string ActionProgress::Dump() const {
  json j = extra.is_object() ? extra : json::object();
  if (stage == ProgressStage::kUnknown) {
    j["stage"] = unknown_stage;
  } else if (stage != ProgressStage::kNew) {
    j["stage"] = std::string(ProgressStageName(stage));
  }
  Put(j, "cancelled_run_id", cancelled_run_id);
  Put(j, "route", route);
  Put(j, "target_workflow", target_workflow);
  Put(j, "target_labels", target_labels);
  Put(j, "ref", ref);
  Put(j, "inputs", inputs);
  Put(j, "inputs_known", inputs_known);
  Put(j, "fallback_count", fallback_count);
  Put(j, "parent_request_id", parent_request_id);
  Put(j, "started_before_cancel", started_before_cancel);
  Put(j, "note", note);
  Put(j, "decided_at", decided_at);
  Put(j, "decision", decision);
  Put(j, "request_id", request_id);
  Put(j, "sends", sends);
  Put(j, "dispatched", dispatched);
  Put(j, "run_id", run_id);
  Put(j, "html_url", html_url);
  Put(j, "relayq_id_input", relayq_id_input);
  Put(j, "outcome", outcome);
  return DumpJson(j);
}

}  // namespace relayq::handlers
