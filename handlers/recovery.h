// Recovering what relayq missed while it was down or unreachable.
//
// For one repository: find relayq's webhook, list its recent deliveries
// (following cursor pages back to `since`), find the GUIDs the store never
// recorded, and ask GitHub to redeliver each of them once; then reconcile:
// jobs the store still believes are queued or in progress, unchanged for
// `stale_after`, are read from the API, and when GitHub reports a later
// stage the store is corrected by ingesting a synthetic delivery (event
// "relayq_reconcile", id "reconcile-<job_id>-<status>", the API's answer as
// its body), so the audit log shows where the correction came from. Store
// state changes only through Store::Ingest.
//
// Which deliveries count: only workflow_job and workflow_run events (what
// relayq records and acts on); ping and any other event are left alone. A
// GUID listed several times (GitHub's failed attempts plus redeliveries)
// counts once and is redelivered once, through its newest attempt.
//
// A use case: it needs only the GitHub client, the store and a clock. Used
// by `relayq hooks recover` and, on a background thread, by the daemon at
// start-up and periodically (PeriodicRecovery). Thread safety: the free
// functions are reentrant; PeriodicRecovery's methods are called from the
// thread that owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/stop.h"
#include "github/client.h"
#include "github/sleeper.h"
#include "github/types.h"
#include "store/model.h"
#include "store/store.h"

namespace relayq::handlers {

// The event name of reconcile deliveries in the store and audit log.
inline constexpr std::string_view kReconcileEvent = "relayq_reconcile";
// The events relayq's hook subscribes to, and the only ones recovered.
inline const std::vector<std::string> kRelayqHookEvents = {"workflow_job", "workflow_run"};

// ---- pure steps, exposed for tests ----

// Picks relayq's hook among a repository's hooks: with a non-empty `url`, the
// hook whose config URL equals it; otherwise the only hook that sends
// workflow_job (or every event, "*"). NotFound when there is none;
// InvalidArgument when several qualify (pass the URL to choose).
Result<github::Hook> SelectRelayqHook(const std::vector<github::Hook>& hooks, std::string_view url);

// True for the events recovery redelivers (workflow_job, workflow_run).
bool IsRecoverableEvent(std::string_view event);

// From attempts listed newest first: one entry per GUID (its newest
// attempt), recoverable events only, delivered at or after `since_ms`
// (an attempt without a time counts as inside the window). Order kept.
std::vector<github::HookDelivery> UniqueRecoverableDeliveries(
    const std::vector<github::HookDelivery>& newest_first, int64_t since_ms);

// The deliveries of `unique` whose GUID is not in `recorded`. Order kept.
std::vector<github::HookDelivery> MissingDeliveries(const std::vector<github::HookDelivery>& unique,
                                                    const std::set<std::string>& recorded);

// True when GitHub reports `api` at a later lifecycle stage than the store's
// `recorded` state (e.g. completed vs in_progress); never for an earlier or
// equal one, which the store would ignore anyway.
bool NeedsReconcile(const store::JobState& recorded, const github::WorkflowJob& api);

// The synthetic delivery that tells the store what GitHub reported for a job:
// outcome accepted, event kReconcileEvent, id "reconcile-<job_id>-<status>"
// (so a second reconcile to the same status is a duplicate), received at
// `now_ms`, a JobEvent from `api`, and the API answer as the JSON body.
store::Delivery ReconcileDelivery(const store::JobState& recorded, const github::WorkflowJob& api,
                                  int64_t now_ms);

// ---- one repository ----

struct RecoveryOptions {
  std::string repository;  // owner/name
  std::string hook_url;    // picks the hook (see SelectRelayqHook); may be empty
  int64_t since_ms = 0;    // deliveries at or after this time (Unix ms)
  std::chrono::milliseconds stale_after = std::chrono::minutes(5);
  std::string db_path;          // the store file, read through store/recovery_reads.h
  int max_delivery_pages = 50;  // 100 deliveries a page
  int max_jobs = 500;           // jobs checked per run
};

struct RecoveryReport {
  int64_t hook_id = 0;
  int attempts_listed = 0;  // delivery attempts seen in the window, any event
  int unique = 0;           // distinct GUIDs of recoverable events
  int missing = 0;          // of those, not recorded by relayq
  int redelivered = 0;      // redelivery requests GitHub accepted
  int redelivery_failed = 0;
  int jobs_checked = 0;  // stale unfinished jobs read from the API
  int reconciled = 0;    // jobs corrected by a reconcile delivery
  // What was done, one line each: "redelivered GUID (workflow_job queued,
  // 2026-...)", "job 42: in_progress -> completed".
  std::vector<std::string> done;
  // Problems that did not stop the run, one line each (never a secret).
  std::vector<std::string> problems;
  bool interrupted = false;  // stopped early by `stop`
};

// Runs recovery for options.repository. Fails when the hook cannot be
// found or listed, or the store cannot be read; per-delivery and per-job
// failures are counted in the report and recovery goes on (it stops early on
// PermissionDenied or RateLimited, which the next calls would hit too).
// Returns early, with `interrupted`, once `stop` is requested. Writes to the
// store only through `store.Ingest`.
Result<RecoveryReport> RecoverRepository(github::GitHubClient& client, store::Store& store,
                                         Clock& clock, const RecoveryOptions& options,
                                         const StopToken& stop = StopToken());

// ---- recovery while serving ----

// What PeriodicRecovery reads of relayq's configuration; each field is named
// after the configuration field it is filled from (server/config.h), and the
// defaults are the configuration's.
struct PeriodicRecoveryConfig {
  // github.repositories: the repositories to recover; empty: those that
  // deliver to the store.
  std::vector<std::string> github_repositories;
  // github.hook_url: picks relayq's hook (see SelectRelayqHook); may be empty.
  std::string github_hook_url;
  int recovery_since_s = 24 * 3600;     // recovery.since: first pass looks back this far
  int recovery_stale_after_s = 5 * 60;  // recovery.stale_after
  int recovery_interval_s = 10 * 60;    // recovery.interval; 0: at start-up only
  std::string db_path;                  // store.path
};

// Builds the GitHub client recovery uses, waiting through `sleeper` (which
// recovery stops on destruction, so backoffs end at once).
using RecoveryClientFactory =
    std::function<Result<std::unique_ptr<github::GitHubClient>>(github::Sleeper& sleeper)>;

// Recovery in `relayq serve`: a pass at start-up and then one every
// recovery.interval (default 10 minutes; 0: at start-up only), on its own
// thread, started after the listeners so it never delays them. A pass covers
// github.repositories when set, else every repository that has delivered a
// workflow_job or workflow_run to the store (so a repository's first
// delivery adds it to the next pass). The first pass of a repository looks
// back recovery.since; later ones back to the start of its previous
// successful pass, less one interval, so a delivery relayq answered 503
// between two passes is redelivered by the next one. Destruction requests a
// stop, wakes any wait (the interval, or the GitHub client's backoff), and
// joins the thread.
class PeriodicRecovery {
 public:
  // Starts the thread, or returns null after logging once why recovery is
  // off (`make_client` failed: the caller checks that credentials are
  // configured at all). `store` and `clock` must outlive the returned object.
  static std::unique_ptr<PeriodicRecovery> Start(PeriodicRecoveryConfig config, store::Store& store,
                                                 Clock& clock,
                                                 const RecoveryClientFactory& make_client);
  ~PeriodicRecovery();
  PeriodicRecovery(const PeriodicRecovery&) = delete;
  PeriodicRecovery& operator=(const PeriodicRecovery&) = delete;

  struct Impl;

 private:
  explicit PeriodicRecovery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relayq::handlers
