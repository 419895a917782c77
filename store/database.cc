#include "store/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/connection.h"
#include "store/migrations.h"

namespace relayq::store {
namespace {

// Switches the store to WAL (a no-op once it is). Switching a new file needs
// an exclusive lock, for which SQLite does not call the busy handler, so a
// process opening the same new store at that moment gets "database is
// locked": retried here for up to the busy timeout.
Status EnableWal(sqlite3* db, int busy_timeout_ms) {
  constexpr int kStepMs = 10;
  for (int waited = 0;; waited += kStepMs) {
    Status s = Exec(db, "PRAGMA journal_mode = WAL");
    if (s.ok() || s.code() != Status::Code::kUnavailable || waited >= busy_timeout_ms) return s;
    sqlite3_sleep(kStepMs);
  }
}

const char* SynchronousPragma(StoreOptions::Sync sync) {
  return sync == StoreOptions::Sync::kFull ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL";
}

}  // namespace

Result<Db> Connect(const StoreOptions& options, Access access, std::optional<int> busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (access) {
    case Access::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Access::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Access::kCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  RELAYQ_ASSIGN_OR_RETURN(Db db, OpenDb(options.path, flags));
  sqlite3_busy_timeout(db.get(), busy_timeout_ms.value_or(options.busy_timeout_ms));
  if (access != Access::kReadOnly) {
    RELAYQ_RETURN_IF_ERROR(Exec(db.get(), SynchronousPragma(options.synchronous)));
  }
  return db;
}

Result<int> SchemaVersion(sqlite3* db) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "PRAGMA user_version"));
  RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? static_cast<int>(q.Int(0)) : 0;
}

Status Database::CheckPath(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return Status::InvalidArgument(path + ": is a directory; give the store's file path, e.g. " +
                                   dir + "/relayq.db");
  }
  const size_t slash = path.find_last_of('/');
  const std::string parent = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound(path + ": the directory " + parent + " does not exist");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Database>> Database::Open(const StoreOptions& options, Mode mode) {
  struct stat st {};
  const bool existed = ::stat(options.path.c_str(), &st) == 0;
  if (mode == Mode::kExisting) {
    if (!existed) return Status::NotFound("no store at " + options.path);
    if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(options.path + " is not a file");
    return std::unique_ptr<Database>(new Database(options));
  }
  RELAYQ_RETURN_IF_ERROR(CheckPath(options.path));
  if (!existed) {
    // Created owner-only before SQLite sees it (it would create it 0644
    // less the umask); EEXIST: another process created it meanwhile.
    int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                    static_cast<mode_t>(options.file_mode));
    if (fd < 0 && errno != EEXIST) {
      return Status::IoError("cannot create the store " + options.path + ": " +
                             std::strerror(errno));
    }
    if (fd >= 0) ::close(fd);
  }
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(options, Access::kCreate));
  // A new store frees pages back to the file system after a prune
  // (maintenance.h): auto_vacuum can only be chosen before the first page is
  // written, which the switch to WAL does. On an existing store this is a
  // no-op (schema step 11 converts an older one).
  if (Status s = Exec(db.get(), "PRAGMA auto_vacuum = INCREMENTAL"); !s.ok()) {
    return s.WithContext("store " + options.path);
  }
  if (Status s = EnableWal(db.get(), options.busy_timeout_ms); !s.ok()) {
    return s.WithContext("store " + options.path);
  }
  return std::unique_ptr<Database>(new Database(options));
}

Status Database::Checkpoint() const {
  constexpr int kWaitMs = 2000;
  auto db = Connect(options_, Access::kReadWrite, kWaitMs);
  if (!db.ok()) return db.status().WithContext("store " + options_.path);
  auto q = Stmt::Prepare(db->get(), "PRAGMA wal_checkpoint(TRUNCATE)");
  if (!q.ok()) return q.status().WithContext("store " + options_.path);
  auto row = q->Step();
  if (!row.ok()) return row.status().WithContext("checkpoint of " + options_.path);
  // The first column is 1 when a reader or writer kept it from completing.
  if (*row && q->Int(0) != 0) {
    return Status::Unavailable("checkpoint of " + options_.path +
                               " did not complete: another process is using the store");
  }
  return Status::Ok();
}

Status Database::Migrate() const {
  auto db = Connect(options_, Access::kReadWrite);
  if (!db.ok()) return db.status().WithContext("store " + options_.path);
  Status s = store::Migrate(db->get());
  if (!s.ok()) return s.WithContext("store " + options_.path);
  return Status::Ok();
}

}  // namespace relayq::store
