// What the GitHub-facing commands (hooks, runners, doctor) share: the
// --repo check and the plain-text table they print. Thread safety: pure
// functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relayq::cli {

// Ok for "owner/name" with both parts non-empty and no further '/' (the
// --repo check).
Status ValidateRepository(std::string_view repo);

// A plain-text table: a header row and rows, columns padded to the widest
// cell, two spaces apart, every line ending in '\n' (hooks list, runners).
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace relayq::cli
