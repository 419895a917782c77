// `relayq policy check [FILE]`: validate a routing policy and explain each
// error with file, line, column, key and a hint. Exit 0 when it loads
// (warnings are printed), 1 when it has errors.
#pragma once

#include "cli/command.h"

namespace relayq::cli {}  // namespace relayq::cli
