#include "handlers/recovery.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/json_text.h"
#include "common/log.h"
#include "common/periodic_worker.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "store/lifecycle.h"
#include "store/recovery_reads.h"

namespace relayq::handlers {
namespace {

bool SendsWorkflowJob(const github::Hook& hook) {
  for (const std::string& e : hook.events) {
    if (e == "workflow_job" || e == "*") return true;
  }
  return false;
}

// Errors after which every further call would fail the same way.
bool StopsRecovery(const Status& s) {
  return s.code() == Status::Code::kPermissionDenied || s.code() == Status::Code::kRateLimited;
}

std::optional<int64_t> NonZero(int64_t v) {
  if (v == 0) return std::nullopt;
  return v;
}
std::optional<std::string> NonEmpty(const std::string& v) {
  if (v.empty()) return std::nullopt;
  return v;
}

// The API answer as JSON, in GitHub's field names, for the audit log.
std::string JobJson(const github::WorkflowJob& job, const std::string& repository) {
  auto time = [](int64_t ms) -> nlohmann::json {
    if (ms == 0) return nullptr;
    return FormatRfc3339(ms);
  };
  auto text = [](const std::string& s) -> nlohmann::json {
    if (s.empty()) return nullptr;
    return s;
  };
  nlohmann::json j = {
      {"source", "GET /repos/" + repository + "/actions/jobs/" + std::to_string(job.id)},
      {"id", job.id},
      {"run_id", job.run_id},
      {"run_attempt", job.attempt},
      {"name", job.name},
      {"workflow_name", text(job.workflow_name)},
      {"head_branch", text(job.head_branch)},
      {"status", job.status},
      {"conclusion", text(job.conclusion)},
      {"runner_name", text(job.runner_name)},
      {"labels", job.labels},
      {"created_at", time(job.created_at_ms)},
      {"started_at", time(job.started_at_ms)},
      {"completed_at", time(job.completed_at_ms)}};
  return DumpJson(j);
}

}  // namespace

Result<github::Hook> SelectRelayqHook(const std::vector<github::Hook>& hooks,
                                      std::string_view url) {
  if (!url.empty()) {
    for (const github::Hook& h : hooks) {
      if (h.url == url) return h;
    }
    return Status::NotFound("no webhook with URL " + std::string(url) +
                            " (run relayq hooks install)");
  }
  const github::Hook* found = nullptr;
  for (const github::Hook& h : hooks) {
    if (!SendsWorkflowJob(h)) continue;
    if (found != nullptr) {
      return Status::InvalidArgument(
          "several webhooks send workflow_job; choose one with --url (or github.hook_url)");
    }
    found = &h;
  }
  if (found == nullptr) {
    return Status::NotFound("no webhook sends workflow_job (run relayq hooks install)");
  }
  return *found;
}

bool IsRecoverableEvent(std::string_view event) {
  return std::find(kRelayqHookEvents.begin(), kRelayqHookEvents.end(), event) !=
         kRelayqHookEvents.end();
}

std::vector<github::HookDelivery> UniqueRecoverableDeliveries(
    const std::vector<github::HookDelivery>& newest_first, int64_t since_ms) {
  std::vector<github::HookDelivery> out;
  std::unordered_set<std::string> seen;
  for (const github::HookDelivery& d : newest_first) {
    if (d.guid.empty() || !IsRecoverableEvent(d.event)) continue;
    if (d.delivered_at_ms != 0 && d.delivered_at_ms < since_ms) continue;
    if (!seen.insert(d.guid).second) continue;
    out.push_back(d);
  }
  return out;
}

std::vector<github::HookDelivery> MissingDeliveries(const std::vector<github::HookDelivery>& unique,
                                                    const std::set<std::string>& recorded) {
  std::vector<github::HookDelivery> out;
  for (const github::HookDelivery& d : unique) {
    if (recorded.count(d.guid) == 0) out.push_back(d);
  }
  return out;
}

bool NeedsReconcile(const store::JobState& recorded, const github::WorkflowJob& api) {
  return store::JobStatusIsLater(api.status, recorded.status);
}

store::Delivery ReconcileDelivery(const store::JobState& recorded, const github::WorkflowJob& api,
                                  int64_t now_ms) {
  store::JobEvent e;
  e.job_id = recorded.id;
  e.run_id = api.run_id != 0 ? api.run_id : recorded.run_id;
  e.run_attempt = api.attempt;
  // The store's spelling of the repository, so the job keeps one name.
  e.repository = recorded.repository;
  e.workflow_name = api.workflow_name.empty() ? recorded.workflow_name : api.workflow_name;
  e.name = api.name.empty() ? recorded.name : api.name;
  e.labels = api.labels.empty() ? recorded.labels : api.labels;
  e.action = api.status;
  e.status = api.status;
  e.conclusion = NonEmpty(api.conclusion);
  e.runner_name = NonEmpty(api.runner_name);
  e.created_at = NonZero(api.created_at_ms);
  e.started_at = NonZero(api.started_at_ms);
  e.completed_at = NonZero(api.completed_at_ms);

  store::Delivery d;
  d.id = "reconcile-" + std::to_string(recorded.id) + "-" + api.status;
  d.event = std::string(kReconcileEvent);
  d.action = api.status;
  d.repository = recorded.repository;
  d.received_at = now_ms;
  d.outcome = store::Outcome::kAccepted;
  d.content_type = "application/json";
  d.body = JobJson(api, recorded.repository);
  d.job = std::move(e);
  return d;
}

Result<RecoveryReport> RecoverRepository(github::GitHubClient& client, store::Store& store,
                                         Clock& clock, const RecoveryOptions& options,
                                         const StopToken& stop) {
  RecoveryReport report;
  const std::string& repo = options.repository;

  auto hooks = client.ListHooks(repo);
  if (!hooks.ok()) return hooks.status();
  RELAYQ_ASSIGN_OR_RETURN(github::Hook hook, SelectRelayqHook(*hooks, options.hook_url));
  report.hook_id = hook.id;

  // Pages come newest first; stop at the first page that reaches past `since`.
  std::vector<github::HookDelivery> attempts;
  std::string cursor;
  for (int page = 0; page < options.max_delivery_pages; ++page) {
    if (stop.stop_requested()) {
      report.interrupted = true;
      return report;
    }
    auto listed = client.ListHookDeliveries(repo, hook.id, 100, cursor);
    if (!listed.ok())
      return listed.status().WithContext("listing deliveries of hook " + std::to_string(hook.id));
    bool reached_since = false;
    for (github::HookDelivery& d : listed->deliveries) {
      if (d.delivered_at_ms != 0 && d.delivered_at_ms < options.since_ms) {
        reached_since = true;
        continue;
      }
      attempts.push_back(std::move(d));
    }
    if (reached_since || !listed->next_cursor || *listed->next_cursor == cursor) break;
    cursor = *listed->next_cursor;
    if (page + 1 == options.max_delivery_pages) {
      report.problems.push_back("stopped listing after " + std::to_string(page + 1) +
                                " pages of deliveries; older ones were not checked");
    }
  }
  report.attempts_listed = static_cast<int>(attempts.size());

  std::vector<github::HookDelivery> unique =
      UniqueRecoverableDeliveries(attempts, options.since_ms);
  report.unique = static_cast<int>(unique.size());
  std::vector<std::string> guids;
  guids.reserve(unique.size());
  for (const auto& d : unique) guids.push_back(d.guid);
  store::StoreOptions store_options;
  store_options.path = options.db_path;
  RELAYQ_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                          store::Database::Open(store_options));
  RELAYQ_ASSIGN_OR_RETURN(std::set<std::string> recorded, store::RecordedDeliveryIds(*db, guids));
  std::vector<github::HookDelivery> missing = MissingDeliveries(unique, recorded);
  report.missing = static_cast<int>(missing.size());

  // Oldest first, so GitHub sends them again in their original order.
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (stop.stop_requested()) {
      report.interrupted = true;
      return report;
    }
    Status s = client.RedeliverHookDelivery(repo, hook.id, it->id);
    if (s.ok()) {
      ++report.redelivered;
      std::string what = it->event + (it->action.empty() ? "" : " " + it->action);
      if (it->delivered_at_ms != 0) what += ", " + FormatRfc3339(it->delivered_at_ms);
      report.done.push_back("redelivered " + it->guid + " (" + what + ")");
      continue;
    }
    ++report.redelivery_failed;
    report.problems.push_back("redelivery of " + it->guid + " failed: " + s.message());
    if (StopsRecovery(s)) return report;
  }

  const int64_t now_ms = ToUnixMillis(clock.Now());
  const int64_t cutoff = now_ms - options.stale_after.count();
  RELAYQ_ASSIGN_OR_RETURN(std::vector<store::JobState> stale,
                          store::StaleUnfinishedJobs(*db, repo, cutoff, options.max_jobs));
  for (const store::JobState& job : stale) {
    if (stop.stop_requested()) {
      report.interrupted = true;
      return report;
    }
    ++report.jobs_checked;
    auto api = client.GetJob(repo, job.id);
    if (!api.ok()) {
      report.problems.push_back("job " + std::to_string(job.id) + ": " + api.status().message());
      if (StopsRecovery(api.status())) return report;
      continue;
    }
    if (!NeedsReconcile(job, *api)) continue;
    auto ingested = store.Ingest(ReconcileDelivery(job, *api, ToUnixMillis(clock.Now())));
    if (!ingested.ok()) {
      report.problems.push_back("job " + std::to_string(job.id) +
                                ": recording the reconcile failed: " + ingested.status().message());
      if (ingested.status().code() == Status::Code::kUnavailable) return report;
      continue;
    }
    if (ingested->duplicate) continue;  // reconciled to this status before
    ++report.reconciled;
    report.done.push_back("job " + std::to_string(job.id) + ": " + job.status + " -> " +
                          api->status +
                          (api->conclusion.empty() ? "" : " (" + api->conclusion + ")"));
  }
  return report;
}

// ---- PeriodicRecovery ----

namespace {

// How far back the first scan for repositories that deliver to the store
// looks; later scans read only what arrived since the previous one.
constexpr int64_t kSeenRepositoriesWindowMs = int64_t{30} * 24 * 3600 * 1000;

void LogReport(const std::string& repository, const RecoveryReport& report) {
  LogFields fields = {{"repository", repository},
                      {"hook", std::to_string(report.hook_id)},
                      {"missing", std::to_string(report.missing)},
                      {"redelivered", std::to_string(report.redelivered)},
                      {"redelivery_failed", std::to_string(report.redelivery_failed)},
                      {"jobs_checked", std::to_string(report.jobs_checked)},
                      {"reconciled", std::to_string(report.reconciled)}};
  if (!report.problems.empty()) {
    fields.emplace_back("problems", std::to_string(report.problems.size()));
    fields.emplace_back("first_problem", report.problems.front());
  }
  if (report.interrupted) fields.emplace_back("interrupted", "true");
  const bool quiet = report.problems.empty() && report.missing == 0 && report.reconciled == 0;
  Log(report.problems.empty() ? (quiet ? LogLevel::kDebug : LogLevel::kInfo) : LogLevel::kWarn,
      "recovery", fields);
}

}  // namespace

struct PeriodicRecovery::Impl {
  Impl(PeriodicRecoveryConfig config_in, store::Store& store, Clock& clock)
      : config(std::move(config_in)),
        store(store),
        clock(clock),
        sleeper(clock),
        worker(clock,
               {.period = std::chrono::seconds(config.recovery_interval_s),
                .run_at_start = true,
                .threads = 1},
               [this](PeriodicWorker::Pass& pass) { RunPass(pass); }) {}

  // One pass over the repositories; the last when recovery.interval is 0.
  void RunPass(PeriodicWorker::Pass& pass);
  std::vector<std::string> Repositories();

  const PeriodicRecoveryConfig config;
  store::Store& store;
  Clock& clock;
  // The GitHub client's waits: stopped with the worker, so neither the
  // interval nor the client's backoff holds up shutdown.
  github::StoppableSleeper sleeper;
  std::unique_ptr<github::GitHubClient> client;
  // Worker thread only: repositories seen in deliveries (by lower-case name),
  // how far the store has been scanned for them, and when each
  // repository's last successful pass started (Unix ms).
  std::map<std::string, std::string> seen;
  int64_t seen_scanned_to = 0;
  std::map<std::string, int64_t> last_pass;
  PeriodicWorker worker;  // last: joined before the members it uses go away
};

std::vector<std::string> PeriodicRecovery::Impl::Repositories() {
  if (!config.github_repositories.empty()) return config.github_repositories;
  const int64_t now_ms = ToUnixMillis(clock.Now());
  const int64_t from = seen_scanned_to != 0 ? seen_scanned_to : now_ms - kSeenRepositoriesWindowMs;
  store::StoreOptions store_options;
  store_options.path = config.db_path;
  auto db = store::Database::Open(store_options);
  auto found =
      db.ok() ? store::SeenRepositories(**db, from) : Result<std::vector<std::string>>(db.status());
  if (!found.ok()) {
    Log(LogLevel::kWarn, "recovery: cannot read the repositories that deliver to the store",
        {{"error", found.status().message()}});
  } else {
    for (const std::string& r : *found) seen.emplace(ToLower(r), r);
    // Overlap by a minute: a delivery committed late still counts.
    seen_scanned_to = now_ms - 60'000;
  }
  std::vector<std::string> out;
  for (const auto& [key, repo] : seen) out.push_back(repo);
  return out;
}

void PeriodicRecovery::Impl::RunPass(PeriodicWorker::Pass& pass) {
  const int64_t interval_ms = int64_t{config.recovery_interval_s} * 1000;
  const int64_t pass_start = ToUnixMillis(clock.Now());
  for (const std::string& repo : Repositories()) {
    if (pass.stop.stop_requested()) return;
    RecoveryOptions o;
    o.repository = repo;
    o.hook_url = config.github_hook_url;
    o.since_ms = pass_start - int64_t{config.recovery_since_s} * 1000;
    if (auto it = last_pass.find(ToLower(repo)); it != last_pass.end()) {
      o.since_ms = std::max(o.since_ms, it->second - interval_ms);
    }
    o.stale_after = std::chrono::seconds(config.recovery_stale_after_s);
    o.db_path = config.db_path;
    auto report = RecoverRepository(*client, store, clock, o, pass.stop);
    if (!report.ok()) {
      Log(LogLevel::kWarn, "recovery failed",
          {{"repository", repo}, {"error", report.status().message()}});
      continue;
    }
    LogReport(repo, *report);
    if (!report->interrupted) last_pass[ToLower(repo)] = pass_start;
  }
  pass.last = interval_ms <= 0;
}

PeriodicRecovery::PeriodicRecovery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeriodicRecovery::~PeriodicRecovery() {
  impl_->worker.RequestStop();
  impl_->sleeper.Stop();
  impl_->worker.Stop();
}

std::unique_ptr<PeriodicRecovery> PeriodicRecovery::Start(
    PeriodicRecoveryConfig config, store::Store& store, Clock& clock,
    const RecoveryClientFactory& make_client) {
  auto impl = std::make_unique<Impl>(std::move(config), store, clock);
  auto client = make_client(impl->sleeper);
  if (!client.ok()) {
    Log(LogLevel::kWarn, "recovery off", {{"error", client.status().message()}});
    return nullptr;
  }
  impl->client = std::move(*client);
  impl->worker.Start();
  return std::unique_ptr<PeriodicRecovery>(new PeriodicRecovery(std::move(impl)));
}

}  // namespace relayq::handlers
