#include "cli/command.h"

#include <cstdlib>
#include <iostream>

namespace relayq::cli {

void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, bool with_db) {
  cmd->add_option("--config", flags.config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
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

}  // namespace relayq::cli
