// The policy loader and checker: policy.yaml text -> an immutable Policy, or
// every problem found in it.
//
// ParsePolicy reports all problems it can find in one pass (not just the
// first), each with the file, a 1-based line and column, the key path
// ("routes.transcribe.queue_timeout", "chains[0].dispatch.inputs.url"), what
// was expected and, where one helps, a hint ("did you mean 'queue_timeout'?").
// Problems are errors (the policy is refused) or warnings (the policy loads,
// but something in it probably does not do what its author meant, e.g. a
// `needs_ffmpeg` constraint the fallback labels cannot prove). `relayq policy
// check` prints them with FormatDiagnostics and exits 1 when there are errors.
//
// yaml-cpp is an implementation detail: it is not visible through this
// header, and its exceptions never leave these functions. The only I/O is
// CheckPolicy/LoadPolicy reading the file. Thread safety: the functions are
// reentrant; they share no state.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/diagnostic.h"
#include "policy/policy.h"

namespace relayq::policy {

// The outcome of checking a policy.
struct PolicyCheck {
  // The loaded policy; null exactly when there is at least one error.
  std::shared_ptr<const Policy> policy;
  // Errors and warnings, in order of their place in the file.
  std::vector<PolicyDiagnostic> diagnostics;

  bool ok() const { return policy != nullptr; }
  size_t error_count() const;
  size_t warning_count() const;
};

// Parses and validates policy text. `filename` is only used in diagnostics
// and Policy::source. An empty document is a valid policy with no routes and
// no chains.
PolicyCheck ParsePolicy(std::string_view text, std::string_view filename);

// Reads `path` and parses it. A file that cannot be read is one error with
// line 0.
PolicyCheck CheckPolicy(const std::string& path);

// For start-up and reload: the policy at `path`, or kInvalidArgument whose
// message is the first error in FormatDiagnostic form plus how many more
// there are (kIoError when the file cannot be read). Warnings are dropped;
// use CheckPolicy to see them.
Result<std::shared_ptr<const Policy>> LoadPolicy(const std::string& path);

// "policy.yaml:7:5: routes.transcribe.queue_timout: unknown key (did you mean
// 'queue_timeout'?)"; warnings read "policy.yaml:7:5: warning: ...". Parts
// that are unknown (line 0, empty key or hint) are left out.
std::string FormatDiagnostic(const PolicyDiagnostic& d);

// One FormatDiagnostic line per diagnostic, each ending in '\n'.
std::string FormatDiagnostics(const std::vector<PolicyDiagnostic>& diagnostics);

}  // namespace relayq::policy
