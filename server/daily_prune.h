// The daemon's retention (store.retention): drops the raw bodies of old
// deliveries once at start-up and then once a day, like `relayq prune`
// without the questions. Thread safety: DailyPrune owns one thread; its
// methods are thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/periodic_worker.h"

namespace relayq::server {

// The daemon's retention: prunes bodies older than `retention` once at start
// and then every `period` (a day), on its own connection. Waits on `clock`
// (a PeriodicWorker), so it costs nothing between runs and stops at once on
// destruction. A zero retention disables it (no thread).
class DailyPrune {
 public:
  DailyPrune(std::string db_path, std::chrono::milliseconds retention, Clock& clock,
             std::chrono::milliseconds period = std::chrono::hours(24));
  ~DailyPrune();
  DailyPrune(const DailyPrune&) = delete;
  DailyPrune& operator=(const DailyPrune&) = delete;

 private:
  void RunOnce();

  const std::string db_path_;
  const std::chrono::milliseconds retention_;
  Clock& clock_;
  PeriodicWorker worker_;  // last: stopped before the members it uses go away
};

}  // namespace relayq::server
