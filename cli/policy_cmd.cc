#include "cli/policy_cmd.h"

#include <filesystem>
#include <iostream>

#include "policy/policy_loader.h"

namespace relayq::cli {

CommandRun RegisterPolicy(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string file;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* policy = app.add_subcommand("policy", "Work with the routing policy");
  policy->require_subcommand(1);
  CLI::App* check = policy->add_subcommand("check", "Validate a policy file; explain each error");
  AddCommonFlags(check, f->common, /*with_db=*/false);
  check->add_option("FILE", f->file,
                    "Policy file (default: the configured policy, else policy/policy.yaml)");
  return [f] {
    std::string path = f->file;
    if (path.empty()) {
      auto config = LoadCommandConfig(f->common);
      if (!config.ok()) return FailWith(config.status());
      path = config->policy_path.empty() ? "policy/policy.yaml" : config->policy_path;
    }
    if (!std::filesystem::exists(path)) return FailWith(Status::NotFound(path + ": no such file"));
    policy::PolicyCheck result = policy::CheckPolicy(path);
    for (const auto& d : result.diagnostics) std::cerr << policy::FormatDiagnostic(d) << "\n";
    if (!result.ok()) {
      size_t errors = 0;
      for (const auto& d : result.diagnostics) errors += d.is_error() ? 1 : 0;
      std::cerr << path << ": " << errors << " error" << (errors == 1 ? "" : "s") << "\n";
      return 1;
    }
    std::cout << path << ": ok (" << result.policy->routes.size() << " routes, "
              << result.policy->chains.size() << " chains)\n";
    return 0;
  };
}

}  // namespace relayq::cli
