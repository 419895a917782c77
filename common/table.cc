#include "common/table.h"

#include <algorithm>

namespace relayq {
namespace {

// Display columns of UTF-8 text: one per code point.
size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, bool trim_line_ends) {
  const size_t n = header.size();
  std::vector<size_t> width(n);
  for (size_t c = 0; c < n; ++c) width[c] = Columns(header[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < n && c < row.size(); ++c) width[c] = std::max(width[c], Columns(row[c]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < n; ++c) {
      const std::string cell = c < cells.size() ? cells[c] : std::string();
      l += cell;
      if (c + 1 < n) l += std::string(width[c] - Columns(cell) + 2, ' ');
    }
    if (trim_line_ends) {
      while (!l.empty() && l.back() == ' ') l.pop_back();
    }
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

}  // namespace relayq
