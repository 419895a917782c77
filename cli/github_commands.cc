#include "cli/github_commands.h"

#include <algorithm>

namespace relayq::cli {

Status ValidateRepository(std::string_view repo) {
  size_t slash = repo.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == repo.size() ||
      repo.find('/', slash + 1) != std::string_view::npos) {
    return Status::InvalidArgument("--repo must be OWNER/NAME, got '" + std::string(repo) + "'");
  }
  return Status::Ok();
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      if (i + 1 == width.size()) {
        out += cell;  // no trailing padding on the last column
      } else {
        out += cell + std::string(width[i] - cell.size() + 2, ' ');
      }
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace relayq::cli
