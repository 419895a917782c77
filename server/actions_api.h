// The operator controls of the admin API: POST /api/v1/actions/{id}/retry
// and POST /api/v1/actions/{id}/cancel (what `relayq actions retry|cancel
// --server` calls). The daemon's ActionStore makes the change (see
// ActionStore::RetryAction/CancelAction for which states allow what), the
// request is recorded in the action's history as "admin-api from IP" with
// the optional reason, one log line says what changed, and a retry wakes the
// executor so the action is tried at once.
//
// Body: optional JSON {"reason": "..."} (an empty body is no reason).
// Answers: 200 {"id", "what", "status", "previous_status", "who", "reason",
// "at"}; 400 for an id that is not a whole number or a body that is not such
// JSON; 404 for an unknown action; 409 {"error", "status"} when the action's
// state does not allow it (status: its current state); 401 without the admin
// token (the router's check).
//
// Thread safety: the routes may run on any worker thread at once; the store
// orders concurrent changes (exactly one of two concurrent retries wins).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "server/http.h"
#include "store/action_store.h"

namespace relayq::server {

struct ActionsApiDeps {
  store::ActionStore& actions;  // must outlive the router's server
  Clock& clock;
  std::function<void()> wake_executor;  // may be empty (no GitHub credentials)
};

void AddActionsApi(Router& router, ActionsApiDeps deps);

// The operator verbs.
enum class OperatorVerb { kRetry, kCancel };
std::string_view OperatorVerbName(OperatorVerb verb);  // "retry", "cancel"

// Applies `verb` to action `id` on `actions` and writes the one log line of
// a change. The same for the CLI on a local store and for the API.
Result<store::OperatorOutcome> ApplyOperatorVerb(store::ActionStore& actions, OperatorVerb verb,
                                                 int64_t id, const store::OperatorRequest& request);

// The answer of a change (the 200 body, and what `relayq actions
// --format json` prints): id, what, status, previous_status, who, reason, at.
nlohmann::json OperatorChangeJson(OperatorVerb verb, const store::OperatorOutcome& outcome,
                                  const store::OperatorRequest& request);

// "action 7 is done: it is done; only a failed or aborted action can be
// retried": why a change was refused, for the 409 and the CLI.
std::string RefusalMessage(OperatorVerb verb, const store::OperatorOutcome& outcome);

}  // namespace relayq::server
