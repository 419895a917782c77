#include "server/daily_prune.h"

#include <string>
#include <utility>

#include "common/log.h"
#include "common/time_format.h"
#include "store/database.h"
#include "store/maintenance.h"

namespace relayq::server {

DailyPrune::DailyPrune(std::string db_path, std::chrono::milliseconds retention, Clock& clock,
                       std::chrono::milliseconds period)
    : db_path_(std::move(db_path)),
      retention_(retention),
      clock_(clock),
      worker_(clock, {.period = period, .run_at_start = true, .threads = 1},
              [this](PeriodicWorker::Pass&) { RunOnce(); }) {
  if (retention_.count() > 0) worker_.Start();
}

DailyPrune::~DailyPrune() { worker_.Stop(); }

void DailyPrune::RunOnce() {
  const int64_t cutoff = ToUnixMillis(clock_.Now()) - retention_.count();
  store::StoreOptions so;
  so.path = db_path_;
  auto db = store::Database::Open(so);
  auto r = db.ok() ? store::PruneBodies(**db, cutoff) : Result<store::PruneResult>(db.status());
  if (!r.ok()) {
    Log(LogLevel::kWarn, "prune failed; retrying tomorrow", {{"error", r.status().message()}});
    return;
  }
  if (r->bodies_dropped > 0) {
    Log(LogLevel::kInfo, "pruned old delivery bodies",
        {{"bodies", std::to_string(r->bodies_dropped)},
         {"bytes", std::to_string(r->bytes_dropped)},
         {"before", FormatRfc3339(cutoff)}});
  }
}

}  // namespace relayq::server
