// `relayq runners --repo R [--format table|json]`: the repository's
// self-hosted runners with their labels, online and busy state.
//
// Only runners registered to the repository are listed (GitHub's
// repository endpoint); organization runners shared with it are not. The
// RegisterRunners entry point is declared in cli/command.h. Thread
// safety: reentrant functions.
#pragma once

#include <string>
#include <vector>

#include "github/types.h"

namespace relayq::cli {

// The runners as `relayq runners` prints them: a table (NAME, STATUS, BUSY,
// OS, LABELS), or with `json` a JSON array of {id, name, os, status, online,
// busy, labels}.
std::string FormatRunners(const std::vector<github::Runner>& runners, bool json);

}  // namespace relayq::cli
