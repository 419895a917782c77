// Keeping the store healthy: `relayq prune` and `relayq backup`.
//
//   relayq prune [--older-than DUR] [--db PATH] [--config FILE]
//       drops the raw bodies of deliveries older than DUR (default: the
//       config's store.retention, 30d), and deletes the records older than
//       store.history (400d; see store/maintenance.h: PruneHistory).
//   relayq backup FILE [--db PATH] [--config FILE]
//       a consistent copy of the store while the daemon serves; refuses to
//       overwrite an existing FILE (exit 1), so an old backup is never lost.
//
// The daemon's daily prune is server/daily_prune.h.
// Exit codes: 0 ok, 1 failed (one line on stderr), 2 usage.
#pragma once

#include "cli/command.h"

namespace relayq::cli {

CommandRun RegisterPrune(CLI::App& app);
CommandRun RegisterBackup(CLI::App& app);

}  // namespace relayq::cli
