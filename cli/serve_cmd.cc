// `relayq serve`: runs the daemon (server/daemon.h) until SIGTERM or SIGINT.
// SIGHUP reads the configuration again the way start-up did (same file,
// flags and environment) and hands it to Daemon::Reload: webhook.allow, the
// webhook secrets and the policy take effect; other changed keys are logged
// as needing a restart; a configuration or policy that does not load is
// logged and the running one stays. Under systemd (Type=notify) it reports
// READY=1 once both listeners accept and STOPPING=1 when a stop signal
// arrives.
//
// On a stop signal the daemon stops accepting, lets in-flight deliveries
// finish, closes the store cleanly and the command returns 0. Start-up
// problems (a bad configuration, an unbindable address, an unreadable store)
// return 1 after one clear line on stderr. Once serving, one fixed line on
// stdout names the bound addresses:
//   relayq: listening public=http://127.0.0.1:8080 admin=http://127.0.0.1:8081
// Thread safety: runs on the main thread, which takes the signals.
#include <signal.h>
#include <sys/stat.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "common/log.h"
#include "server/daemon.h"
#include "server/logging.h"
#include "server/sd_notify.h"

namespace relayq::cli {
namespace {

int RunServe(server::Config config, const std::function<Result<server::Config>()>& reload) {
  // Signals are taken by sigwait() on this thread; block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Everything the daemon creates (store, -wal, -shm, lock, secret) is
  // owner-only from its first byte, whatever umask it was started with.
  ::umask(077);

  server::SetupLogging(config.log_format, config.log_level);

  auto daemon = server::Daemon::Open(std::move(config));
  if (!daemon.ok()) return FailWith(daemon.status());
  if (Status s = (*daemon)->Start(); !s.ok()) return FailWith(s);

  const std::string scheme = (*daemon)->public_tls() ? "https" : "http";
  // A fixed, parseable line: scripts and tests read the bound ports from it.
  std::cout << "relayq: listening public=" << scheme << "://" << (*daemon)->public_address()
            << " admin=http://" << (*daemon)->admin_address() << std::endl;
  // Type=notify: both listeners accept now (a taken port failed above).
  server::NotifySystemd("READY=1");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto fresh = reload();
      if (!fresh.ok()) {
        Log(LogLevel::kError, "SIGHUP: configuration refused, the running one stays in force",
            {{"error", fresh.status().message()}});
        continue;
      }
      // A refused policy is logged by Reload(); the previous one stays.
      (void)(*daemon)->Reload(*fresh);
      continue;
    }
    Log(LogLevel::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  server::NotifySystemd("STOPPING=1");
  (*daemon)->Stop();
  return 0;
}

}  // namespace

CommandRun RegisterServe(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string listen, admin_listen, policy, log_format;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the daemon: receive webhooks, record, route");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("--listen", f->listen, "Public listener HOST:PORT (default 127.0.0.1:8080)");
  cmd->add_option("--admin-listen", f->admin_listen,
                  "Admin listener HOST:PORT (default 127.0.0.1:8081)");
  cmd->add_option("--policy", f->policy, "Routing policy file (default policy/policy.yaml)");
  cmd->add_option("--log-format", f->log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  return [f] {
    auto load = [f]() {
      return LoadCommandConfig(f->common, [&](server::Config& c) {
        if (!f->listen.empty()) c.listen = f->listen;
        if (!f->admin_listen.empty()) c.admin_listen = f->admin_listen;
        if (!f->policy.empty()) c.policy_path = f->policy;
        if (!f->log_format.empty()) c.log_format = f->log_format;
      });
    };
    auto config = load();
    if (!config.ok()) return FailWith(config.status());
    return RunServe(std::move(*config), load);
  };
}

}  // namespace relayq::cli
