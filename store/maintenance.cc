#include "store/maintenance.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/connection.h"
#include "store/sqlite_util.h"

namespace relayq::store {
namespace {

// Rows per prune transaction: small enough that the daemon's writer waits
// milliseconds, not seconds, for the lock between batches.
constexpr int kPruneBatch = 500;

}  // namespace

Result<PruneResult> CountPrunable(const Database& store, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt count, Stmt::Prepare(db.get(),
                                "SELECT count(*), coalesce(sum(body_size), 0) FROM deliveries "
                                "WHERE received_at < ?1 AND body IS NOT NULL"));
  count.Bind(1, cutoff_ms);
  RELAYQ_ASSIGN_OR_RETURN(bool row, count.Step());
  PruneResult r;
  if (row) {
    r.bodies_dropped = count.Int(0);
    r.bytes_dropped = count.Int(1);
  }
  return r;
}

Result<PruneResult> PruneBodies(const Database& store, int64_t cutoff_ms) {
  const std::string& path = store.path();
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadWrite));
  // The writer's own connection has put the file in WAL mode; say so again in
  // case this is a store that was never served (a no-op otherwise).
  RELAYQ_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA journal_mode = WAL"));
  RELAYQ_ASSIGN_OR_RETURN(Stmt begin, Stmt::Prepare(db.get(), "BEGIN IMMEDIATE"));
  RELAYQ_ASSIGN_OR_RETURN(Stmt commit, Stmt::Prepare(db.get(), "COMMIT"));
  RELAYQ_ASSIGN_OR_RETURN(Stmt rollback, Stmt::Prepare(db.get(), "ROLLBACK"));
  // Sum first (same rows, same transaction), then drop, batch by batch
  // through the received_at index.
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt pick, Stmt::Prepare(db.get(),
                               "SELECT count(*), coalesce(sum(body_size), 0) FROM (SELECT "
                               "body_size FROM deliveries WHERE received_at < ?1 AND body IS "
                               "NOT NULL LIMIT ?2)"));
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt drop, Stmt::Prepare(db.get(),
                               "UPDATE deliveries SET body = NULL WHERE seq IN (SELECT seq FROM "
                               "deliveries WHERE received_at < ?1 AND body IS NOT NULL LIMIT ?2)"));
  PruneResult total;
  for (;;) {
    RELAYQ_RETURN_IF_ERROR(begin.Run());
    pick.Bind(1, cutoff_ms).Bind(2, int64_t{kPruneBatch});
    Result<bool> row = pick.Step();
    int64_t n = 0, bytes = 0;
    if (row.ok() && *row) {
      n = pick.Int(0);
      bytes = pick.Int(1);
    }
    pick.Reset();
    Status s = row.ok() ? Status::Ok() : row.status();
    if (s.ok() && n > 0) {
      drop.Bind(1, cutoff_ms).Bind(2, int64_t{kPruneBatch});
      s = drop.Run();
    }
    if (s.ok()) s = commit.Run();
    if (!s.ok()) {
      (void)rollback.Run();
      return s.WithContext("pruning " + path);
    }
    total.bodies_dropped += n;
    total.bytes_dropped += bytes;
    if (n < kPruneBatch) break;
  }
  return total;
}

Result<int64_t> BackupTo(const Database& store, const std::string& dest) {
  const std::string& path = store.path();
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    return Status::Conflict(dest + " already exists; choose a new file name");
  }
  RELAYQ_ASSIGN_OR_RETURN(Db src, Connect(store.options(), Access::kReadOnly));

  const std::string tmp = dest + ".partial-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  auto cleanup = [&tmp] {
    ::unlink(tmp.c_str());
    ::unlink((tmp + "-journal").c_str());
  };
  {
    // Owner-only from the first byte: the copy holds raw payloads too.
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
    }
    ::close(fd);
  }
  Status s;
  {
    auto out = OpenDb(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!out.ok()) {
      cleanup();
      return out.status();
    }
    sqlite3_backup* b = sqlite3_backup_init(out->get(), "main", src.get(), "main");
    if (b == nullptr) {
      s = SqliteStatus(sqlite3_errcode(out->get()), out->get(), "backup");
    } else {
      // One step copies every page under one read transaction: a single
      // consistent snapshot. In WAL mode that read does not block the
      // daemon's writer, and the writer's commits do not restart it.
      int rc;
      do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
      } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
      int fin = sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE) {
        s = SqliteStatus(rc, out->get(), "backup");
      } else if (fin != SQLITE_OK) {
        s = SqliteStatus(fin, out->get(), "backup");
      }
    }
    if (s.ok()) {
      // The copy keeps the source's WAL flag; a plain rollback journal makes
      // it one self-contained file, as a backup should be.
      s = Exec(out->get(), "PRAGMA journal_mode = DELETE");
    }
    if (s.ok()) {
      auto check = Stmt::Prepare(out->get(), "PRAGMA quick_check");
      if (!check.ok()) {
        s = check.status();
      } else {
        Result<bool> row = check->Step();
        if (!row.ok()) {
          s = row.status();
        } else if (!*row || check->Text(0) != "ok") {
          s = Status::Corruption("the copy failed its integrity check");
        }
      }
    }
  }
  if (!s.ok()) {
    cleanup();
    return s.WithContext("backup of " + path);
  }
  // link() fails if `dest` appeared meanwhile: never overwrite a file.
  if (::link(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    cleanup();
    if (err == EEXIST) return Status::Conflict(dest + " already exists; choose a new file name");
    return Status::IoError("cannot create " + dest + ": " + std::strerror(err));
  }
  cleanup();
  struct stat st {};
  ::stat(dest.c_str(), &st);
  return static_cast<int64_t>(st.st_size);
}

}  // namespace relayq::store
