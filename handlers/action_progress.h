// ActionProgress: how far the executor has carried out one routing action,
// saved as the action's `result` JSON object so that a restart resumes at
// the stage it reached (see ActionExecutor for the stages of each kind).
//
// The one place that JSON is read (Parse) and written (Dump): the executor
// works on typed fields only. Keys this relayq does not know are kept as
// they were, so a save never drops what a newer relayq wrote. Dump writes
// the keys in sorted order (nlohmann's), so a value round-trips byte for
// byte. A plain value; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relayq::handlers {

// Saved as its lower-case name under "stage".
enum class ProgressStage {
  kNew,          // nothing done yet (no "stage" key)
  kCancelling,   // fallback: the cancel may have been sent
  kCancelled,    // fallback: the original run is cancelled
  kDispatching,  // a request is recorded; it may have been sent
  kDone,         // dispatched and recorded (only in a done action's result)
  kUnknown,      // a stage this relayq does not know (see stage_name)
};
std::string_view ProgressStageName(ProgressStage s);

struct ActionProgress {
  ProgressStage stage = ProgressStage::kNew;
  std::string unknown_stage;  // the stored name, for kUnknown only

  // Fallback: the run cancelled and what replaces it (recorded at
  // "cancelling").
  std::optional<int64_t> cancelled_run_id;
  std::optional<std::string> route;
  std::optional<std::string> target_workflow;
  std::optional<std::vector<std::string>> target_labels;
  std::optional<std::string> ref;
  std::optional<std::map<std::string, std::string>> inputs;
  std::optional<bool> inputs_known;
  std::optional<int64_t> fallback_count;
  std::optional<int64_t> parent_request_id;
  // The runner the job had reached when the cancel took effect, and why it
  // was replaced anyway.
  std::optional<std::string> started_before_cancel;
  std::optional<std::string> note;
  // Fallback: when the executor decided it was due (Unix ms) and why (the
  // policy's words: queue_timeout passed, or no preferred runner online).
  std::optional<int64_t> decided_at;
  std::optional<std::string> decision;

  // Dispatching: the request, how many sends may have reached GitHub, and
  // what GitHub answered.
  std::optional<int64_t> request_id;
  std::optional<int64_t> sends;
  std::optional<bool> dispatched;
  std::optional<int64_t> run_id;
  std::optional<std::string> html_url;
  std::optional<bool> relayq_id_input;  // false: the workflow lacks the input

  // The final word (done, aborted, failed).
  std::optional<std::string> outcome;

  nlohmann::json extra = nlohmann::json::object();  // unknown keys, as stored

  // Reads a stored result; absent or not a JSON object: a new progress.
  // Throws nlohmann::json::exception for a known key of the wrong type
  // (the executor fails such an action as malformed).
  static ActionProgress Parse(const std::optional<std::string>& text);

  // The JSON object text to store.
  std::string Dump() const;
};

}  // namespace relayq::handlers
