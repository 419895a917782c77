// Metrics derived from the store and the process, added to the registry
// that GET /metrics renders.
//
// Store gauges are read at scrape time through the read-only query layer;
// each is one indexed query (status and time indexes), so a scrape costs
// milliseconds even on a store of millions of jobs:
//   relayq_jobs{status}                            open jobs: queued, waiting, in_progress
//   relayq_jobs_completed_24h{conclusion}          completed jobs queued in the last 24 h
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
//     job_events sequence every few seconds (QueueWaitFeed below), because
//     histograms cannot be created while the registry renders.
// Process:
//   relayq_process_resident_memory_bytes           from /proc/self/statm
//   relayq_uptime_seconds                          since the process started
//   relayq_build_info{version}                     always 1
// GitHub (registered by whoever owns the client, RegisterGitHubMetrics):
//   relayq_github_api_responses{code}              answers received since start
//   relayq_github_api_network_errors               requests that got no answer
//   relayq_github_api_retries                      requests sent again
//   relayq_github_rate_limit_remaining             last x-ratelimit-remaining seen
//
// Thread safety: the registration functions are called once at start-up;
// the callbacks they install are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "github/client.h"
#include "server/reader_pool.h"

namespace relayq::server {

// Registers the store gauges, process gauges and build info.
void RegisterStoreMetrics(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock,
                          std::string_view version);

// Registers GitHub API gauges read from `stats` (e.g. the client's Stats())
// at scrape time. `stats` must stay callable for the registry's lifetime.
void RegisterGitHubMetrics(MetricsRegistry& metrics, std::function<github::ClientStats()> stats);

// Feeds relayq_queue_wait_seconds from the store: every `period`, observes
// the waits of jobs that started since the last look. Starts at the store's
// current end, so a restart does not count old jobs again. Waits on `clock`
// (a PeriodicWorker); stops (joins) on destruction.
class QueueWaitFeed {
 public:
  QueueWaitFeed(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock,
                std::chrono::milliseconds period = std::chrono::seconds(5));
  ~QueueWaitFeed();

  // Runs one pass now (tests, and the feed thread itself).
  void Poll();

 private:
  MetricsRegistry& metrics_;
  std::shared_ptr<ReaderPool> pool_;
  Mutex poll_mu_;                               // serializes Poll()
  int64_t last_seq_ GUARDED_BY(poll_mu_) = -1;  // -1 until the first look
  PeriodicWorker worker_;                       // last: stopped before the members it uses go away
};

}  // namespace relayq::server
