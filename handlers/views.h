// Building the policy layer's views (JobView, RunView) from recorded state.
//
// The policy layer knows nothing of the store; these functions are the one
// place recorded jobs, runs and dispatch requests become decision inputs.
// Pure functions; thread-safe.
#pragma once

#include <optional>

#include "policy/decide.h"
#include "store/model.h"

namespace relayq::handlers {

// `run` and `request` may be absent (not delivered yet; not submitted
// through relayq).
policy::JobView MakeJobView(const store::JobState& job, const std::optional<store::RunState>& run,
                            const std::optional<store::DispatchRequest>& request);

policy::RunView MakeRunView(const store::RunState& run,
                            const std::optional<store::DispatchRequest>& request);

}  // namespace relayq::handlers
