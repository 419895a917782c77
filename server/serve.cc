#include "server/serve.h"

#include <openssl/rand.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <thread>
#include <iostream>

#include "common/strings.h"
#include "server/admin_api.h"
#include "server/command.h"
#include "handlers/action_executor.h"
#include "handlers/intake.h"
#include "handlers/policy_holder.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "server/github_setup.h"
#include "server/http_server.h"
#include "server/logging.h"
#include "server/maintenance_cmd.h"
#include "server/metrics_audit.h"
#include "server/recovery.h"
#include "server/routes.h"
#include "store/action_store.h"
#include "store/store.h"
#include "store/store_lock.h"

namespace relayq::server {
namespace {

// Creates `path` with mode 0600 holding a new random secret. The secret is
// printed once, to stdout (not the log), so the user can paste it into
// GitHub's webhook settings. O_EXCL: a file that appeared meanwhile (another
// relayq starting, or an empty file the user made) is never overwritten.
Result<std::string> GenerateSecretFile(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for a secret");
  std::string text =
      HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    return Status::InvalidArgument("the secret file " + path +
                                   " exists but holds no secret: put one in it, or remove it "
                                   "so relayq generates one");
  }
  if (fd < 0) return Status::IoError("cannot create the secret file " + path + ": " + std::strerror(errno));
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return Status::IoError("cannot write the secret file " + path);
  }
  text.pop_back();
  return text;
}

int Fail(const Status& s) {
  std::cerr << "relayq: " << s.message() << "\n";
  return 1;
}

// The policy file to use: the configured one (which must load), else
// policy/policy.yaml when it exists, else none (an empty policy: relayq
// records and reports but takes no routing action).
Result<std::shared_ptr<const policy::Policy>> LoadConfiguredPolicy(const Config& config,
                                                                   std::string& path) {
  path = config.policy_path;
  if (path.empty() && std::filesystem::exists("policy/policy.yaml")) path = "policy/policy.yaml";
  if (path.empty()) return std::shared_ptr<const policy::Policy>(std::make_shared<policy::Policy>());
  return policy::LoadPolicy(path);
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

  // One daemon per store: a second one would take the first's routing
  // actions for abandoned ones. Held until RunServe returns (or the process
  // dies), before anything else touches the store.
  auto store_lock = store::StoreLock::Acquire(config.db_path);
  if (!store_lock.ok()) return Fail(store_lock.status());

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
  auto database = store::Database::Open(store_options, store::Database::Mode::kCreate);
  if (!database.ok()) return Fail(database.status());
  if (Status migrated = (*database)->Migrate(); !migrated.ok()) return Fail(migrated);
  auto store = (*database)->OpenWriter(clock);
  if (!store.ok()) return Fail(store.status());

  MetricsRegistry metrics;
  handlers::Intake intake({config.secrets, config.allow}, **store, clock, metrics);

  // Routing: the policy decides as deliveries are recorded (Router, in the
  // store's transaction); the executor carries the actions out on GitHub.
  std::string policy_path;
  auto loaded_policy = LoadConfiguredPolicy(config, policy_path);
  if (!loaded_policy.ok()) return Fail(loaded_policy.status());
  handlers::PolicyHolder policy(*loaded_policy);
  handlers::Router router(policy);
  auto action_store = (*database)->OpenActionStore();
  if (!action_store.ok()) return Fail(action_store.status());
  // Stopped by the executor's Stop(): SIGTERM ends the client's waits and
  // requests at once (declared before the client, which unsubscribes).
  github::StoppableSleeper github_sleeper;
  std::unique_ptr<github::GitHubClient> github_client;
  std::unique_ptr<handlers::ActionExecutor> executor;
  if (HasGitHubCredentials(config)) {
    auto client = MakeGitHubClient(config, clock, github_sleeper);
    if (!client.ok()) return Fail(client.status());
    github_client = std::move(*client);
    handlers::ExecutorOptions exec_options;
    exec_options.owner = "daemon:" + std::to_string(::getpid());
    exec_options.github_sleeper = &github_sleeper;
    executor = std::make_unique<handlers::ActionExecutor>(**action_store, *github_client, policy,
                                                          clock, metrics, exec_options);
    // A previous daemon that died mid-action: this process holds the store's
    // one-daemon lock, so every other `daemon:` claim belongs to a dead
    // process and is resumed at once rather than after its lease.
    (void)(*action_store)->ReleaseClaimsOfDeadOwners("daemon:", ToUnixMillis(clock.Now()));
  } else {
    Log(LogLevel::kWarn,
        "no GitHub credentials: routing actions are recorded but not carried out (set "
        "GITHUB_TOKEN or configure a GitHub App)");
  }
  handlers::ActionExecutor* wake_target = executor.get();
  (*store)->SetRoutingHook(&router, [wake_target] {
    if (wake_target != nullptr) wake_target->Wake();
  });
  if (executor) executor->Start();
  Log(LogLevel::kInfo, "policy loaded",
      {{"file", policy_path.empty() ? "(none)" : policy_path},
       {"routes", std::to_string((*loaded_policy)->routes.size())},
       {"chains", std::to_string((*loaded_policy)->chains.size())}});

  HttpServerOptions pub;
  pub.name = "public";
  if (Status s = SplitHostPort(config.listen, pub.host, pub.port); !s.ok()) return Fail(s.WithContext("--listen"));
  pub.tls_cert = config.tls_cert;
  pub.tls_key = config.tls_key;
  pub.header_timeout = std::chrono::seconds(config.header_timeout_s);
  pub.request_timeout = std::chrono::seconds(config.request_timeout_s);
  pub.keep_alive_timeout = std::chrono::seconds(config.keep_alive_timeout_s);
  pub.max_connections = static_cast<size_t>(config.max_connections);
  // Bodies being read at once, all connections together: room for several
  // deliveries at GitHub's 25 MB cap, well inside relayq's 256 MB budget.
  pub.memory_budget_bytes = std::max<size_t>(96u << 20, config.max_body_bytes);
  pub.io_threads = config.io_threads > 0
                       ? config.io_threads
                       : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
  HttpServerOptions adm = pub;
  adm.name = "admin";
  if (Status s = SplitHostPort(config.admin_listen, adm.host, adm.port); !s.ok()) {
    return Fail(s.WithContext("--admin-listen"));
  }
  adm.tls_cert.clear();
  adm.tls_key.clear();
  adm.max_connections = static_cast<size_t>(config.admin_max_connections);
  adm.max_body_bytes = 1 << 20;
  adm.memory_budget_bytes = 16u << 20;
  adm.io_threads = 1;
  adm.worker_threads = 4;  // store reads for the API, /metrics and /readyz
  if (config.http_threads_given) {
    Log(LogLevel::kWarn, "http.threads is ignored: connections no longer hold a thread each "
                         "(see http.io_threads and http.max_connections)");
  }

  // Every connection is a descriptor: make room for both caps and the store.
  const uint64_t wanted = pub.max_connections + adm.max_connections + 64;
  if (uint64_t limit = RaiseFileLimit(wanted); limit < wanted) {
    const size_t fit = limit > adm.max_connections + 64 ? limit - adm.max_connections - 64 : 16;
    Log(LogLevel::kWarn, "the open-file limit is too low for http.max_connections; lowered",
        {{"limit", std::to_string(limit)},
         {"wanted", std::to_string(wanted)},
         {"max_connections", std::to_string(fit)},
         {"hint", "raise LimitNOFILE= in the unit, or ulimit -n"}});
    pub.max_connections = std::min(pub.max_connections, fit);
  }

  Router public_routes;
  AddPublicRoutes(public_routes, {intake, metrics, clock, config.max_body_bytes});
  if (config.admin_token.empty()) {
    Log(LogLevel::kWarn, "admin API disabled: set RELAYQ_ADMIN_TOKEN or admin.token_file");
  }
  Router admin_routes;
  AddAdminRoutes(admin_routes, {**store, metrics, config.admin_token});
  // [admin-api] audit API, dashboard and store gauges are added here.
  auto audit = AddAuditApi(admin_routes, {config.db_path, metrics, clock});
  if (github_client) {
    RegisterGitHubMetrics(metrics, [c = github_client.get()] { return c->Stats(); });
  }

  auto public_listener = HttpServer::Create(pub, std::move(public_routes), &metrics);
  if (!public_listener.ok()) return Fail(public_listener.status());
  auto admin_listener = HttpServer::Create(adm, std::move(admin_routes), &metrics);
  if (!admin_listener.ok()) return Fail(admin_listener.status());
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

  // [recovery] redelivery of missed deliveries, at start-up and then every
  // recovery.interval, is started here.
  auto recovery = PeriodicRecovery::Start(config, **store, clock);  // joined when RunServe returns
  // [maintenance] the daily prune is started here.
  DailyPrune daily_prune(config.db_path, config.retention, clock);  // stopped when RunServe returns

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Reload the policy; an invalid one is refused and the old one stays.
      // Deliveries keep flowing meanwhile: nothing here blocks intake.
      std::string path;
      auto reloaded = LoadConfiguredPolicy(config, path);
      if (!reloaded.ok()) {
        Log(LogLevel::kError, "SIGHUP: policy refused, the previous one stays in force",
            {{"error", reloaded.status().message()}});
      } else {
        policy.Set(*reloaded);
        Log(LogLevel::kInfo, "SIGHUP: policy reloaded",
            {{"file", path.empty() ? "(none)" : path},
             {"routes", std::to_string((*reloaded)->routes.size())},
             {"chains", std::to_string((*reloaded)->chains.size())}});
        if (executor) executor->Wake();
      }
      continue;
    }
    Log(LogLevel::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  (*public_listener)->Stop();
  (*admin_listener)->Stop();
  if (executor) executor->Stop();
  recovery.reset();  // its reconcile writes go through the store
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
