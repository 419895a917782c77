#include "cli/github_commands.h"

#include "common/strings.h"
#include "common/table.h"

namespace relayq::cli {

Status ValidateRepository(std::string_view repo) {
  if (!IsOwnerSlashName(repo)) {
    return Status::InvalidArgument("--repo must be OWNER/NAME, got '" + std::string(repo) + "'");
  }
  return Status::Ok();
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  return RenderTable(header, rows, /*trim_line_ends=*/false);
}

}  // namespace relayq::cli
