// `relayq dispatch WORKFLOW [key=value ...] --repo OWNER/NAME [--ref REF]
// [--server URL] [--init]`: submit a job through relayq.
//
// With a server (--server, else RELAYQ_SERVER, else admin.server) the job is
// submitted to that daemon's POST /api/v1/dispatch with RELAYQ_ADMIN_TOKEN
// and a fresh Idempotency-Key, so a submission whose answer was lost is sent
// again safely and dispatched once. Without one it works on a local store:
// the request and its `dispatch:ID` action are recorded first, claimed by
// this command, then tried on GitHub from here.
//
// Output: the relayq id alone on stdout (scripts read it); on stderr what
// became of it, with the run URL when GitHub returned one. Exit 0 only when
// the request is dispatched, or durably held by a daemon that will send it
// (stderr says so, with when it last tried); exit 1 when nothing durable
// holds it: the server unreachable or refusing (401, 400, 422, ...), a local
// store that does not exist (unless --init), or GitHub unreachable from here
// with no daemon serving the local store (the request is then recorded as
// failed, so a later `relayq serve` does not send it by surprise).
//
// The workflow may be a bare name (".yml" is appended); without --ref the job
// runs on the repository's default branch (learnt from GitHub when sent).
#pragma once

#include "cli/command.h"

namespace relayq::cli {}  // namespace relayq::cli
