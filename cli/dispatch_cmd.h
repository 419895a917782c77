// `relayq dispatch WORKFLOW [key=value ...] --repo OWNER/NAME [--ref REF]`:
// submit a job through relayq.
//
// Records the request (inputs included) and its `dispatch:ID` action in the
// store first, claimed by this command for a short lease; then tries the
// dispatch on GitHub itself. On success it prints the relayq id (stdout) and
// the run. When GitHub cannot be reached (or no credentials are configured
// here) the request stays recorded and `relayq serve` sends it when GitHub
// answers: the command says so and still exits 0. A request GitHub refuses
// for good (unknown workflow, bad inputs) exits 1 with GitHub's reason. The
// daemon and the command never both act on a request: the action is claimed
// by one owner at a time.
#pragma once

#include "cli/command.h"

namespace relayq::cli {}  // namespace relayq::cli
