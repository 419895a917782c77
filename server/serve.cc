#include "server/serve.h"

#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/strings.h"
#include "server/command.h"
#include "handlers/intake.h"
#include "server/listener.h"
#include "server/logging.h"
#include "server/routes.h"
#include "store/store.h"

namespace relayq::server {
namespace {

// Creates `path` with mode 0600 holding a new random secret. The secret is
// printed once, to stdout (not the log), so the user can paste it into
// GitHub's webhook settings.
Result<std::string> GenerateSecretFile(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for a secret");
  std::string secret = HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  mode_t old = ::umask(077);
  std::ofstream out(path, std::ios::trunc);
  ::umask(old);
  if (!out) return Status::IoError("cannot create the secret file " + path);
  out << secret << "\n";
  out.close();
  if (!out) return Status::IoError("cannot write the secret file " + path);
  ::chmod(path.c_str(), 0600);
  return secret;
}

int Fail(const Status& s) {
  std::cerr << "relayq: " << s.message() << "\n";
  return 1;
}

}  // namespace

int RunServe(Config config) {
  // Signals are taken by sigwait() on this thread; block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  SetupLogging(config.log_format, config.log_level);

  if (config.secrets.empty()) {
    std::string file = config.secret_file.empty() ? DefaultSecretFile(config.db_path) : config.secret_file;
    auto secret = GenerateSecretFile(file);
    if (!secret.ok()) return Fail(secret.status());
    std::cout << "relayq: no webhook secret was configured; generated one and stored it in " << file
              << " (mode 0600).\nrelayq: paste it into the GitHub webhook's Secret field: " << *secret
              << std::endl;
    config.secrets = {*secret};
  }

  Clock& clock = Clock::Real();
  store::StoreOptions store_options;
  store_options.path = config.db_path;
  store_options.synchronous = config.synchronous;
  auto store = store::Store::Open(store_options, clock);
  if (!store.ok()) return Fail(store.status());

  MetricsRegistry metrics;
  handlers::Intake intake({config.secrets, config.allow}, **store, clock, metrics);

  ListenerOptions pub;
  pub.name = "public";
  if (Status s = SplitHostPort(config.listen, pub.host, pub.port); !s.ok()) return Fail(s.WithContext("--listen"));
  pub.threads = config.http_threads;
  pub.keep_alive_timeout_s = config.keep_alive_timeout_s;
  pub.read_timeout_s = config.read_timeout_s;
  pub.max_body_bytes = config.max_body_bytes;
  pub.tls_cert = config.tls_cert;
  pub.tls_key = config.tls_key;
  ListenerOptions adm;
  adm.name = "admin";
  if (Status s = SplitHostPort(config.admin_listen, adm.host, adm.port); !s.ok()) {
    return Fail(s.WithContext("--admin-listen"));
  }
  adm.threads = 8;
  adm.read_timeout_s = config.read_timeout_s;
  adm.max_body_bytes = 1 << 20;

  auto public_listener = Listener::Create(pub);
  if (!public_listener.ok()) return Fail(public_listener.status());
  auto admin_listener = Listener::Create(adm);
  if (!admin_listener.ok()) return Fail(admin_listener.status());

  AddPublicRoutes((*public_listener)->server(), {intake, metrics, clock, config.max_body_bytes});
  SetJsonErrorHandler((*public_listener)->server());
  if (config.admin_token.empty()) {
    Log(LogLevel::kWarn, "admin API disabled: set RELAYQ_ADMIN_TOKEN or admin.token_file");
  }
  AddAdminRoutes((*admin_listener)->server(), {**store, metrics, config.admin_token});
  // [admin-api] audit API, dashboard and store gauges are added here.
  SetJsonErrorHandler((*admin_listener)->server());

  if (Status s = (*public_listener)->Start(); !s.ok()) return Fail(s);
  if (Status s = (*admin_listener)->Start(); !s.ok()) return Fail(s);

  const std::string scheme = (*public_listener)->tls() ? "https" : "http";
  // A fixed, parseable line: scripts and tests read the bound ports from it.
  std::cout << "relayq: listening public=" << scheme << "://" << (*public_listener)->address()
            << " admin=http://" << (*admin_listener)->address() << std::endl;
  Log(LogLevel::kInfo, "started",
      {{"public", (*public_listener)->address()},
       {"admin", (*admin_listener)->address()},
       {"store", config.db_path},
       {"tls", (*public_listener)->tls() ? "on" : "off"}});

  // [recovery] start-up redelivery of missed deliveries is started here.
  // [maintenance] the daily prune is started here.

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Log(LogLevel::kInfo, "SIGHUP: nothing to reload yet");
      continue;
    }
    Log(LogLevel::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  (*public_listener)->Stop();
  (*admin_listener)->Stop();
  (*store)->Close();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

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
    auto config = LoadCommandConfig(f->common, [&](Config& c) {
      if (!f->listen.empty()) c.listen = f->listen;
      if (!f->admin_listen.empty()) c.admin_listen = f->admin_listen;
      if (!f->policy.empty()) c.policy_path = f->policy;
      if (!f->log_format.empty()) c.log_format = f->log_format;
    });
    if (!config.ok()) return FailWith(config.status());
    return RunServe(std::move(*config));
  };
}

}  // namespace relayq::server
