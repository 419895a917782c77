// StoreOptions: the path and settings of a relayq store file, owned by a
// store::Database (database.h) and applied by every connection to the file.
// A plain value.
#pragma once

#include <cstddef>
#include <string>

namespace relayq::store {

struct StoreOptions {
  // The SQLite file; created (mode `file_mode`) by Open(kCreate) when missing.
  std::string path = "relayq.db";
  // FULL: a commit survives a power cut (fsync per commit). NORMAL: survives
  // a crash of relayq but not of the machine; faster. See README. Applies to
  // every connection that writes (the writer, the ActionStore, prune).
  enum class Sync { kFull, kNormal };
  Sync synchronous = Sync::kFull;
  // How many deliveries one writer transaction takes at most.
  size_t max_batch = 512;
  // How long a connection waits for a lock held by another one (a backup,
  // the CLI, a checkpoint) before failing with Unavailable.
  int busy_timeout_ms = 5000;
  // After this many bodies of one event compressed without a dictionary, a
  // background thread trains a zstd dictionary on the latest of them and
  // later bodies of that event use it (store/body_codec.h). 0: never.
  size_t dictionary_after = 1000;
  // Permissions of a store file Open(kCreate) creates: raw bodies may hold
  // private repository data, so owner-only by default. The file has them
  // from its first byte (created before SQLite opens it), and SQLite gives
  // the -wal and -shm files the store file's mode.
  unsigned file_mode = 0600;
};

}  // namespace relayq::store
