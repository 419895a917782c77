// How a subcommand plugs into relayq's command line.
//
// Each command lives in its own file and exposes one Register* function that
// adds a CLI11 subcommand and returns what to run when it was chosen. Flags
// every command shares (--config, --db) and the configuration precedence
// (file < flags < environment) are handled here, once.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "server/config.h"

namespace relayq::cli {

// Runs a chosen command; returns the process exit code.
using CommandRun = std::function<int()>;

// Flags shared by commands. Filled by CLI11 during parsing.
struct CommonFlags {
  std::string config_file;
  std::string db;  // empty: the config's store.path, else ./relayq.db
};

// Adds --config (and --db when `with_db`) to `cmd`.
void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, bool with_db);

// The configuration for a command: the file, then `flags` (and any
// command-specific `apply`), then the environment. On failure prints one line
// to stderr; the caller returns 1.
Result<server::Config> LoadCommandConfig(
    const CommonFlags& flags, const std::function<void(server::Config&)>& apply = nullptr);

// Prints "relayq: MESSAGE" to stderr and returns 1.
int FailWith(const Status& status);

// Each Register* adds one subcommand to `app` and returns its runner.
CommandRun RegisterServe(CLI::App& app);  // serve_cmd.cc
CommandRun RegisterSend(CLI::App& app);
CommandRun RegisterPolicy(CLI::App& app);
CommandRun RegisterDispatch(CLI::App& app);
CommandRun RegisterHooks(CLI::App& app);    // hooks_cmd.cc
CommandRun RegisterRunners(CLI::App& app);  // runners_cmd.cc
CommandRun RegisterDoctor(CLI::App& app);   // doctor_cmd.cc
CommandRun RegisterAudit(CLI::App& app);    // audit_cmd.cc
CommandRun RegisterPrune(CLI::App& app);    // maintenance_cmd.cc
CommandRun RegisterBackup(CLI::App& app);   // maintenance_cmd.cc

}  // namespace relayq::cli
