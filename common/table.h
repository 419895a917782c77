// Plain-text tables for the command line (`relayq audit`, `runners`,
// `hooks list`): one shared renderer. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace relayq {

// A header line and one line per row, each ending in '\n'. Columns are as
// wide as their widest cell (counted in UTF-8 code points, so a name such as
// "Zürich" lines up) and two spaces apart; the last column is not padded.
// A row shorter than the header reads as empty cells; cells beyond the
// header are left out. With `trim_line_ends`, spaces at the end of a line
// (left by empty trailing cells) are removed.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        bool trim_line_ends = true);

}  // namespace relayq
