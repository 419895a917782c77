// Metrics derived from the store and the process, added to the registry
// that GET /metrics renders.
//
// Store gauges are read at scrape time through the read-only query layer;
// each is one indexed query (status and time indexes), so a scrape costs
// milliseconds even on a store of millions of jobs:
//   relayq_jobs{status}                            open jobs: queued, waiting, in_progress
//   relayq_jobs_completed_total{conclusion}        completed jobs, all time (a counter)
//   relayq_queued_jobs{label}                      jobs queued now, per runner label
//   relayq_queued_oldest_wait_seconds{label}       how long the oldest of them has waited
//   relayq_actions{kind,status}                    routing actions by kind and outcome
//   relayq_actions_scheduled                       actions waiting for their due time
//   relayq_actions_pending                         actions due and not yet done
//   relayq_actions_oldest_pending_age_seconds      age of the oldest due one (0: none)
//   relayq_metrics_store_errors_total              store reads for metrics that failed
// The queue-wait histogram is a true Prometheus histogram (monotonic):
//   relayq_queue_wait_seconds{label}               each job once, when its wait
//     becomes known (its first in_progress/completed event is recorded),
//     counted since this process started. A feed thread follows the
//     job_events sequence (QueueWaitFeed below), because histograms cannot
//     be created while the registry renders; it looks only after the store
//     recorded job events, so an idle daemon's feed never wakes.
// Per-label series leave out self-hosted (every job has it).
// Process (the standard names of Prometheus client libraries, from /proc):
//   process_cpu_seconds_total, process_resident_memory_bytes,
//   process_open_fds, process_max_fds, process_start_time_seconds
//   relayq_uptime_seconds                          since the process started
//   relayq_build_info{version}                     always 1
// GitHub (registered by whoever owns the client, RegisterGitHubMetrics;
// counters, cumulative since start):
//   relayq_github_api_responses_total{code}        answers received
//   relayq_github_api_network_errors_total         requests that got no answer
//   relayq_github_api_retries_total                requests sent again
//   relayq_github_rate_limit_remaining             last x-ratelimit-remaining seen
//
// Thread safety: the registration functions are called once at start-up;
// the callbacks they install are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "common/result.h"
#include "github/client.h"
#include "server/reader_pool.h"
#include "store/store.h"

namespace relayq::server {

// Registers the store gauges, process gauges and build info.
void RegisterStoreMetrics(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock,
                          std::string_view version);

// Registers GitHub API gauges read from `stats` (e.g. the client's Stats())
// at scrape time. `stats` must stay callable for the registry's lifetime.
void RegisterGitHubMetrics(MetricsRegistry& metrics, std::function<github::ClientStats()> stats);

// Feeds relayq_queue_wait_seconds from the store: observes the waits of
// jobs that started since the last look. Starts at the store's current end,
// so a restart does not count old jobs again. Event-driven: one look a
// `period` after start-up, then one look a `period` after each JobsChanged()
// (several calls within a period share the look), and one more a period
// after any look that observed waits (jobs start in bursts); otherwise the
// thread waits without a deadline, so an idle daemon has no wake-ups from
// it. Waits
// on `clock` (a PeriodicWorker); stops (joins) on destruction.
class QueueWaitFeed {
 public:
  QueueWaitFeed(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock,
                std::chrono::milliseconds period = std::chrono::seconds(5));
  ~QueueWaitFeed();

  // Tells the feed that the store is recording job events (it may call this
  // before their transaction commits: the look comes a period later). A
  // change whose commit takes longer than a period is seen at the look after
  // the next call. Cheap (one atomic exchange), any thread.
  void JobsChanged();

  // Runs one pass now (tests, and the feed thread itself): how many job
  // waits it observed, or the store's error (the next look starts from the
  // same point).
  Result<size_t> Poll();

 private:
  void RunPass(PeriodicWorker::Pass& pass);

  MetricsRegistry& metrics_;
  std::shared_ptr<ReaderPool> pool_;
  const std::chrono::milliseconds period_;
  Mutex poll_mu_;                               // serializes Poll()
  int64_t last_seq_ GUARDED_BY(poll_mu_) = -1;  // -1 until the first look
  // Set by JobsChanged(), cleared by the look that follows; the worker is
  // woken only when it goes from false to true.
  std::atomic<bool> changed_{true};
  bool idle_ = false;      // used by the feed thread only: its last pause had no deadline
  PeriodicWorker worker_;  // last: stopped before the members it uses go away
};

// The store's RoutingHook as the daemon installs it: hands each change to
// `inner` (the router) and returns its actions, and calls `on_job_status`
// when a job's status changed (so QueueWaitFeed::JobsChanged() learns of
// job starts from the writer, inside the transaction, without polling).
// Thread safety: as `inner`; `on_job_status` must be quick and thread-safe.
class JobStatusObserver final : public store::RoutingHook {
 public:
  JobStatusObserver(store::RoutingHook& inner, std::function<void()> on_job_status)
      : inner_(inner), on_job_status_(std::move(on_job_status)) {}

  std::vector<store::NewAction> OnLifecycleChange(const store::LifecycleChange& change,
                                                  store::TxnReader& reader) override;

 private:
  store::RoutingHook& inner_;
  const std::function<void()> on_job_status_;
};

}  // namespace relayq::server
