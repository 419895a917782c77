#include "cli/command.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace relayq::cli {

void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, bool with_db) {
  cmd->add_option("--config", flags.config_file, "YAML configuration file")->check(CLI::ExistingFile);
  if (with_db) {
    cmd->add_option("--db", flags.db, "SQLite store (default: store.path, else ./relayq.db)");
  }
}

Result<server::Config> LoadCommandConfig(const CommonFlags& flags,
                                         const std::function<void(server::Config&)>& apply) {
  auto loaded = server::LoadConfigFile(flags.config_file);
  if (!loaded.ok()) return loaded.status();
  server::Config c = std::move(*loaded);
  if (!flags.db.empty()) c.db_path = flags.db;
  if (apply) apply(c);
  RELAYQ_RETURN_IF_ERROR(server::ApplyEnvironment(c, [](const char* n) { return std::getenv(n); }));
  return c;
}

int FailWith(const Status& status) {
  std::cerr << "relayq: " << status.message() << "\n";
  return 1;
}

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
