// Database: the one door to a relayq store file.
//
// A Database owns the file's path and settings (StoreOptions: durability,
// busy timeout, file mode) and is the only way in: every connection to the
// file, whichever part of the store makes it (the group-commit writer, the
// ActionStore, a StoreReader, the recovery reads, prune and backup), is
// opened by the same code with the same settings. Opening a Database checks
// (or creates) the file; it holds no connection itself, so it is cheap to
// open for one command and to keep for the life of the daemon.
//
//   auto db = Database::Open(options, Database::Mode::kCreate);
//   db->Migrate();                    // explicit: schema to this binary's
//   auto writer = db->OpenWriter(clock);
//   auto actions = db->OpenActionStore();
//   auto reader = db->OpenReader();   // read-only; one per thread
//
// Thread safety: a Database is immutable after Open; its methods may be
// called from any thread, and what they hand out has its own contract.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"
#include "store/store_options.h"

namespace relayq::store {

class Store;
class ActionStore;
class StoreReader;

class Database {
 public:
  enum class Mode {
    // The file must exist: NotFound ("no store at PATH") when it does not,
    // InvalidArgument when it is not a regular file. Nothing is written.
    kExisting,
    // Creates the file (mode options.file_mode) when missing and puts it in
    // WAL mode with incremental auto-vacuum (a no-op once it is). Does not
    // migrate: call Migrate().
    kCreate,
  };

  // Opens the store at options.path as `mode` says.
  static Result<std::unique_ptr<Database>> Open(const StoreOptions& options,
                                                Mode mode = Mode::kExisting);

  // Checks, writing nothing, that `path` can name a store file: not a
  // directory (InvalidArgument: "PATH: is a directory; give the store's file
  // path, e.g. PATH/relayq.db") and in a directory that exists (NotFound).
  // For a caller that writes other files next to the store (the daemon's
  // lock and generated secret) before opening it.
  static Status CheckPath(const std::string& path);

  const StoreOptions& options() const { return options_; }
  const std::string& path() const { return options_.path; }

  // Brings the schema to this binary's version (store/migrations.h): the
  // steps in one transaction, so concurrent migrations of one file apply
  // each step once (but the one-time VACUUM of step 11, run by itself). Fails, changing nothing,
  // when the file is not a relayq store or was written by a newer relayq ("upgrade relayq").
  Status Migrate() const;

  // Starts the group-commit writer (store.h). The schema must be current
  // (Migrate() first): InvalidArgument otherwise. `clock` stamps the body
  // dictionaries it trains and must outlive the writer.
  Result<std::unique_ptr<Store>> OpenWriter(Clock& clock) const;

  // The routing actions and dispatch requests (action_store.h), on a
  // connection of their own. InvalidArgument when the file is not a migrated
  // relayq store.
  Result<std::unique_ptr<ActionStore>> OpenActionStore() const;

  // A read-only query connection (query.h); it never creates, migrates or
  // writes. InvalidArgument when the file is not a relayq store, is from a
  // newer relayq, or predates the schema the reader needs.
  Result<std::unique_ptr<StoreReader>> OpenReader() const;

  // Moves everything in the write-ahead log into the store file and empties
  // the log (PRAGMA wal_checkpoint(TRUNCATE)), so that the store file alone
  // is a complete copy. For a clean stop, after every other connection of
  // this process is closed. Unavailable when another process's reader or
  // writer kept the checkpoint from completing within a short wait.
  Status Checkpoint() const;

 private:
  explicit Database(StoreOptions options) : options_(std::move(options)) {}
  const StoreOptions options_;
};

}  // namespace relayq::store
