// relayq's command line: one executable, one subcommand per job. Each
// subcommand registers itself from its own file (see command.h).
//
// Exit codes (PRODUCT.md): 0 success, 1 the operation failed (one line on
// stderr), 2 usage error.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "server/command.h"
#include "server/version.h"

int main(int argc, char** argv) {
  namespace srv = relayq::server;
  CLI::App app{"relayq: verifies and records GitHub Actions webhooks, and routes jobs between "
               "self-hosted runners"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(srv::kVersion));

  std::map<std::string, srv::CommandRun> runs;
  runs["serve"] = srv::RegisterServe(app);
  runs["send"] = srv::RegisterSend(app);
  runs["policy"] = srv::RegisterPolicy(app);
  runs["dispatch"] = srv::RegisterDispatch(app);
  runs["hooks"] = srv::RegisterHooks(app);
  runs["runners"] = srv::RegisterRunners(app);
  runs["doctor"] = srv::RegisterDoctor(app);
  runs["audit"] = srv::RegisterAudit(app);
  runs["prune"] = srv::RegisterPrune(app);
  runs["backup"] = srv::RegisterBackup(app);
  app.add_subcommand("version", "Print the version");
  runs["version"] = [] {
    std::cout << "relayq " << srv::kVersion << "\n";
    return 0;
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return 2;
  }
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = runs.find(sub->get_name());
    if (it != runs.end()) return it->second();
  }
  return 2;
}
