// Routing decisions: pure functions of (policy, recorded state, now).
//
// The caller (the scheduler and the workflow_run handler) copies what it has
// recorded into the small view structs below, so this layer does not depend
// on the store, and asks what to do. Nothing here does I/O, logs, or reads a
// clock: `now_ms` is a parameter, which is how queue timeouts are tested
// without sleeping. A decision says what should happen; carrying it out
// (cancel, check the job did not start, dispatch, record) at most once per
// idempotency key is the action executor's job.
//
// Fallback, in order (the first that applies is the answer):
//   1. no route matches the job                         -> kNotGoverned
//   2. the job is not "queued" (started, done, waiting)  -> kNotQueued
//   3. it already fell back max_fallbacks times          -> kRefused kMaxFallbacks
//   4. its known input size is over max_size_mb          -> kRefused kInputTooLarge
//   5. its run's inputs are unknown and the route says
//      unknown_inputs: refuse (the default)              -> kRefused kInputsUnknown
//   6. fallback_inputs cannot be rendered, or no ref     -> kRefused kInputTemplate / kNoRef
//   7. now < due_at                                      -> kNotDue (due_at_ms set)
//   8. a needs_<label> constraint that the fallback labels do not list is not
//      proven by the runner status                       -> kRefused kMissingCapability
//   9. otherwise                                         -> kDue
// Refusals 3-6 depend only on the job and the request behind its run, so a
// caller that knows the request may record them when the job is first seen
// (PlanFallback); 7 and 8 are judged at the deadline, with the runner status
// of that moment, by DecideFallback. due_at is queued_at + queue_timeout, or queued_at +
// offline_grace when the route sets fallback_when_offline and the runner
// status shows no online runner carrying every `prefer` label.
//
// Thread safety: all functions are pure and reentrant. Returned Route/Chain
// pointers point into the Policy and live as long as it does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace relayq::policy {

// A queued job as recorded (from workflow_job deliveries plus what relayq
// knows about the request that started its run).
struct JobView {
  int64_t job_id = 0;
  int64_t run_id = 0;
  int run_attempt = 1;
  std::string repository;     // "owner/name"
  std::string workflow_path;  // ".github/workflows/transcribe_mac.yml"
  std::string head_branch;    // the run's ref; the fallback is dispatched on it
  std::string run_html_url;
  std::vector<std::string> labels;  // the job's runs-on labels
  std::string status;               // GitHub's: "queued", "in_progress", "completed", ...
  int64_t queued_at_ms = 0;         // Unix ms
  // How many times the request behind this run has already fallen back
  // (0 for a fresh request; the fallback run of a fallback carries 1, ...).
  int fallback_count = 0;
  // The request's dispatch inputs when relayq submitted it (`relayq
  // dispatch`); nullopt for a run relayq did not submit.
  std::optional<std::map<std::string, std::string>> inputs;
  // The size of the job's input in bytes when known (see InputSizeBytes).
  std::optional<int64_t> input_size_bytes;
};

// One self-hosted runner as the runners API last reported it.
struct RunnerView {
  std::string name;
  std::vector<std::string> labels;
  bool online = false;
  bool busy = false;
};

// The runner status of the job's repository. Callers pass null when they
// have none (or it is too old to trust); decisions then use only the policy.
struct RunnerAvailability {
  std::vector<RunnerView> runners;
};

enum class RefusalReason {
  kMaxFallbacks,       // the request already fell back max_fallbacks times
  kInputTooLarge,      // input_size_bytes > max_size_mb
  kInputsUnknown,      // not submitted through relayq; unknown_inputs: refuse
  kInputTemplate,      // a fallback_inputs value cannot be rendered
  kNoRef,              // the run's head_branch is unknown
  kMissingCapability,  // a needs_<label> constraint is not met by the fallback runners
};

// The stable name of a reason ("max_fallbacks", "input_too_large", ...), for
// the audit log and metrics.
std::string_view RefusalReasonName(RefusalReason reason);

struct FallbackDecision {
  enum class Kind { kNotGoverned, kNotQueued, kNotDue, kDue, kRefused };
  Kind kind = Kind::kNotGoverned;
  const Route* route = nullptr;  // the governing route; null only for kNotGoverned
  // kNotDue, kDue: when the fallback is (or was) due, Unix ms.
  int64_t due_at_ms = 0;
  // kRefused: why, for the audit log; kDue: why now ("queued 5m0s on
  // [macmini], queue_timeout 5m").
  std::string reason;
  RefusalReason refusal = RefusalReason::kMaxFallbacks;  // meaningful for kRefused only

  // kDue only: what to dispatch once the run is cancelled.
  std::string idempotency_key;                // FallbackKey(run_id, run_attempt)
  std::string target_workflow;                // fallback_workflow, else the job's own workflow
  std::vector<std::string> target_labels;     // the route's fallback labels
  std::string ref;                            // the run's head_branch
  std::map<std::string, std::string> inputs;  // original inputs overlaid with fallback_inputs
  // False when the original inputs were unknown and the route's
  // unknown_inputs: dispatch sent only fallback_inputs.
  bool inputs_known = false;
  // True when due early because no preferred runner is online.
  bool preferred_offline = false;
};

// The route that governs `job`: the first route in file order whose match
// holds (workflow basename, all match labels among the job's labels,
// repository). Null when none does.
const Route* MatchRoute(const Policy& policy, const JobView& job);

// What to do about `job` at `now_ms` (see the file comment for the order of
// the rules). `availability` may be null.
FallbackDecision DecideFallback(const Policy& policy, const JobView& job,
                                const RunnerAvailability* availability, int64_t now_ms);

// What can be known about `job` before its deadline and without runner
// status: rules 1-6 and the deadline. Answers kNotGoverned, kNotQueued,
// kRefused (3-6) or kNotDue with due_at_ms set, which may already be past
// (a job whose webhook arrived late); never kDue or kMissingCapability. For
// kRefused, due_at_ms is still set to the nominal deadline (queued_at +
// queue_timeout), for a caller that cannot yet take the refusal as final.
FallbackDecision PlanFallback(const Policy& policy, const JobView& job);

// When DecideFallback will stop answering kNotDue for `job`, in Unix ms, or
// nullopt when it never will (not governed, not queued, refused at once). The
// scheduler sleeps until the earliest deadline of its pending jobs, and
// recomputes a job's deadline when the job or the runner status changes.
std::optional<int64_t> FallbackDeadline(const Policy& policy, const JobView& job,
                                        const RunnerAvailability* availability);

// A finished workflow run as recorded.
struct RunView {
  int64_t id = 0;
  int attempt = 1;
  std::string repository;
  std::string workflow_path;  // ".github/workflows/transcribe_audio.yml"
  std::string status;         // only "completed" runs start chains
  std::string conclusion;     // "success", "failure", ...
  std::string head_branch;
  std::string head_sha;
  std::string html_url;
  std::string display_title;
  // The run's dispatch inputs when relayq submitted it; nullopt otherwise.
  std::optional<std::map<std::string, std::string>> inputs;
};

// One chain that fires for a run.
struct ChainDispatch {
  const Chain* chain = nullptr;
  std::string chain_name;
  std::string idempotency_key;  // ChainKey(name, run id, run attempt)
  std::string repository;       // dispatch.repository, else the run's
  std::string workflow;
  std::string ref;                            // dispatch.ref rendered, else the run's head_branch
  std::map<std::string, std::string> inputs;  // rendered
  // Ok: dispatch it. Otherwise (kNotFound: an `inputs.X` the run does not
  // have, or a ref that renders empty) the chain matched but cannot be
  // dispatched; record it as failed with this message and do not dispatch.
  Status status;
};

// The chains that fire for `run`: those whose `after` names the run's
// workflow (by basename) and repository and lists its conclusion, in policy
// order. Empty when the run is not completed.
std::vector<ChainDispatch> DecideChains(const Policy& policy, const RunView& run);

// Idempotency keys of routing actions: "fallback:RUN_ID:ATTEMPT" (GitHub
// cancels runs, not jobs, so one fallback per run attempt) and
// "chain:NAME:RUN_ID:ATTEMPT".
std::string FallbackKey(int64_t run_id, int run_attempt);
std::string ChainKey(std::string_view chain_name, int64_t run_id, int run_attempt);

// The input size of a request from its dispatch inputs: `size_bytes` (whole
// bytes) if present and valid, else `size_mb` (MiB, decimals allowed, so
// "12.5"), else nullopt. Negative or malformed values count as unknown.
std::optional<int64_t> InputSizeBytes(const std::map<std::string, std::string>& inputs);

}  // namespace relayq::policy
