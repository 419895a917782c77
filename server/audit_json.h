// Audit items as JSON: what the admin API's /api/v1 routes answer and what
// `relayq audit --format json` prints (one function renders both).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "store/query.h"

namespace relayq::server {

// One item as the API and `--format json` show it: times RFC 3339 UTC,
// durations in seconds, unknown values null.
nlohmann::json RecordJson(const store::Record& record);

// A job with "events", "deliveries" and "actions" arrays (oldest first),
// and "routing": the routing decision taken for it (RoutingDecision).
nlohmann::json JobHistoryJson(const store::JobHistory& history);

// The routing decision taken for a job, from the actions recorded on it or
// its run: "decision" (fallback planned, fallback done, refused, fallback
// cancelled (by an operator), aborted,
// failed, ..., or "no route matched" when no fallback action exists) and
// "why" (the action's reason, its outcome and last error).
struct RoutingDecision {
  std::string decision;
  std::string why;
  std::optional<int64_t> action_id;  // the fallback action it comes from
};
RoutingDecision RoutingDecisionOf(const store::JobHistory& history);
nlohmann::json RoutingDecisionJson(const RoutingDecision& decision);

// One action: its item fields plus "payload" (what it was asked to do) and
// "progress" (its stored progress and outcome; null before its first try),
// as JSON objects (a stored text that is not JSON is shown as a string),
// and "history": what operators asked of it, oldest first.
nlohmann::json ActionDetailJson(const store::ActionDetail& detail);

// One dispatch request (GET /api/v1/requests/{id}, `relayq status --format
// json`): the item's fields plus "outcome" (in_progress, success, failure,
// cancelled), "finished" (false while in progress), "outcome_why", "steps"
// (StoryStepJson, oldest first), "requests" (it and every request it led
// to), "runs" (their runs, every attempt) and "actions" (the routing actions
// on them).
nlohmann::json RequestStoryJson(const store::RequestStory& story);
// One step: "at", "request_id", "depth", "step", "detail", "run_id",
// "run_attempt", "run_url", "job_id", "action_id", "new_request_id",
// "conclusion" (null when not applicable).
nlohmann::json StoryStepJson(const store::StoryStep& step);

}  // namespace relayq::server
