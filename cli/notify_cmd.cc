// `relayq notify test`: sends one test notification to every configured
// notify: target, directly (not through the store's outbox: it is a check of
// the set-up, run by a person), once each, and names each target's answer.
// Exit 0 only when every target took it; 1 when one did not, or none is
// configured.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/time_format.h"
#include "notify/http_sender.h"
#include "server/version.h"

namespace relayq::cli {

CommandRun RegisterNotify(CLI::App& app) {
  auto common = std::make_shared<CommonFlags>();
  CLI::App* cmd = app.add_subcommand("notify", "Notifications to the owner (notify: targets)");
  CLI::App* test = cmd->add_subcommand(
      "test",
      "Send one test notification to every configured notify: target; exit 0 when all "
      "took it");
  AddCommonFlags(test, *common, /*with_db=*/false);
  cmd->require_subcommand(1);
  return [common, test]() -> int {
    if (!test->parsed()) return 2;
    auto config = LoadCommandConfig(*common);
    if (!config.ok()) return FailWith(config.status());
    const auto& targets = config->notify.targets;
    if (targets.empty()) {
      return FailWith(Status::InvalidArgument(
          "no notify targets are configured (add notify.targets to the config; see the README's "
          "Notifications section)"));
    }
    notify::Notification n;
    n.kind = notify::EventKind::kTest;
    n.time_ms = ToUnixMillis(Clock::Real().Now());
    n.key = "test:" + std::to_string(n.time_ms);
    n.title = "relayq: test notification";
    n.message = "This is a test from `relayq notify test` (relayq " +
                std::string(server::kVersion) + ", " + FormatRfc3339(n.time_ms) +
                "). If you can read it, relayq's notifications reach you.";
    notify::HttpSender sender;
    int failed = 0;
    for (const notify::Target& t : targets) {
      auto sent = sender.Send(t, n);
      std::cout << t.name << " (" << notify::TargetFormatName(t.format) << "): ";
      if (sent.ok()) {
        std::cout << "accepted (HTTP " << *sent << ")\n";
      } else {
        ++failed;
        std::cout << "FAILED: " << sent.status().message() << "\n";
      }
    }
    if (failed > 0) {
      std::cerr << "relayq: " << failed << " of " << targets.size()
                << " notify targets did not take the test notification\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace relayq::cli
