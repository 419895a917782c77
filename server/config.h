// relayq's configuration: a YAML file, overridden by flags, overridden by
// environment variables (PRODUCT.md). Every key is optional.
//
// Loading fails with one clear line naming the file, line and key for an
// unreadable file, a YAML syntax error, an unknown key (with a "did you mean"
// hint) or a bad value. Secrets (webhook secret, admin token, GitHub token)
// are never printed by ToString/ErrorMessage and never logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "notify/settings.h"
#include "store/store.h"

namespace relayq::server {

// Where a notify target's secrets come from (read by ApplyEnvironment into
// its notify::Target; the names here are not secret, the values are).
struct NotifyTargetSecrets {
  std::string token_file;                           // notify.targets[].token_file
  std::string token_env;                            // notify.targets[].token_env
  std::map<std::string, std::string> header_env;    // header -> variable name
  std::map<std::string, std::string> header_files;  // header -> file
};

// notify: notifications to the owner (README "Notifications"): the
// settings the notifier runs with, and what only the configuration needs.
struct NotifyConfig : notify::Settings {
  std::vector<NotifyTargetSecrets> secrets;  // one per target, same order
  // notify.retry_base: first pause before a failed notification is tried
  // again (doubling, at most 10m, with jitter). Default 2s.
  std::chrono::milliseconds retry_base{std::chrono::seconds(2)};
};

struct Config {
  std::string config_path;  // the file loaded, or empty

  // listen: public listener (POST /webhook, GET /healthz). Default 127.0.0.1:8080.
  std::string listen = "127.0.0.1:8080";
  // admin_listen: admin API, metrics, dashboard. Default 127.0.0.1:8081.
  std::string admin_listen = "127.0.0.1:8081";
  // tls.cert / tls.key: PEM files; when both are set the public listener
  // speaks HTTPS (TLS 1.2 or later only).
  std::string tls_cert;
  std::string tls_key;

  // store.path: the SQLite file. Default ./relayq.db.
  std::string db_path = "relayq.db";
  // store.synchronous: full (survives power loss, default) or normal
  // (survives a relayq crash only; faster).
  store::StoreOptions::Sync synchronous = store::StoreOptions::Sync::kFull;
  // store.retention: raw delivery bodies older than this are dropped by the
  // daemon's daily prune and by `relayq prune` (jobs, runs, job events,
  // actions and delivery metadata stay). A duration ("30d", "12h"); "0"
  // turns the daily prune off. Default 30d.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 30);
  // store.history: delivery records, finished jobs (with their events),
  // finished runs, finished routing actions and dispatch requests older than
  // this are deleted by the daily prune and `relayq prune`; nothing a
  // scheduled, pending or running action or an unfinished job needs. A
  // duration; "0" keeps every record. At least 7d and more than twice
  // recovery.since (store::kMinHistoryMs). Default 400d: a year of audits
  // and year-on-year questions keep their answers.
  std::chrono::milliseconds history = std::chrono::hours(24 * 400);

  // policy: the routing policy file. Default policy/policy.yaml when it exists.
  std::string policy_path;

  // webhook.secret_file: file holding the webhook secret(s), comma-separated.
  // Default: relayq.secret beside the store. `relayq serve` generates it
  // (mode 0600) when no secret is configured anywhere.
  std::string secret_file;
  // From RELAYQ_WEBHOOK_SECRET or secret_file; never from YAML.
  std::vector<std::string> secrets;
  // webhook.allow: repositories (owner/name) and owners allowed to deliver;
  // empty allows all.
  std::vector<std::string> allow;
  // webhook.max_body: largest accepted body. Default 25MiB (GitHub's cap).
  size_t max_body_bytes = 25u << 20;

  // admin.token_file: file holding the admin bearer token. RELAYQ_ADMIN_TOKEN
  // overrides it. With neither, admin routes answer 401.
  std::string admin_token_file;
  std::string admin_token;
  // admin.server: the admin URL of a running relayq (http(s)://HOST:PORT),
  // for the commands that can work through one (`dispatch`, `status`,
  // `actions`) from another machine. RELAYQ_SERVER overrides it; a command's
  // --server overrides both. Default empty: those commands use a local store.
  std::string server_url;

  // http.header_timeout: the TLS handshake, request line and headers must
  // arrive within this of the connection (or of the request's first byte on
  // a kept-alive connection); also the bound on writing an answer. Default
  // 10s, the whole of GitHub's answer budget. http.read_timeout is its old
  // name, still accepted.
  int header_timeout_s = 10;
  // http.request_timeout: the whole request, body included. Default 30s.
  int request_timeout_s = 30;
  // http.keep_alive_timeout: how long an idle keep-alive connection is kept.
  int keep_alive_timeout_s = 5;
  // http.max_connections / http.admin_max_connections: open connections per
  // listener; one more is answered 503 and closed. Defaults 10000 and 256.
  int max_connections = 10000;
  int admin_max_connections = 256;
  // http.io_threads: event-loop threads of the public listener. Default 0:
  // one per core, at most 2 (the store's single writer is the limit beyond).
  int io_threads = 0;
  // http.threads: accepted for old configurations and ignored (it sized
  // cpp-httplib's thread-per-connection pool, which relayq no longer uses).
  bool http_threads_given = false;

  // log.format: text (default) or json. log.level: debug, info (default), warn, error.
  std::string log_format = "text";
  std::string log_level = "info";

  // github.api_url: REST API base (RELAYQ_GITHUB_API_URL overrides).
  std::string github_api_url = "https://api.github.com";
  // From GITHUB_TOKEN; never from YAML.
  std::string github_token;
  // github.app_id / github.installation_id / github.private_key_file: a
  // GitHub App instead of a token.
  std::string github_app_id;
  std::string github_installation_id;
  std::string github_private_key_file;
  // github.write_interval: the least time between two writes (dispatch,
  // cancel, hook changes) to GitHub, which asks integrators to pace them to
  // avoid its secondary rate limits. Default 1s; 0 turns pacing off (a
  // GitHub Enterprise Server without such limits, or the fake API in tests).
  int github_write_interval_s = 1;
  // github.repositories: the repositories (owner/name) relayq serves. serve
  // recovers missed deliveries for each (see recovery.*), and `relayq
  // doctor` checks each. Default empty: serve recovers the repositories that
  // deliver to the store.
  std::vector<std::string> github_repositories;
  // github.hook_url: the webhook URL given to `relayq hooks install`; picks
  // relayq's hook when a repository has several. Default empty: the one hook
  // that sends workflow_job.
  std::string github_hook_url;

  // recovery.since: how far back recovery's first pass for a repository
  // looks for deliveries relayq missed. Default 24h (GitHub keeps three
  // days).
  int recovery_since_s = 24 * 3600;
  // recovery.stale_after: a job recorded as queued or in progress whose state
  // has not changed for this long is checked against GitHub. Default 5m.
  int recovery_stale_after_s = 5 * 60;
  // recovery.interval: how often serve runs recovery after the pass at
  // start-up (a delivery relayq could not take while running, e.g. answered
  // 503, is only recovered so). Default 10m; 0: at start-up only.
  int recovery_interval_s = 10 * 60;

  NotifyConfig notify;
};

// Reads `path` (empty: defaults only). Does not apply the environment.
Result<Config> LoadConfigFile(const std::string& path);

// Applies RELAYQ_WEBHOOK_SECRET, RELAYQ_ADMIN_TOKEN, GITHUB_TOKEN,
// RELAYQ_GITHUB_API_URL and RELAYQ_SERVER from `getenv`, then reads secret files that are
// configured and exist. Fails when a configured file cannot be read.
Status ApplyEnvironment(Config& config, const std::function<const char*(const char*)>& getenv);

// The default secret file: relayq.secret in the store's directory.
std::string DefaultSecretFile(const std::string& db_path);

// Parses "25MiB", "512KB", "1048576" (bytes).
Result<size_t> ParseByteSize(const std::string& text);

// Splits "HOST:PORT" ("[::1]:8080" for IPv6). Port 0 asks for a free port.
Status SplitHostPort(const std::string& text, std::string& host, int& port);

}  // namespace relayq::server
