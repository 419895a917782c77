// `relayq actions retry ID` and `relayq actions cancel ID`: the operator
// controls over routing actions.
//
// retry: a failed or aborted action goes back to pending and is tried again
// (once: its attempts already count the try that ended it), under the same
// claims and fencing as every action. cancel: a scheduled or pending action
// is dropped (ends aborted, "cancelled by WHO"); a running one is refused,
// since it may be talking to GitHub at that moment. The rules are the
// store's (store/action_store.h, RetryAction/CancelAction).
//
// With a server (--server, else RELAYQ_SERVER, else admin.server) the change
// is asked of the running daemon through POST /api/v1/actions/{id}/retry|
// cancel (RELAYQ_ADMIN_TOKEN), which wakes its executor at once; without
// one, it is made on the local store (--db; it must exist), where the daemon
// notices a retried action at its next wake-up. Either way it is recorded in
// the action's history with who asked ("cli:USER@HOST" locally, "admin-api
// from IP" through the API) and the optional --reason.
//
// Exit codes: 0 changed; 1 not changed (unknown id, a state that does not
// allow it, no store, the server refused the token or is unreachable); 2
// usage (an id that is not a whole number).
#pragma once

#include "cli/command.h"

namespace relayq::cli {}  // namespace relayq::cli
