// How a subcommand plugs into relayq's command line.
//
// Each command lives in its own file and exposes one Register* function that
// adds a CLI11 subcommand and returns what to run when it was chosen. Flags
// every command shares (--config, --db) and the configuration precedence
// (file < flags < environment) are handled here, once.
//
// Which file: `--config FILE`, else $RELAYQ_CONFIG (set but empty: no file),
// else /etc/relayq/config.yaml when it exists, else built-in defaults. The
// env file beside the chosen config (relayq.env: /etc/relayq/relayq.env after
// the systemd install, the unit's EnvironmentFile) is read too when the
// caller can read it, for the variables relayq knows that the process
// environment does not set: a root shell gets the service's credentials.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "github/client.h"
#include "server/config.h"

namespace relayq::cli {

// Runs a chosen command; returns the process exit code.
using CommandRun = std::function<int()>;

// Flags shared by commands. Filled by CLI11 during parsing.
struct CommonFlags {
  std::string config_file;
  std::string db;  // empty: the config's store.path, else ./relayq.db
};

// Where LoadCommandConfig found the configuration (`relayq doctor` shows it).
struct ConfigSources {
  std::string config_file;  // empty: none, built-in defaults
  std::string chosen_by;    // "--config", "RELAYQ_CONFIG", "the default path" or ""
  std::string env_file;     // the env file read, or empty
  std::string env_problem;  // why an env file beside the config was not read
};

// The default configuration file, read when it exists.
inline constexpr char kDefaultConfigPath[] = "/etc/relayq/config.yaml";

// Adds --config (and --db when `with_db`) to `cmd`.
void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, bool with_db);

// The configuration for a command: the file, then `flags` (and any
// command-specific `apply`), then the environment. On failure prints one line
// to stderr; the caller returns 1.
// `sources`, when given, is filled even when loading fails.
Result<server::Config> LoadCommandConfig(
    const CommonFlags& flags, const std::function<void(server::Config&)>& apply = nullptr,
    ConfigSources* sources = nullptr);

// Fills an empty `repo` with the one repository of github.repositories (as
// `gh` infers it); InvalidArgument (a usage error) when `repo` stays empty or
// is not OWNER/NAME.
Status DefaultRepository(const server::Config& config, std::string& repo);

// server::MakeGitHubClient for a command run by a person: every retry of a
// failing GitHub call is announced on stderr as it happens ("relayq: GitHub
// GET ...: cannot connect to HOST:PORT: ...; retrying in 1.2s (attempt 2 of
// 5)").
Result<std::unique_ptr<github::GitHubClient>> MakeCliGitHubClient(const server::Config& config,
                                                                  Clock& clock = Clock::Real());

// Prints "relayq: MESSAGE" to stderr and returns 1.
int FailWith(const Status& status);

// Each Register* adds one subcommand to `app` and returns its runner.
CommandRun RegisterServe(CLI::App& app);  // serve_cmd.cc
CommandRun RegisterSend(CLI::App& app);
CommandRun RegisterPolicy(CLI::App& app);
CommandRun RegisterDispatch(CLI::App& app);
CommandRun RegisterActions(CLI::App& app);  // actions_cmd.cc
CommandRun RegisterHooks(CLI::App& app);    // hooks_cmd.cc
CommandRun RegisterRunners(CLI::App& app);  // runners_cmd.cc
CommandRun RegisterDoctor(CLI::App& app);   // doctor_cmd.cc
CommandRun RegisterAudit(CLI::App& app);    // audit_cmd.cc
CommandRun RegisterStatus(CLI::App& app);   // status_cmd.cc
CommandRun RegisterPrune(CLI::App& app);    // maintenance_cmd.cc
CommandRun RegisterBackup(CLI::App& app);   // maintenance_cmd.cc
CommandRun RegisterNotify(CLI::App& app);   // notify_cmd.cc

}  // namespace relayq::cli
