// relayq's command line: one executable, one subcommand per job. Each
// subcommand registers itself from its own file (see command.h).
//
// Exit codes (PRODUCT.md): 0 success, 1 the operation failed (one line on
// stderr), 2 usage error.
//
// Usage errors are one line, "relayq: ...", with a "did you mean" for a
// mistyped command, instead of CLI11's raw messages; `relayq help` is
// `relayq --help`.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "cli/command.h"
#include "common/strings.h"
#include "server/version.h"

namespace {

// The commands that talk HTTP (to relayq or GitHub). A server may answer
// early (a 413 before the whole body is sent) and close: the next write must
// fail as an error the command reports, not kill it with SIGPIPE (exit 141,
// nothing printed). Commands that only write to stdout keep the default, so
// `relayq audit ... | head` ends quietly. (`status` talks HTTP with
// --server: a closed stdout then fails its writes quietly instead.)
const std::set<std::string>& HttpCommands() {
  static const std::set<std::string> k = {"serve",  "send",   "dispatch", "hooks", "runners",
                                          "doctor", "notify", "actions",  "status"};
  return k;
}

int UsageLine(const std::string& message, const std::string& command) {
  std::string m = message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "relayq: " << m << " (see relayq " << (command.empty() ? "" : command + " ")
            << "--help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = relayq::cli;
  CLI::App app{
      "relayq: verifies and records GitHub Actions webhooks, and routes jobs between "
      "self-hosted runners"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(relayq::server::kVersion));

  std::map<std::string, cli::CommandRun> runs;
  runs["serve"] = cli::RegisterServe(app);
  runs["send"] = cli::RegisterSend(app);
  runs["policy"] = cli::RegisterPolicy(app);
  runs["dispatch"] = cli::RegisterDispatch(app);
  runs["actions"] = cli::RegisterActions(app);
  runs["hooks"] = cli::RegisterHooks(app);
  runs["runners"] = cli::RegisterRunners(app);
  runs["doctor"] = cli::RegisterDoctor(app);
  runs["audit"] = cli::RegisterAudit(app);
  runs["status"] = cli::RegisterStatus(app);
  runs["prune"] = cli::RegisterPrune(app);
  runs["backup"] = cli::RegisterBackup(app);
  runs["notify"] = cli::RegisterNotify(app);
  app.add_subcommand("version", "Print the version");
  runs["version"] = [] {
    std::cout << "relayq " << relayq::server::kVersion << "\n";
    return 0;
  };

  // The first word, when it is not an option, must name a command.
  if (argc > 1 && argv[1][0] != '-') {
    std::string word = argv[1];
    if (word == "help") {
      std::cout << app.help();
      return 0;
    }
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (runs.count(word) == 0 && word != "version") {
      std::string guess = relayq::ClosestMatch(word, names);
      std::cerr << "relayq: unknown command '" << word.substr(0, 64) << "'"
                << (guess.empty() ? "" : " (did you mean '" + guess + "'?)")
                << "; see relayq --help\n";
      return 2;
    }
    // The same for a command that has commands of its own (hooks, policy).
    if (runs.count(word) != 0) {
      CLI::App* top = app.get_subcommand(word);
      std::vector<std::string> subs;
      for (const CLI::App* sub : top->get_subcommands([](CLI::App*) { return true; })) {
        subs.push_back(sub->get_name());
      }
      if (!subs.empty()) {
        std::string list;
        for (const auto& n : subs) list += (list.empty() ? "" : ", ") + n;
        if (argc == 2) {
          std::cerr << "relayq: relayq " << word << " needs a command: " << list << " (see relayq "
                    << word << " --help)\n";
          return 2;
        }
        std::string next = argv[2];
        if (next[0] != '-' && std::find(subs.begin(), subs.end(), next) == subs.end()) {
          std::string guess = relayq::ClosestMatch(next, subs);
          std::cerr << "relayq: unknown " << word << " command '" << next.substr(0, 64) << "'"
                    << (guess.empty() ? " (" + list + ")" : " (did you mean '" + guess + "'?)")
                    << "; see relayq " << word << " --help\n";
          return 2;
        }
      }
    }
  }
  if (argc <= 1) {
    std::cerr << "relayq: a command is required, e.g. relayq serve (see relayq --help)\n";
    return 2;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string command;
    for (CLI::App* sub : app.get_subcommands()) command = sub->get_name();
    return UsageLine(e.what(), command);
  }
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = runs.find(sub->get_name());
    if (it == runs.end()) continue;
    if (HttpCommands().count(sub->get_name())) ::signal(SIGPIPE, SIG_IGN);
    return it->second();
  }
  return 2;
}
