#include "server/daemon.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "github/http_github_client.h"
#include "handlers/action_executor.h"
#include "handlers/intake.h"
#include "handlers/notifier.h"
#include "handlers/policy_holder.h"
#include "handlers/recovery.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "server/actions_api.h"
#include "server/admin_api.h"
#include "server/daily_prune.h"
#include "server/dispatch_api.h"
#include "server/github_setup.h"
#include "server/http_server.h"
#include "server/metrics_audit.h"
#include "server/routes.h"
#include "store/action_store.h"
#include "store/database.h"
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
  std::string text = HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    return Status::InvalidArgument("the secret file " + path +
                                   " exists but holds no secret: put one in it, or remove it "
                                   "so relayq generates one");
  }
  if (fd < 0)
    return Status::IoError("cannot create the secret file " + path + ": " + std::strerror(errno));
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

// The policy file to use: the configured one (which must load), else
// policy/policy.yaml when it exists, else none (an empty policy: relayq
// records and reports but takes no routing action).
Result<std::shared_ptr<const policy::Policy>> LoadConfiguredPolicy(const Config& config,
                                                                   std::string& path) {
  path = config.policy_path;
  if (path.empty() && std::filesystem::exists("policy/policy.yaml")) path = "policy/policy.yaml";
  if (path.empty())
    return std::shared_ptr<const policy::Policy>(std::make_shared<policy::Policy>());
  return policy::LoadPolicy(path);
}

// What the notifier reads of the configuration.
handlers::NotifierOptions NotifierOptionsFrom(const Config& config) {
  handlers::NotifierOptions n;
  static_cast<notify::Settings&>(n) = config.notify;  // the configured part, as it is
  n.repositories = config.github_repositories;
  // Links into GitHub's web UI: github.com, or a GitHub Enterprise Server's
  // host (its API lives below /api/v3); none for any other API URL.
  std::string api = config.github_api_url;
  while (!api.empty() && api.back() == '/') api.pop_back();
  if (api == "https://api.github.com") {
    n.web_url = "https://github.com";
  } else if (api.ends_with("/api/v3")) {
    n.web_url = api.substr(0, api.size() - 7);
  } else {
    n.web_url.clear();
  }
  return n;
}

// What recovery reads of the configuration.
handlers::PeriodicRecoveryConfig RecoveryConfig(const Config& config) {
  handlers::PeriodicRecoveryConfig r;
  r.github_repositories = config.github_repositories;
  r.github_hook_url = config.github_hook_url;
  r.recovery_since_s = config.recovery_since_s;
  r.recovery_stale_after_s = config.recovery_stale_after_s;
  r.recovery_interval_s = config.recovery_interval_s;
  r.db_path = config.db_path;
  return r;
}

}  // namespace

// Members in the order RunServe built them, so they are destroyed in
// reverse: nothing outlives what it uses.
struct Daemon::Parts {
  Parts(Config c, Clock& k) : config(std::move(c)), clock(k) {}

  Config config;
  Clock& clock;
  std::unique_ptr<store::StoreLock> store_lock;
  std::unique_ptr<store::Database> database;
  std::unique_ptr<store::Store> store;
  MetricsRegistry metrics;
  std::unique_ptr<handlers::Intake> intake;
  std::unique_ptr<handlers::PolicyHolder> policy;
  std::unique_ptr<handlers::Router> router;
  std::unique_ptr<JobStatusObserver> routing_hook;  // the router, telling `audit` of job starts
  std::unique_ptr<store::ActionStore> action_store;
  // Stopped by the executor's Stop(): SIGTERM ends the client's waits and
  // requests at once (declared before the client, which unsubscribes).
  github::StoppableSleeper github_sleeper;
  std::unique_ptr<github::GitHubClient> github_client;
  std::unique_ptr<handlers::ActionExecutor> executor;
  // [notify] notifications: queued through the action outbox, sent by the
  // executor (declared after it: stopped and destroyed first).
  std::unique_ptr<notify::HttpSender> notify_sender;
  std::unique_ptr<handlers::Notifier> notifier;
  std::unique_ptr<AuditServices> audit;
  std::unique_ptr<DispatchService> dispatch;  // POST /api/v1/dispatch
  std::unique_ptr<HttpServer> public_listener;
  std::unique_ptr<HttpServer> admin_listener;
  std::unique_ptr<handlers::PeriodicRecovery> recovery;
  std::unique_ptr<DailyPrune> daily_prune;
  bool serving = false;  // Start() succeeded
  bool stopped = false;
};

Result<std::unique_ptr<Daemon>> Daemon::Open(Config config_in, DaemonOptions options) {
  auto parts = std::make_unique<Parts>(std::move(config_in), *options.clock);
  Parts& d = *parts;
  Config& config = d.config;
  MetricsRegistry& metrics = d.metrics;

  // Nothing is written (lock, secret) for a store path that cannot be one.
  if (Status s = store::Database::CheckPath(config.db_path); !s.ok()) return s;

  // One daemon per store: a second one would take the first's routing
  // actions for abandoned ones. Held until the daemon goes away (or the
  // process dies), before anything else touches the store.
  auto store_lock = store::StoreLock::Acquire(config.db_path);
  if (!store_lock.ok()) return store_lock.status();
  d.store_lock = std::move(*store_lock);

  if (config.secrets.empty()) {
    std::string file =
        config.secret_file.empty() ? DefaultSecretFile(config.db_path) : config.secret_file;
    auto secret = GenerateSecretFile(file);
    if (!secret.ok()) return secret.status();
    std::ostream& out = options.notices != nullptr ? *options.notices : std::cout;
    out << "relayq: no webhook secret was configured; generated one and stored it in " << file
        << " (mode 0600).\nrelayq: paste it into the GitHub webhook's Secret field: " << *secret
        << std::endl;
    config.secrets = {*secret};
  }

  Clock& clock = d.clock;
  store::StoreOptions store_options;
  store_options.path = config.db_path;
  store_options.synchronous = config.synchronous;
  auto database = store::Database::Open(store_options, store::Database::Mode::kCreate);
  if (!database.ok()) return database.status();
  d.database = std::move(*database);
  if (Status migrated = d.database->Migrate(); !migrated.ok()) return migrated;
  auto store = d.database->OpenWriter(clock);
  if (!store.ok()) return store.status();
  d.store = std::move(*store);

  d.intake = std::make_unique<handlers::Intake>(
      handlers::IntakeOptions{config.secrets, config.allow}, *d.store, clock, metrics);

  // Routing: the policy decides as deliveries are recorded (Router, in the
  // store's transaction); the executor carries the actions out on GitHub.
  std::string policy_path;
  auto loaded_policy = LoadConfiguredPolicy(config, policy_path);
  if (!loaded_policy.ok()) return loaded_policy.status();
  d.policy = std::make_unique<handlers::PolicyHolder>(*loaded_policy);
  d.router = std::make_unique<handlers::Router>(*d.policy);
  auto action_store = d.database->OpenActionStore();
  if (!action_store.ok()) return action_store.status();
  d.action_store = std::move(*action_store);
  if (!config.notify.targets.empty()) {
    handlers::NotifierOptions n = NotifierOptionsFrom(config);
    d.notify_sender = std::make_unique<notify::HttpSender>();
    d.notifier = std::make_unique<handlers::Notifier>(std::move(n), *d.action_store, *d.database,
                                                      *d.notify_sender, clock, metrics);
  }
  if (HasGitHubCredentials(config) || d.notifier) {
    const bool github = HasGitHubCredentials(config);
    github::ClientOptions unused;
    unused.api_url = config.github_api_url;
    unused.user_agent = "relayq";
    unused.token = "(no credentials: never sent)";
    // Without credentials the executor carries out notifications only
    // (only_kind below), so this client is never called.
    auto client = github ? MakeGitHubClient(config, clock, d.github_sleeper)
                         : github::HttpGitHubClient::Create(unused, clock, d.github_sleeper);
    if (!client.ok()) return client.status();
    d.github_client = std::move(*client);
    handlers::ExecutorOptions exec_options;
    exec_options.owner = "daemon:" + std::to_string(::getpid());
    exec_options.github_sleeper = &d.github_sleeper;
    if (!github) exec_options.only_kind = store::ActionKind::kNotify;
    if (d.notifier) {
      exec_options.notify = [n = d.notifier.get()](const store::ActionRecord& a,
                                                   std::string& what) {
        return n->Deliver(a, what);
      };
      exec_options.notify_retry_base = config.notify.retry_base;
    }
    d.executor = std::make_unique<handlers::ActionExecutor>(
        *d.action_store, *d.github_client, *d.policy, clock, metrics, exec_options);
    // A previous daemon that died mid-action: this process holds the store's
    // one-daemon lock, so every other `daemon:` claim belongs to a dead
    // process and is resumed at once rather than after its lease.
    (void)d.action_store->ReleaseClaimsOfDeadOwners("daemon:", ToUnixMillis(clock.Now()));
  } else {
    Log(LogLevel::kWarn,
        "no GitHub credentials: routing actions are recorded but not carried out (set "
        "GITHUB_TOKEN or configure a GitHub App)");
  }
  if (!HasGitHubCredentials(config) && d.executor) {
    Log(LogLevel::kWarn,
        "no GitHub credentials: routing actions are recorded but not carried out, and "
        "runner_offline notifications are off (set GITHUB_TOKEN or configure a GitHub App)");
  }
  if (d.notifier) {
    d.notifier->SetWritableCheck([st = d.store.get()] { return st->CheckWritable(); });
    d.notifier->SetRunnerSource(HasGitHubCredentials(config) ? d.github_client.get() : nullptr,
                                d.policy.get());
    d.notifier->SetWake([e = d.executor.get()] { e->Wake(); });
    Log(LogLevel::kInfo, "notifications on",
        {{"targets", std::to_string(config.notify.targets.size())}});
  }
  handlers::ActionExecutor* wake_target = d.executor.get();
  // `audit` is set below, before any delivery can be recorded (the listeners
  // and recovery start in Start()).
  d.routing_hook = std::make_unique<JobStatusObserver>(*d.router, [&d] {
    if (d.audit) d.audit->JobsChanged();
  });
  d.store->SetRoutingHook(d.routing_hook.get(), [wake_target] {
    if (wake_target != nullptr) wake_target->Wake();
  });
  Log(LogLevel::kInfo, "policy loaded",
      {{"file", policy_path.empty() ? "(none)" : policy_path},
       {"routes", std::to_string((*loaded_policy)->routes.size())},
       {"chains", std::to_string((*loaded_policy)->chains.size())}});

  HttpServerOptions pub;
  pub.name = "public";
  if (Status s = SplitHostPort(config.listen, pub.host, pub.port); !s.ok())
    return s.WithContext("--listen");
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
    return s.WithContext("--admin-listen");
  }
  adm.tls_cert.clear();
  adm.tls_key.clear();
  adm.max_connections = static_cast<size_t>(config.admin_max_connections);
  adm.max_body_bytes = 1 << 20;
  adm.memory_budget_bytes = 16u << 20;
  adm.io_threads = 1;
  adm.worker_threads = 4;  // store reads for the API, /metrics and /readyz
  if (config.http_threads_given) {
    Log(LogLevel::kWarn,
        "http.threads is ignored: connections no longer hold a thread each "
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
  AddPublicRoutes(public_routes, {*d.intake, metrics, clock, config.max_body_bytes});
  if (config.admin_token.empty()) {
    Log(LogLevel::kWarn, "admin API disabled: set RELAYQ_ADMIN_TOKEN or admin.token_file");
  }
  Router admin_routes;
  AddAdminRoutes(admin_routes, {*d.store, metrics, config.admin_token});
  // [admin-api] audit API, dashboard and store gauges are added here.
  d.audit = AddAuditApi(admin_routes, {config.db_path, metrics, clock});
  auto dispatch = AddDispatchApi(admin_routes, {*d.action_store, config, clock, metrics, [&d] {
                                                  if (d.executor) d.executor->Wake();
                                                }});
  if (!dispatch.ok()) return dispatch.status();
  d.dispatch = std::move(*dispatch);
  AddActionsApi(admin_routes, {*d.action_store, clock, [wake_target] {
                                 if (wake_target != nullptr) wake_target->Wake();
                               }});
  if (d.github_client) {
    RegisterGitHubMetrics(metrics, [c = d.github_client.get()] { return c->Stats(); });
  }

  auto public_listener = HttpServer::Create(pub, std::move(public_routes), &metrics);
  if (!public_listener.ok()) return public_listener.status();
  d.public_listener = std::move(*public_listener);
  auto admin_listener = HttpServer::Create(adm, std::move(admin_routes), &metrics);
  if (!admin_listener.ok()) return admin_listener.status();
  d.admin_listener = std::move(*admin_listener);
  return std::unique_ptr<Daemon>(new Daemon(std::move(parts)));
}

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  Parts& d = *parts_;
  const Config& config = d.config;
  if (d.executor) d.executor->Start();
  if (d.notifier) d.notifier->Start();
  if (Status s = d.public_listener->Start(); !s.ok()) {
    Stop();
    return s;
  }
  if (Status s = d.admin_listener->Start(); !s.ok()) {
    Stop();
    return s;
  }
  d.serving = true;
  Log(LogLevel::kInfo, "started",
      {{"public", d.public_listener->address()},
       {"admin", d.admin_listener->address()},
       {"store", config.db_path},
       {"tls", d.public_listener->tls() ? "on" : "off"}});

  // [recovery] redelivery of missed deliveries, at start-up and then every
  // recovery.interval, is started here.
  if (!HasGitHubCredentials(config)) {
    Log(LogLevel::kWarn,
        "recovery off: no GitHub credentials (set GITHUB_TOKEN or configure a GitHub App)");
  } else {
    d.recovery = handlers::PeriodicRecovery::Start(
        RecoveryConfig(config), *d.store, d.clock,
        [&d](github::Sleeper& sleeper) { return MakeGitHubClient(d.config, d.clock, sleeper); });
  }
  // [maintenance] the daily prune is started here.
  d.daily_prune =
      std::make_unique<DailyPrune>(config.db_path, config.retention, config.history, d.clock);
  return Status::Ok();
}

namespace {

// The notify: section as text, secrets included (compared, never shown).
std::string NotifySettings(const NotifyConfig& c) {
  std::string out =
      std::to_string(c.rate_limit.max) + "/" + std::to_string(c.rate_limit.per.count()) + "/" +
      std::to_string(c.check_interval.count()) + "/" + std::to_string(c.job_stuck_after.count()) +
      "/" + std::to_string(c.runner_offline_after.count()) + "/" +
      std::to_string(c.signature_count) + "/" + std::to_string(c.signature_window.count()) + "/" +
      std::to_string(c.retry_base.count());
  for (const notify::Target& t : c.targets) {
    out += "|" + t.name + " " + std::string(notify::TargetFormatName(t.format)) + " " + t.url +
           " " + t.token + " " + std::to_string(t.timeout_s);
    for (notify::EventKind k : t.events) out += "," + std::string(notify::EventKindName(k));
    for (const auto& [h, v] : t.headers) out += ";" + h + "=" + v;
    for (const auto& tag : t.tags) out += "#" + tag;
  }
  return out;
}

// The keys of `a` and `b` that differ among those only a restart applies.
std::vector<std::string> RestartOnlyChanges(const Config& a, const Config& b) {
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& i : v) out += i + ",";
    return out;
  };
  const std::pair<const char*, std::pair<std::string, std::string>> keys[] = {
      {"listen", {a.listen, b.listen}},
      {"admin_listen", {a.admin_listen, b.admin_listen}},
      {"tls", {a.tls_cert + a.tls_key, b.tls_cert + b.tls_key}},
      {"store.path", {a.db_path, b.db_path}},
      {"store.synchronous",
       {std::to_string(static_cast<int>(a.synchronous)),
        std::to_string(static_cast<int>(b.synchronous))}},
      {"store.retention", {ms(a.retention), ms(b.retention)}},
      {"store.history", {ms(a.history), ms(b.history)}},
      {"webhook.max_body", {std::to_string(a.max_body_bytes), std::to_string(b.max_body_bytes)}},
      {"admin token", {a.admin_token, b.admin_token}},
      {"http.*",
       {std::to_string(a.header_timeout_s) + "/" + std::to_string(a.request_timeout_s) + "/" +
            std::to_string(a.keep_alive_timeout_s) + "/" + std::to_string(a.max_connections) + "/" +
            std::to_string(a.admin_max_connections) + "/" + std::to_string(a.io_threads),
        std::to_string(b.header_timeout_s) + "/" + std::to_string(b.request_timeout_s) + "/" +
            std::to_string(b.keep_alive_timeout_s) + "/" + std::to_string(b.max_connections) + "/" +
            std::to_string(b.admin_max_connections) + "/" + std::to_string(b.io_threads)}},
      {"log.*", {a.log_format + a.log_level, b.log_format + b.log_level}},
      {"github.*",
       {a.github_api_url + a.github_token + a.github_app_id + a.github_installation_id +
            a.github_private_key_file + std::to_string(a.github_write_interval_s) +
            list(a.github_repositories) + a.github_hook_url,
        b.github_api_url + b.github_token + b.github_app_id + b.github_installation_id +
            b.github_private_key_file + std::to_string(b.github_write_interval_s) +
            list(b.github_repositories) + b.github_hook_url}},
      {"recovery.*",
       {std::to_string(a.recovery_since_s) + "/" + std::to_string(a.recovery_stale_after_s) + "/" +
            std::to_string(a.recovery_interval_s),
        std::to_string(b.recovery_since_s) + "/" + std::to_string(b.recovery_stale_after_s) + "/" +
            std::to_string(b.recovery_interval_s)}},
  };
  std::vector<std::string> changed;
  if (NotifySettings(a.notify) != NotifySettings(b.notify)) changed.push_back("notify.*");
  for (const auto& [name, values] : keys) {
    if (values.first != values.second) changed.push_back(name);
  }
  return changed;
}

}  // namespace

Status Daemon::Reload() { return Reload(parts_->config); }

Status Daemon::Reload(const Config& fresh) {
  Parts& d = *parts_;
  // An invalid policy is refused and the old one stays. Deliveries keep
  // flowing meanwhile: nothing here blocks intake.
  std::string path;
  auto reloaded = LoadConfiguredPolicy(fresh, path);
  if (!reloaded.ok()) {
    Log(LogLevel::kError, "SIGHUP: policy refused, the previous one stays in force",
        {{"error", reloaded.status().message()}});
    return reloaded.status();
  }
  d.policy->Set(*reloaded);
  Log(LogLevel::kInfo, "SIGHUP: policy reloaded",
      {{"file", path.empty() ? "(none)" : path},
       {"routes", std::to_string((*reloaded)->routes.size())},
       {"chains", std::to_string((*reloaded)->chains.size())}});
  // d.config is read by background threads: it is not replaced; the
  // reloadable parts live in the intake and the policy holder.
  if (&fresh != &d.config) {
    d.intake->SetOptions(handlers::IntakeOptions{
        fresh.secrets.empty() ? d.config.secrets : fresh.secrets, fresh.allow});
    if (d.dispatch) d.dispatch->SetAllow(fresh.allow);
    std::string allow;
    for (const auto& a : fresh.allow) allow += (allow.empty() ? "" : ",") + a;
    Log(LogLevel::kInfo, "SIGHUP: webhook settings reloaded",
        {{"allow", allow.empty() ? "(every repository)" : allow},
         {"secrets",
          std::to_string(fresh.secrets.empty() ? d.config.secrets.size() : fresh.secrets.size())}});
    std::vector<std::string> changed = RestartOnlyChanges(d.config, fresh);
    if (!changed.empty()) {
      std::string keys;
      for (const auto& k : changed) keys += (keys.empty() ? "" : ", ") + k;
      Log(LogLevel::kWarn, "SIGHUP: changed settings need a restart to take effect",
          {{"keys", keys}});
    }
  }
  if (d.executor) d.executor->Wake();
  return Status::Ok();
}

void Daemon::Stop() {
  Parts& d = *parts_;
  if (d.stopped) return;
  d.stopped = true;
  if (d.dispatch) d.dispatch->Stop();  // a GitHub try in flight ends at once
  d.public_listener->Stop();
  d.admin_listener->Stop();
  if (d.notifier) d.notifier->Stop();
  if (d.executor) d.executor->Stop();
  d.recovery.reset();  // its reconcile writes go through the store
  d.store->Close();
  d.daily_prune.reset();
  // Every connection closed, then the log folded into the store file, so a
  // copy of relayq.db alone after a clean stop is the whole store.
  d.notifier.reset();
  d.executor.reset();
  d.action_store.reset();
  d.audit.reset();
  if (Status s = d.database->Checkpoint(); !s.ok()) {
    Log(LogLevel::kWarn, "stop: the write-ahead log was not folded into the store",
        {{"error", s.message()}});
  }
  if (d.serving) Log(LogLevel::kInfo, "stopped");
}

std::string Daemon::public_address() const { return parts_->public_listener->address(); }
std::string Daemon::admin_address() const { return parts_->admin_listener->address(); }
bool Daemon::public_tls() const { return parts_->public_listener->tls(); }

}  // namespace relayq::server
