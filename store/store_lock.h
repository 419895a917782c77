// StoreLock: at most one daemon per store file.
//
// Two daemons on one store would each take the other's routing actions for
// abandoned ones and carry them out twice, so `relayq serve` holds this lock
// for as long as it runs. It is an flock(2) on `<db>.lock` beside the store,
// holding the owner's pid for the error message: the kernel drops it with
// the process, so a daemon killed with SIGKILL never leaves a stale lock.
// The file itself stays (removing it would let two processes lock two
// different files of one name). Commands that only read, and the CLI's own
// writes (dispatch, backup, prune), do not take it. Not thread-safe; one
// object per process.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace relayq::store {

class StoreLock {
 public:
  // The lock file of the store at `db_path`: "<db_path>.lock".
  static std::string PathFor(const std::string& db_path);

  // Takes the lock of the store at `db_path` without waiting, creating the
  // lock file (mode 0600) when missing, and writes this process's pid in it.
  // Conflict, naming the other process's pid, when another process holds it;
  // IoError when the file cannot be created or locked.
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& db_path);

  // True when a process holds the lock of the store at `db_path` now (a
  // daemon serves it). Creates nothing; a missing or unreadable lock file is
  // "not held". Probes with a shared lock dropped at once, so a daemon that
  // starts in that instant may be refused once (it says so).
  static bool IsHeld(const std::string& db_path);

  // Releases the lock.
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;  // the locked file, open for the object's life
};

}  // namespace relayq::store
