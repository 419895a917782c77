#include "cli/command.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/github_commands.h"
#include "github/http_github_client.h"
#include "server/github_setup.h"
#include "server/sd_notify.h"

namespace relayq::cli {
namespace {

// The variables an env file may supply (PRODUCT.md's list, less
// RELAYQ_CONFIG, which chose the file).
bool KnownVariable(const std::string& name) {
  static const char* const kNames[] = {"RELAYQ_WEBHOOK_SECRET", "RELAYQ_ADMIN_TOKEN",
                                       "GITHUB_TOKEN", "RELAYQ_GITHUB_API_URL", "RELAYQ_SERVER"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

// Reads `path` as systemd reads an EnvironmentFile (KEY=value lines, '#' and
// ';' comments, optional surrounding quotes) and sets each known variable the
// environment does not already set. Values are never printed.
void ReadEnvFile(const std::string& path, ConfigSources& sources) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::ifstream in(path);
  if (!in) {
    sources.env_problem =
        path + ": " + std::strerror(errno) + " (run as root to use the service's credentials)";
    return;
  }
  sources.env_file = path;
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (!KnownVariable(name) || value.empty()) continue;
    ::setenv(name.c_str(), value.c_str(), /*overwrite=*/0);
  }
}

}  // namespace

void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, bool with_db) {
  cmd->add_option("--config", flags.config_file,
                  "YAML configuration file (default $RELAYQ_CONFIG, else "
                  "/etc/relayq/config.yaml when it exists)")
      ->check(CLI::ExistingFile);
  if (with_db) {
    cmd->add_option("--db", flags.db, "SQLite store (default: store.path, else ./relayq.db)");
  }
}

Result<server::Config> LoadCommandConfig(const CommonFlags& flags,
                                         const std::function<void(server::Config&)>& apply,
                                         ConfigSources* sources) {
  ConfigSources local;
  ConfigSources& src = sources ? *sources : local;
  std::error_code ec;
  if (!flags.config_file.empty()) {
    src.config_file = flags.config_file;
    src.chosen_by = "--config";
  } else if (const char* env = std::getenv("RELAYQ_CONFIG"); env != nullptr) {
    src.config_file = env;  // set but empty: no file, built-in defaults
    src.chosen_by = *env ? "RELAYQ_CONFIG" : "";
  } else if (std::filesystem::exists(kDefaultConfigPath, ec)) {
    src.config_file = kDefaultConfigPath;
    src.chosen_by = "the default path";
  }
  auto loaded = server::LoadConfigFile(src.config_file);
  if (!loaded.ok()) {
    if (src.chosen_by == "RELAYQ_CONFIG") return loaded.status().WithContext("RELAYQ_CONFIG");
    return loaded.status();
  }
  if (!src.config_file.empty() && std::filesystem::is_regular_file(src.config_file, ec)) {
    std::filesystem::path dir = std::filesystem::path(src.config_file).parent_path();
    ReadEnvFile((dir / "relayq.env").string(), src);
  }
  server::Config c = std::move(*loaded);
  if (!flags.db.empty()) c.db_path = flags.db;
  if (apply) apply(c);
  RELAYQ_RETURN_IF_ERROR(server::ApplyEnvironment(c, [](const char* n) { return std::getenv(n); }));
  return c;
}

Status DefaultRepository(const server::Config& config, std::string& repo) {
  if (repo.empty()) {
    if (config.github_repositories.size() != 1) {
      return Status::InvalidArgument(
          "--repo OWNER/NAME is required (it defaults to github.repositories when that names "
          "exactly one repository; it names " +
          std::to_string(config.github_repositories.size()) + ")");
    }
    repo = config.github_repositories.front();
  }
  return ValidateRepository(repo);
}

Result<std::unique_ptr<github::GitHubClient>> MakeCliGitHubClient(const server::Config& config,
                                                                  Clock& clock) {
  RELAYQ_ASSIGN_OR_RETURN(github::ClientOptions options, server::GitHubClientOptions(config));
  options.on_retry = [](const std::string& line) { std::cerr << "relayq: " << line << std::endl; };
  return github::HttpGitHubClient::Create(options, clock, github::Sleeper::Real());
}

int FailWith(const Status& status) {
  // Under systemd the journal reads a "<3>" prefix as priority "err": the
  // reason `serve` stopped then shows (and filters) as an error.
  std::cerr << (server::StderrIsJournal() ? "<3>" : "") << "relayq: " << status.message() << "\n";
  return 1;
}

}  // namespace relayq::cli
