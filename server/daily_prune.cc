#include "server/daily_prune.h"

#include <string>
#include <utility>

#include "common/log.h"
#include "common/time_format.h"
#include "store/database.h"
#include "store/maintenance.h"

namespace relayq::server {

DailyPrune::DailyPrune(std::string db_path, std::chrono::milliseconds retention,
                       std::chrono::milliseconds history, Clock& clock,
                       std::chrono::milliseconds period)
    : db_path_(std::move(db_path)),
      retention_(retention),
      history_(history),
      clock_(clock),
      worker_(clock, {.period = period, .run_at_start = true, .threads = 1},
              [this](PeriodicWorker::Pass&) { RunOnce(); }) {
  if (retention_.count() > 0 || history_.count() > 0) worker_.Start();
}

DailyPrune::~DailyPrune() { worker_.Stop(); }

void DailyPrune::RunOnce() {
  const int64_t now = ToUnixMillis(clock_.Now());
  store::StoreOptions so;
  so.path = db_path_;
  auto db = store::Database::Open(so);
  if (!db.ok()) {
    Log(LogLevel::kWarn, "prune failed; retrying tomorrow", {{"error", db.status().message()}});
    return;
  }
  bool freed = false;
  if (retention_.count() > 0) {
    const int64_t cutoff = now - retention_.count();
    auto r = store::PruneBodies(**db, cutoff);
    if (!r.ok()) {
      Log(LogLevel::kWarn, "prune failed; retrying tomorrow", {{"error", r.status().message()}});
      return;
    }
    if (r->bodies_dropped > 0) {
      freed = true;
      Log(LogLevel::kInfo, "pruned old delivery bodies",
          {{"bodies", std::to_string(r->bodies_dropped)},
           {"bytes", std::to_string(r->bytes_dropped)},
           {"before", FormatRfc3339(cutoff)}});
    }
  }
  if (history_.count() > 0) {
    const int64_t cutoff = now - history_.count();
    auto h = store::PruneHistory(**db, cutoff);
    if (!h.ok()) {
      Log(LogLevel::kWarn, "history prune failed; retrying tomorrow",
          {{"error", h.status().message()}});
      return;
    }
    if (h->total() > 0) {
      freed = true;
      Log(LogLevel::kInfo, "pruned old records",
          {{"deliveries", std::to_string(h->deliveries)},
           {"jobs", std::to_string(h->jobs)},
           {"job_events", std::to_string(h->job_events)},
           {"runs", std::to_string(h->runs)},
           {"actions", std::to_string(h->actions)},
           {"dispatch_requests", std::to_string(h->dispatch_requests)},
           {"batches", std::to_string(h->batches)},
           {"longest_batch_us", std::to_string(h->longest_batch_us)},
           {"longest_batch_table", h->longest_batch_table},
           {"before", FormatRfc3339(cutoff)}});
    }
  }
  if (!freed) return;
  auto bytes = store::ReclaimFreePages(**db);
  if (!bytes.ok()) {
    Log(LogLevel::kWarn, "freeing pages failed; retrying tomorrow",
        {{"error", bytes.status().message()}});
  } else if (*bytes > 0) {
    Log(LogLevel::kInfo, "gave freed store pages back", {{"bytes", std::to_string(*bytes)}});
  }
}

}  // namespace relayq::server
