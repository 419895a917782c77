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
// drops nothing; a bare number is refused (is "30" seconds or days?). The
// daemon's daily prune (DailyPrune) asks nobody and is off at retention 0.
CommandRun RegisterPrune(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string older_than;
    bool yes = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "prune", "Drop raw bodies of old deliveries (jobs, runs and actions stay)");
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
    if (f->older_than.empty()) {
      if (config->retention.count() <= 0) {
        std::cout << "relayq: store.retention is 0 (off): nothing pruned (--older-than DUR "
                     "prunes anyway)\n";
        return 0;
      }
      age = config->retention;
    }
    const int64_t cutoff = ToUnixMillis(Clock::Real().Now()) - age.count();
    store::StoreOptions so;
    so.path = config->db_path;
    so.synchronous = config->synchronous;
    auto db = store::Database::Open(so);
    if (!db.ok()) return FailWith(db.status());
    auto planned = store::CountPrunable(**db, cutoff);
    if (!planned.ok()) return FailWith(planned.status());
    if (planned->bodies_dropped > 0) {
      std::cout << "relayq: " << planned->bodies_dropped << " raw bodies ("
                << planned->bytes_dropped << " bytes before compression) of deliveries received "
                << "before " << FormatRfc3339(cutoff)
                << " will be dropped; jobs, runs, actions and delivery records stay\n";
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
    auto r = store::PruneBodies(**db, cutoff);
    if (!r.ok()) return FailWith(r.status());
    std::cout << "relayq: dropped " << r->bodies_dropped << " raw bodies (" << r->bytes_dropped
              << " bytes before compression) of deliveries received before "
              << FormatRfc3339(cutoff) << "\n";
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
