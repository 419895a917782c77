#include "cli/runners_cmd.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "server/github_setup.h"
#include "cli/hooks_cmd.h"

namespace relayq::server {

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
  cmd->add_option("--repo", f->repo, "Repository OWNER/NAME")->required();
  cmd->add_option("--format", f->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return [f]() -> int {
    if (Status s = ValidateRepository(f->repo); !s.ok()) {
      std::cerr << "relayq: " << s.message() << "\n";
      return 2;
    }
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    auto client = MakeGitHubClient(*config, Clock::Real());
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

}  // namespace relayq::server
