#include "server/metrics_audit.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "server/reader_pool.h"
#include "store/query.h"

namespace relayq::server {
namespace {

using Samples = std::vector<std::pair<MetricLabels, double>>;

// Queue waits span seconds (an idle runner) to hours (a busy Mac mini).
const std::vector<double> kWaitBuckets = {1,   5,    15,   30,   60,   120,   300,
                                          600, 1200, 1800, 3600, 7200, 14400, 43200};

double ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages_total = 0, pages_resident = 0;
  int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// Fields 14 (utime), 15 (stime) and 22 (starttime) of /proc/self/stat, in
// clock ticks; false when it cannot be read.
bool ProcStat(double& utime, double& stime, double& starttime) {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> fields;  // from field 3 on
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 20) return false;
  utime = std::stod(fields[14 - 3]);
  stime = std::stod(fields[15 - 3]);
  starttime = std::stod(fields[22 - 3]);
  return true;
}

// The boot time (btime of /proc/stat), seconds since the epoch; 0 if unknown.
double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

double OpenFds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // less the iterator's own descriptor
}

// The standard process_* metrics of Prometheus client libraries, from /proc.
void RegisterProcessMetrics(MetricsRegistry& metrics) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  metrics.AddCounterReader("process_cpu_seconds_total", "Total user and system CPU time spent",
                           [ticks]() {
                             double u = 0, s = 0, start = 0;
                             if (!ProcStat(u, s, start)) return Samples{};
                             return Samples{{{}, (u + s) / ticks}};
                           });
  metrics.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes", []() {
    return Samples{{{}, ResidentBytes()}};
  });
  metrics.AddGauge("process_open_fds", "Number of open file descriptors", []() {
    return Samples{{{}, OpenFds()}};
  });
  metrics.AddGauge("process_max_fds", "Maximum number of open file descriptors", []() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return Samples{};
    return Samples{{{}, static_cast<double>(r.rlim_cur)}};
  });
  double u = 0, s = 0, start = 0;
  const double boot = BootTime();
  if (ProcStat(u, s, start) && boot > 0) {
    const double started = boot + start / ticks;
    metrics.AddGauge("process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds", [started]() {
                       return Samples{{{}, started}};
                     });
  }
}

// Every job carries the self-hosted label: a per-label series for it would
// only repeat the totals.
bool PerLabel(const std::string& label) { return label != "self-hosted"; }

}  // namespace

void RegisterStoreMetrics(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock,
                          std::string_view version) {
  Counter* errors = metrics.GetCounter("relayq_metrics_store_errors_total",
                                       "Store reads for metrics that failed");
  // Runs `read` against the store; a failure is counted and yields no samples
  // (an absent series rather than a wrong value).
  auto from_store = [pool, errors](std::function<Status(store::StoreReader&, Samples&)> read) {
    return [pool, errors, read]() {
      Samples out;
      Status s = pool->With([&](store::StoreReader& r) { return read(r, out); });
      if (!s.ok()) {
        errors->Increment();
        return Samples{};
      }
      return out;
    };
  };

  metrics.AddGauge("relayq_jobs", "Jobs not yet completed, by status",
                   from_store([](store::StoreReader& r, Samples& out) {
                     auto counts = r.OpenJobsByStatus();
                     if (!counts.ok()) return counts.status();
                     for (const char* status : {"queued", "waiting", "in_progress"}) {
                       double n = 0;
                       for (const auto& c : *counts) {
                         if (c.keys[0] == status) n = static_cast<double>(c.count);
                       }
                       out.push_back({{{"status", status}}, n});
                     }
                     return Status::Ok();
                   }));
  // All time: a job's conclusion does not change once recorded, and pruning
  // keeps jobs, so the count only grows (restarts included).
  metrics.AddCounterReader(
      "relayq_jobs_completed_total", "Completed jobs, by conclusion",
      from_store([](store::StoreReader& r, Samples& out) {
        auto counts = r.CompletedJobsSince(0);
        if (!counts.ok()) return counts.status();
        for (const auto& c : *counts) {
          out.push_back({{{"conclusion", c.keys[0]}}, static_cast<double>(c.count)});
        }
        return Status::Ok();
      }));
  // Both per-label queue gauges come from one query; the second reads what
  // the first left, within the same render (the registry renders families
  // in name order: relayq_queued_jobs before relayq_queued_oldest_...).
  auto queued = std::make_shared<std::vector<store::LabelQueue>>();
  metrics.AddGauge("relayq_queued_jobs", "Jobs queued now, by runner label",
                   from_store([queued](store::StoreReader& r, Samples& out) {
                     auto q = r.QueuedByLabel();
                     if (!q.ok()) return q.status();
                     queued->clear();
                     for (const auto& l : *q) {
                       if (PerLabel(l.label)) queued->push_back(l);
                     }
                     for (const auto& l : *queued) {
                       out.push_back({{{"label", l.label}}, static_cast<double>(l.queued)});
                     }
                     return Status::Ok();
                   }));
  metrics.AddGauge("relayq_queued_oldest_wait_seconds",
                   "How long the oldest job queued now, per runner label, has waited",
                   [queued, &clock]() {
                     Samples out;
                     const int64_t now = ToUnixMillis(clock.Now());
                     for (const auto& l : *queued) {
                       double wait = l.oldest_queued ? (now - *l.oldest_queued) / 1000.0 : 0;
                       out.push_back({{{"label", l.label}}, wait < 0 ? 0 : wait});
                     }
                     return out;
                   });
  metrics.AddGauge("relayq_actions", "Routing actions by kind and status (outcome)",
                   from_store([](store::StoreReader& r, Samples& out) {
                     auto counts = r.ActionsByKindAndStatus();
                     if (!counts.ok()) return counts.status();
                     for (const auto& c : *counts) {
                       out.push_back({{{"kind", c.keys[0]}, {"status", c.keys[1]}},
                                      static_cast<double>(c.count)});
                     }
                     return Status::Ok();
                   }));
  auto pending = std::make_shared<store::StoreReader::PendingActions>();
  // Rendered in name order: _oldest_..., _pending, _scheduled. The first
  // reads the store; the other two report what it read.
  metrics.AddGauge("relayq_actions_oldest_pending_age_seconds",
                   "Age of the oldest routing action that is due and not done (0: none)",
                   from_store([pending, &clock](store::StoreReader& r, Samples& out) {
                     auto p = r.Pending();
                     if (!p.ok()) return p.status();
                     *pending = *p;
                     double age = 0;
                     if (p->oldest_due) {
                       age = (ToUnixMillis(clock.Now()) - *p->oldest_due) / 1000.0;
                     }
                     out.push_back({{}, age < 0 ? 0 : age});
                     return Status::Ok();
                   }));
  metrics.AddGauge("relayq_actions_pending", "Routing actions due and not yet done", [pending]() {
    return Samples{{{}, static_cast<double>(pending->pending)}};
  });
  metrics.AddGauge("relayq_actions_scheduled", "Routing actions waiting for their due time",
                   [pending]() {
                     return Samples{{{}, static_cast<double>(pending->scheduled)}};
                   });

  RegisterProcessMetrics(metrics);
  const MonoTime started = clock.Monotonic();
  metrics.AddGauge(
      "relayq_uptime_seconds", "Seconds since the process started", [&clock, started]() {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - started)
                      .count();
        return Samples{{{}, static_cast<double>(ms) / 1000.0}};
      });
  metrics.AddGauge("relayq_build_info", "relayq's version; always 1", [v = std::string(version)]() {
    return Samples{{{{"version", v}}, 1}};
  });
}

void RegisterGitHubMetrics(MetricsRegistry& metrics, std::function<github::ClientStats()> stats) {
  // One snapshot per scrape, taken by the first family rendered (names sort:
  // _network_errors, _responses, _retries, then relayq_github_rate_limit...).
  auto snap = std::make_shared<github::ClientStats>();
  metrics.AddCounterReader("relayq_github_api_network_errors_total",
                           "GitHub API requests that got no HTTP answer", [snap, stats]() {
                             *snap = stats();
                             return Samples{{{}, static_cast<double>(snap->network_errors)}};
                           });
  metrics.AddCounterReader(
      "relayq_github_api_responses_total", "GitHub API answers by HTTP status", [snap]() {
        Samples out;
        for (const auto& [code, n] : snap->responses_by_status) {
          out.push_back({{{"code", std::to_string(code)}}, static_cast<double>(n)});
        }
        return out;
      });
  metrics.AddCounterReader("relayq_github_api_retries_total", "GitHub API requests sent again",
                           [snap]() {
                             return Samples{{{}, static_cast<double>(snap->retries)}};
                           });
  metrics.AddGauge("relayq_github_rate_limit_remaining",
                   "The last x-ratelimit-remaining GitHub sent (absent until one is seen)",
                   [snap]() {
                     if (!snap->rate_limit_remaining) return Samples{};
                     return Samples{{{}, static_cast<double>(*snap->rate_limit_remaining)}};
                   });
}

QueueWaitFeed::QueueWaitFeed(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool,
                             Clock& clock, std::chrono::milliseconds period)
    : metrics_(metrics),
      pool_(std::move(pool)),
      period_(period),
      worker_(clock, {.period = period, .run_at_start = false, .threads = 1},
              [this](PeriodicWorker::Pass& pass) { RunPass(pass); }) {
  (void)Poll();  // sets the starting point before any job can start
  worker_.Start();
}

QueueWaitFeed::~QueueWaitFeed() { worker_.Stop(); }

void QueueWaitFeed::JobsChanged() {
  if (!changed_.exchange(true)) worker_.Wake();
}

void QueueWaitFeed::RunPass(PeriodicWorker::Pass& pass) {
  // No deadline to speak of: the thread sleeps until JobsChanged() wakes it.
  constexpr std::chrono::milliseconds kUntilWoken = std::chrono::hours(24 * 365);
  if (idle_) {
    // Woken by JobsChanged(): look one period from now, so that the change
    // has committed and a burst of changes shares one look.
    idle_ = false;
    pass.next = period_;
    return;
  }
  // Cleared before the look: a change recorded during it wakes us again
  // (PeriodicWorker keeps a Wake() that arrives during a run).
  changed_.store(false);
  // Jobs are starting, or the store was busy: look again after a period.
  if (Result<size_t> seen = Poll(); !seen.ok() || *seen > 0) return;
  idle_ = true;
  pass.next = kUntilWoken;
}

Result<size_t> QueueWaitFeed::Poll() {
  MutexLock poll_lock(poll_mu_);
  std::vector<store::WaitObservation> seen;
  int64_t upto = 0;
  const int64_t last_seq = last_seq_;  // read under poll_mu_, for the callback
  Status s = pool_->With([&](store::StoreReader& r) {
    auto max = r.MaxJobEventSeq();
    if (!max.ok()) return max.status();
    upto = *max;
    if (last_seq < 0 || upto <= last_seq) return Status::Ok();
    auto w = r.WaitsKnownBetween(last_seq, upto);
    if (!w.ok()) return w.status();
    seen = std::move(*w);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  last_seq_ = upto;
  for (const auto& w : seen) {
    for (const auto& label : w.labels) {
      if (!PerLabel(label)) continue;
      metrics_
          .GetHistogram("relayq_queue_wait_seconds",
                        "Time jobs waited in the queue before a runner took them, per label",
                        kWaitBuckets, {{"label", label}})
          ->Observe(static_cast<double>(w.wait_seconds));
    }
  }
  return seen.size();
}

std::vector<store::NewAction> JobStatusObserver::OnLifecycleChange(
    const store::LifecycleChange& change, store::TxnReader& reader) {
  if (change.job && change.job_status_changed && on_job_status_) on_job_status_();
  return inner_.OnLifecycleChange(change, reader);
}

}  // namespace relayq::server
