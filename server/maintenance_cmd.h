// Keeping the store healthy: `relayq prune`, `relayq backup`, and the
// daemon's daily prune.
//
//   relayq prune [--older-than DUR] [--db PATH] [--config FILE]
//       drops the raw bodies of deliveries older than DUR (default: the
//       config's store.retention, 30d); jobs, runs, events and actions stay.
//   relayq backup FILE [--db PATH] [--config FILE]
//       a consistent copy of the store while the daemon serves; refuses to
//       overwrite an existing FILE (exit 1), so an old backup is never lost.
//
// Exit codes: 0 ok, 1 failed (one line on stderr), 2 usage.
// Thread safety: DailyPrune owns one thread; its methods are thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/periodic_worker.h"
#include "server/command.h"

namespace relayq::server {

CommandRun RegisterPrune(CLI::App& app);
CommandRun RegisterBackup(CLI::App& app);

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
