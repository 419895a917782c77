#include "cli/maintenance_cmd.h"

#include <unistd.h>

#include <iostream>
#include <string>

#include "common/time_format.h"
#include "store/maintenance.h"

namespace relayq::cli {

// `relayq prune` deletes data, so nothing about it may surprise: it says
// what it will drop before dropping it and asks for --yes (or, at a
// terminal, a "y"); store.retention 0 means off, so without --older-than it
// drops no body; a bare number is refused (is "30" seconds or days?).
// Records older than store.history go with the same question (0 keeps them).
// The daemon's daily prune (DailyPrune) asks nobody.
namespace {

std::string HistoryText(const store::HistoryPruneResult& r) {
  return std::to_string(r.deliveries) + " deliveries, " + std::to_string(r.jobs) + " jobs (" +
         std::to_string(r.job_events) + " job events), " + std::to_string(r.runs) + " runs, " +
         std::to_string(r.actions) + " routing actions, " + std::to_string(r.dispatch_requests) +
         " dispatch requests";
}

}  // namespace

CommandRun RegisterPrune(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string older_than;
    bool yes = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "prune", "Drop raw bodies of old deliveries, and records older than store.history (400d)");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("--older-than", f->older_than,
                  "Age of the bodies to drop, e.g. 30d, 12h (default: store.retention, 30d)");
  cmd->add_flag("--yes", f->yes, "Drop them without asking");
  return [f]() -> int {
    std::chrono::milliseconds age{0};
    if (!f->older_than.empty()) {
      if (f->older_than.find_first_not_of("0123456789") == std::string::npos) {
        std::cerr << "relayq: --older-than " << f->older_than.substr(0, 32)
                  << ": give a unit, e.g. " << f->older_than.substr(0, 32) << "d or "
                  << f->older_than.substr(0, 32) << "h\n";
        return 2;
      }
      auto d = ParseDuration(f->older_than);
      if (!d.ok()) {
        std::cerr << "relayq: --older-than: " << d.status().message() << "\n";
        return 2;
      }
      age = *d;
    }
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    const bool bodies = !f->older_than.empty() || config->retention.count() > 0;
    if (f->older_than.empty()) {
      if (!bodies) {
        std::cout << "relayq: store.retention is 0 (off): no raw bodies pruned (--older-than DUR "
                     "prunes anyway)\n";
      }
      age = config->retention;
    }
    const int64_t now = ToUnixMillis(Clock::Real().Now());
    const int64_t cutoff = now - age.count();
    // store.history: records older than it go too (0 keeps them all).
    const bool history = config->history.count() > 0;
    const int64_t history_cutoff = now - config->history.count();
    if (!bodies && !history) return 0;
    store::StoreOptions so;
    so.path = config->db_path;
    so.synchronous = config->synchronous;
    auto db = store::Database::Open(so);
    if (!db.ok()) return FailWith(db.status());
    store::PruneResult planned;
    if (bodies) {
      auto p = store::CountPrunable(**db, cutoff);
      if (!p.ok()) return FailWith(p.status());
      planned = *p;
    }
    store::HistoryPruneResult planned_history;
    if (history) {
      auto p = store::CountHistory(**db, history_cutoff);
      if (!p.ok()) return FailWith(p.status());
      planned_history = *p;
    }
    if (planned.bodies_dropped > 0) {
      std::cout << "relayq: " << planned.bodies_dropped << " raw bodies (" << planned.bytes_dropped
                << " bytes before compression) of deliveries received "
                << "before " << FormatRfc3339(cutoff)
                << " will be dropped; jobs, runs, actions and delivery records stay\n";
    }
    if (planned_history.total() > 0) {
      std::cout << "relayq: records older than store.history (before "
                << FormatRfc3339(history_cutoff)
                << ") will be deleted: " << HistoryText(planned_history) << "\n";
    }
    if (planned.bodies_dropped > 0 || planned_history.total() > 0) {
      if (!f->yes) {
        bool asked = ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO);
        std::string answer;
        if (asked) {
          std::cout.flush();
          std::cerr << "Drop them? [y/N] ";
          std::getline(std::cin, answer);
        }
        if (answer != "y" && answer != "Y" && answer != "yes") {
          std::cerr << "relayq: nothing dropped" << (asked ? "" : ": add --yes to drop them")
                    << "\n";
          return 1;
        }
      }
    }
    bool freed = false;
    if (bodies) {
      auto r = store::PruneBodies(**db, cutoff);
      if (!r.ok()) return FailWith(r.status());
      std::cout << "relayq: dropped " << r->bodies_dropped << " raw bodies (" << r->bytes_dropped
                << " bytes before compression) of deliveries received before "
                << FormatRfc3339(cutoff) << "\n";
      freed = r->bodies_dropped > 0;
    }
    if (history) {
      auto r = store::PruneHistory(**db, history_cutoff);
      if (!r.ok()) return FailWith(r.status());
      if (r->total() > 0) {
        std::cout << "relayq: deleted records from before " << FormatRfc3339(history_cutoff) << ": "
                  << HistoryText(*r) << "\n";
        freed = true;
      }
    }
    if (freed) {
      auto bytes = store::ReclaimFreePages(**db);
      if (!bytes.ok()) return FailWith(bytes.status());
      if (*bytes > 0) std::cout << "relayq: the store file shrank by " << *bytes << " bytes\n";
    }
    return 0;
  };
}

CommandRun RegisterBackup(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string file;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      app.add_subcommand("backup", "Copy the store consistently, even while relayq serve runs");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("FILE", f->file, "The new backup file (must not exist)")->required();
  return [f]() -> int {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    store::StoreOptions so;
    so.path = config->db_path;
    auto db = store::Database::Open(so);
    if (!db.ok()) return FailWith(db.status());
    auto r = store::BackupTo(**db, f->file);
    if (!r.ok()) return FailWith(r.status());
    std::cout << "relayq: backed up " << config->db_path << " to " << f->file << " (" << *r
              << " bytes)\n";
    return 0;
  };
}

}  // namespace relayq::cli
