#include "cli/runners_cmd.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/github_commands.h"
#include "server/github_setup.h"

namespace relayq::cli {

std::string FormatRunners(const std::vector<github::Runner>& runners, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const github::Runner& r : runners) {
      out.push_back({{"id", r.id},
                     {"name", r.name},
                     {"os", r.os},
                     {"status", r.status},
                     {"online", r.online()},
                     {"busy", r.busy},
                     {"labels", r.labels}});
    }
    return out.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const github::Runner& r : runners) {
    std::string labels;
    for (const auto& l : r.labels) labels += (labels.empty() ? "" : ",") + l;
    rows.push_back({r.name, r.status, r.busy ? "yes" : "no", r.os, labels});
  }
  return FormatTable({"NAME", "STATUS", "BUSY", "OS", "LABELS"}, rows);
}

CommandRun RegisterRunners(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string repo, format = "table";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("runners", "List self-hosted runners: labels, online, busy");
  AddCommonFlags(cmd, f->common, /*with_db=*/false);
  cmd->add_option("--repo", f->repo,
                  "Repository OWNER/NAME (default: github.repositories when it names one)");
  cmd->add_option("--format", f->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return [f]() -> int {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    if (Status s = DefaultRepository(*config, f->repo); !s.ok()) {
      std::cerr << "relayq: " << s.message() << "\n";
      return 2;
    }
    auto client = MakeCliGitHubClient(*config, Clock::Real());
    if (!client.ok()) return FailWith(client.status());
    auto runners = (*client)->ListRunners(f->repo);
    if (!runners.ok()) return FailWith(runners.status());
    std::cout << FormatRunners(*runners, f->format == "json");
    if (runners->empty() && f->format != "json") {
      std::cout << "(no self-hosted runners registered to " << f->repo << ")\n";
    }
    return 0;
  };
}

}  // namespace relayq::cli
