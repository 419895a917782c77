// Policy: the routing policy (policy/policy.yaml) as an immutable value.
//
// A Policy is built once by the loader (policy/policy_loader.h), which
// validates everything that can be validated without recorded state, and is
// then shared read-only as std::shared_ptr<const Policy>: reloading (SIGHUP)
// builds a new Policy and swaps the pointer, so a decision in flight keeps the
// policy it started with. Decisions over a Policy live in policy/decide.h.
// The key-by-key reference, with defaults, is the README's "Policy reference".
//
// Thread safety: a const Policy may be read from any number of threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "policy/template.h"

namespace relayq::policy {

// Defaults for keys a route may leave out.
inline constexpr std::chrono::milliseconds kDefaultQueueTimeout = std::chrono::minutes(5);
inline constexpr std::chrono::milliseconds kDefaultOfflineGrace = std::chrono::seconds(60);
inline constexpr int kDefaultMaxFallbacks = 1;

// max_size_mb and the `size_mb` input count in MiB: 1 MB = 1,048,576 bytes.
inline constexpr int64_t kBytesPerMb = 1024 * 1024;

// Where something was written in the policy file; 1-based, 0 when unknown.
struct SourceLocation {
  int line = 0;
  int column = 0;
};

// What a fallback target must satisfy (route key `constraints`).
struct Constraints {
  // Capability labels every runner that may take the fallback must carry,
  // from `needs_<label>: true` (e.g. `needs_ffmpeg` -> "ffmpeg"). Sorted,
  // unique, lower-case.
  std::vector<std::string> required_labels;
  // From `max_size_mb`: an input known to be larger than this is not routed
  // to the fallback. Absent: no limit.
  std::optional<int64_t> max_size_mb;
};

// What to do when a governed job's run was not submitted through
// `relayq dispatch`, so its original inputs are unknown (route key
// `unknown_inputs`).
enum class UnknownInputsAction {
  kRefuse,    // "refuse" (default): leave the job queued where it is
  kDispatch,  // "dispatch": dispatch the fallback with only what relayq knows
};

// Which jobs a route governs (route key `match`). A job is governed when all
// the set conditions hold.
struct RouteMatch {
  // Workflow file name ("transcribe_mac.yml"), compared with the basename of
  // the run's workflow path. Empty: any workflow.
  std::string workflow;
  // The job's labels must include all of these (case-insensitive). Defaults
  // to the route's `prefer` labels; empty (written `labels: []`): any labels.
  std::vector<std::string> labels;
  // "owner/name" (case-insensitive); empty: any repository.
  std::vector<std::string> repositories;
};

struct Route {
  std::string name;  // the key under `routes:`; [A-Za-z0-9_.-]+
  RouteMatch match;
  // Labels the governed job waits on; non-empty.
  std::vector<std::string> prefer;
  // Labels the fallback runs on (the runs-on of the fallback workflow);
  // non-empty and not a superset of `prefer`.
  std::vector<std::string> fallback;
  // How long a governed job may stay queued before it falls back; > 0.
  std::chrono::milliseconds queue_timeout = kDefaultQueueTimeout;
  // Workflow file dispatched as the fallback; empty: the job's own workflow
  // again (useful when its runs-on reads an input, see fallback_inputs).
  std::string fallback_workflow;
  // Inputs set on the fallback dispatch, over the original inputs.
  std::vector<std::pair<std::string, Template>> fallback_inputs;
  // Fall back after `offline_grace` instead of `queue_timeout` when the
  // runner status shows no online runner carrying all `prefer` labels.
  bool fallback_when_offline = false;
  std::chrono::milliseconds offline_grace = kDefaultOfflineGrace;
  // How many times one request may fall back in total (across routes); 0
  // turns the route into a monitor that never acts.
  int max_fallbacks = kDefaultMaxFallbacks;
  UnknownInputsAction unknown_inputs = UnknownInputsAction::kRefuse;
  Constraints constraints;
  SourceLocation location;
};

// A follow-up dispatch when a workflow run completes (an item of `chains:`).
struct Chain {
  std::string name;  // unique; [A-Za-z0-9_.-]+
  // after: the finished run it follows.
  std::string after_workflow;             // workflow file name, basename compare
  std::vector<std::string> conclusions;   // default {"success"}; empty: any
  std::vector<std::string> repositories;  // empty: any
  // dispatch: what to start.
  std::string dispatch_workflow;
  std::string dispatch_repository;  // empty: the finished run's repository
  std::optional<Template> ref;      // absent: the finished run's head_branch
  std::vector<std::pair<std::string, Template>> inputs;
  SourceLocation location;
};

struct Policy {
  std::string source;         // the file it came from, for messages
  std::vector<Route> routes;  // in file order; the first matching route wins
  std::vector<Chain> chains;  // in file order; every matching chain fires

  // The route or chain of that name, or null.
  const Route* FindRoute(std::string_view name) const;
  const Chain* FindChain(std::string_view name) const;
};

// ".github/workflows/transcribe_mac.yml" -> "transcribe_mac.yml"; a bare
// name is returned as is.
std::string_view WorkflowBasename(std::string_view path);

// True when `have` contains every label of `want`, ignoring ASCII case (as
// GitHub matches runner labels).
bool HasAllLabels(const std::vector<std::string>& have, const std::vector<std::string>& want);

// ASCII case-insensitive equality (labels, repository names); it lives in
// common/strings.h and is named here for the callers that know it as
// policy::EqualsIgnoreCase.
using relayq::EqualsIgnoreCase;

}  // namespace relayq::policy
