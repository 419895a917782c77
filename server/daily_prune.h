// The daemon's retention (store.retention and store.history): once at
// start-up and then once a day, drops the raw bodies of old deliveries,
// deletes the old records nothing live needs, and gives the freed pages back
// to the file system, like `relayq prune` without the questions. Thread
// safety: DailyPrune owns one thread; its methods are thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/periodic_worker.h"

namespace relayq::server {

// The daemon's retention: prunes bodies older than `retention` and records
// older than `history` (store/maintenance.h: PruneBodies, PruneHistory, then
// ReclaimFreePages) once at start and then every `period` (a day), on its
// own connection. Waits on `clock` (a PeriodicWorker), so it costs nothing
// between runs and stops at once on destruction. A zero retention keeps
// every body, a zero history every record; both zero: no thread.
class DailyPrune {
 public:
  DailyPrune(std::string db_path, std::chrono::milliseconds retention,
             std::chrono::milliseconds history, Clock& clock,
             std::chrono::milliseconds period = std::chrono::hours(24));
  ~DailyPrune();
  DailyPrune(const DailyPrune&) = delete;
  DailyPrune& operator=(const DailyPrune&) = delete;

 private:
  void RunOnce();

  const std::string db_path_;
  const std::chrono::milliseconds retention_;
  const std::chrono::milliseconds history_;
  Clock& clock_;
  PeriodicWorker worker_;  // last: stopped before the members it uses go away
};

}  // namespace relayq::server
