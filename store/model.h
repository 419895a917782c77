// The records relayq keeps: deliveries, workflow runs, jobs and job events,
// routing actions and dispatch requests.
//
// This file and lifecycle.h are the store's domain: the values the store
// persists and the pure rules by which a job's and a run's recorded state
// follows their events. They live in store/ because the store is what they
// describe, and they depend on nothing else; handlers/ and policy/ use them
// as plain values (handlers decode GitHub payloads into them, policy judges
// views built from them) but never reach SQL through them. Times are Unix milliseconds
// (UTC); an absent time is std::nullopt. Field meanings follow GitHub's
// `workflow_job` and `workflow_run` webhook payloads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relayq::store {

// The state machine's values are enums; their names (what the SQL rows,
// JSON and CLI show) are parsed and printed only at those edges, by the
// *Name/Parse* functions below.

// What relayq did with a verified delivery. Stored as its lower-case name.
enum class Outcome {
  kAccepted,     // decoded and applied to the job/run lifecycle
  kPing,         // GitHub's `ping` when a hook is created
  kIgnored,      // an event relayq does not interpret: recorded, not applied
  kRefused,      // repository outside the allow-list: recorded, not applied
  kUndecodable,  // valid JSON of an unexpected shape: recorded with a reason
};
std::string_view OutcomeName(Outcome o);

// One `workflow_job` event as GitHub described the job at that moment.
struct JobEvent {
  int64_t job_id = 0;
  int64_t run_id = 0;
  int64_t run_attempt = 1;
  std::string repository;
  std::string workflow_name;
  std::string name;
  std::vector<std::string> labels;
  std::string action;  // queued, waiting, in_progress, completed (as delivered)
  std::string status;  // the job's status field
  std::optional<std::string> conclusion;
  std::optional<std::string> runner_name;
  std::optional<std::string> runner_group;
  std::optional<int64_t> created_at;  // when the job was queued
  std::optional<int64_t> started_at;
  std::optional<int64_t> completed_at;
};

// One `workflow_run` event.
struct RunEvent {
  int64_t run_id = 0;
  int64_t attempt = 1;
  std::string repository;
  std::string workflow_path;  // ".github/workflows/x.yml"
  std::string workflow_name;
  std::optional<std::string> display_title;  // absent on older deliveries
  std::string event;                         // what triggered the run
  std::string action;
  std::string status;
  std::optional<std::string> conclusion;
  std::optional<std::string> html_url;
  std::optional<std::string> head_branch;
  std::optional<std::string> head_sha;
  std::optional<int64_t> created_at;
  std::optional<int64_t> updated_at;
  std::optional<int64_t> run_started_at;
};

// A verified delivery, ready to be recorded.
struct Delivery {
  std::string id;  // X-GitHub-Delivery
  std::string event;
  std::string action;
  std::optional<int64_t> hook_id;
  std::string repository;  // owner/name, empty when the payload has none
  int64_t received_at = 0;
  Outcome outcome = Outcome::kAccepted;
  std::string reason;  // why refused or undecodable; empty otherwise
  std::string content_type;
  std::string body;  // the raw request body exactly as received
  std::optional<JobEvent> job;
  std::optional<RunEvent> run;
};

// The recorded state of a job: the merge of all its events.
struct JobState {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t run_attempt = 1;
  std::string repository;
  std::string workflow_name;
  std::string name;
  std::vector<std::string> labels;
  std::string status;
  std::optional<std::string> conclusion;
  std::optional<std::string> runner_name;
  std::optional<std::string> runner_group;
  std::optional<int64_t> queued_at;
  std::optional<int64_t> started_at;
  std::optional<int64_t> completed_at;
  int64_t updated_at = 0;  // received time of the last event that changed it

  std::optional<int64_t> WaitSeconds() const;
  std::optional<int64_t> DurationSeconds() const;
};

// The recorded state of one attempt of a workflow run.
struct RunState {
  int64_t id = 0;
  int64_t attempt = 1;
  std::string repository;
  std::string workflow_path;
  std::string workflow_name;
  std::optional<std::string> display_title;
  std::string event;
  std::string status;
  std::optional<std::string> conclusion;
  std::optional<std::string> html_url;
  std::optional<std::string> head_branch;
  std::optional<std::string> head_sha;
  std::optional<int64_t> created_at;
  std::optional<int64_t> updated_at;
  std::optional<int64_t> run_started_at;
};

}  // namespace relayq::store

namespace relayq::store {

// What a routing action does. Stored as its lower-case name.
enum class ActionKind {
  kFallback,  // cancel a run stuck in the queue and dispatch its fallback
  kChain,     // dispatch a workflow after another one's run completed
  kDispatch,  // dispatch a request submitted with `relayq dispatch`
  kNotify,    // send one notification to one notify: target (handlers/notifier.h)
  kUnknown,   // a name this relayq does not know (a store edited by hand)
};
std::string_view ActionKindName(ActionKind k);
ActionKind ParseActionKind(std::string_view name);  // kUnknown for any other name

// Where a routing action is. Stored as its lower-case name.
enum class ActionStatus {
  kScheduled,  // waits for due_at
  kPending,    // due: run as soon as possible (again after a failed attempt)
  kRunning,    // claimed by a worker under a lease
  kDone,       // final: carried out
  kFailed,     // final: gave up, with last_error
  kAborted,    // final: given up for another reason (the job started, the run ended, ...)
  kRefused,    // final: the policy refused it (last_error names the refusal reason)
  kUnknown,    // a name this relayq does not know
};
std::string_view ActionStatusName(ActionStatus s);
ActionStatus ParseActionStatus(std::string_view name);  // kUnknown for any other name
// True for done, failed, aborted and refused: the action never runs again.
bool IsFinal(ActionStatus s);

// Where a dispatch request is. Stored as its lower-case name.
enum class RequestStatus {
  kPending,     // recorded; not known to be dispatched yet
  kDispatched,  // GitHub took it
  kFailed,      // GitHub refused it for good
  kUnknown,     // a name this relayq does not know
};
std::string_view RequestStatusName(RequestStatus s);
RequestStatus ParseRequestStatus(std::string_view name);  // kUnknown for any other name

// A routing action relayq decided to take (a fallback, a chained dispatch,
// a dispatch submitted through `relayq dispatch`). `key` makes it happen at
// most once: a second action with the same key is never recorded.
struct NewAction {
  ActionKind kind = ActionKind::kFallback;
  std::string key;  // e.g. fallback:RUN_ID:ATTEMPT
  std::string repository;
  // scheduled (waits for due_at), pending (run as soon as possible), or a
  // final state recorded at once: refused (by the policy) / failed.
  ActionStatus status = ActionStatus::kScheduled;
  std::optional<int64_t> due_at;
  std::string reason;
  std::string payload = "{}";  // JSON object: what to do
  std::optional<std::string> last_error;
  std::optional<int64_t> job_id;
  std::optional<int64_t> run_id;
  std::optional<int64_t> run_attempt;
};

struct ActionRecord {
  int64_t id = 0;
  ActionKind kind = ActionKind::kUnknown;
  std::string key;
  std::string repository;
  ActionStatus status = ActionStatus::kUnknown;
  std::optional<int64_t> due_at;
  std::optional<int64_t> next_attempt_at;
  int64_t attempts = 0;
  std::optional<std::string> last_error;
  std::string reason;
  std::string payload;
  std::optional<std::string> result;  // JSON object: progress and outcome
  std::optional<int64_t> job_id;
  std::optional<int64_t> run_id;
  std::optional<int64_t> run_attempt;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> done_at;
};

// A request to run a workflow, submitted through relayq (`relayq dispatch`,
// a fallback, a chain). Its id is the relayq id passed to the workflow as the
// `relayq_id` input and shown in the run's title as [relayq:ID].
struct DispatchRequest {
  int64_t id = 0;
  std::string repository;
  std::string workflow;  // file name, e.g. transcribe_mac.yml
  std::string ref;
  std::map<std::string, std::string> inputs;  // without relayq_id
  RequestStatus status = RequestStatus::kPending;
  std::optional<int64_t> run_id;
  std::optional<int64_t> parent_id;
  int64_t fallback_count = 0;
  std::optional<std::string> last_error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The client's Idempotency-Key (POST /api/v1/dispatch), unique among
  // requests; written by CreateDispatch, not read back by the row readers.
  std::optional<std::string> idempotency_key;
};

}  // namespace relayq::store
