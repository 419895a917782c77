#include "store/migrations.h"

#include <sqlite3.h>

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "store/sqlite_util.h"

namespace relayq::store {
namespace {

struct Migration {
  int version;
  const char* what;
  const char* sql;
  // Runs on its own, outside the transaction of the other steps (VACUUM
  // cannot run inside one): the steps before it commit first, its own
  // version is recorded after it, and those after it start a new
  // transaction. Such a step must be safe to run twice (a crash between it
  // and the version update, or two processes at once, may repeat it).
  bool alone = false;
};

// Append only: never edit a step that has shipped; add a new one.
constexpr Migration kMigrations[] = {
    {1, "deliveries",
     R"sql(
CREATE TABLE deliveries (
  seq          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL UNIQUE,        -- X-GitHub-Delivery
  event        TEXT NOT NULL,
  action       TEXT NOT NULL DEFAULT '',
  hook_id      INTEGER,
  repository   TEXT NOT NULL DEFAULT '',
  received_at  INTEGER NOT NULL,            -- Unix ms
  outcome      TEXT NOT NULL,               -- accepted|ping|ignored|refused|undecodable
  reason       TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  body_codec   TEXT NOT NULL DEFAULT 'identity',  -- identity|zstd
  body_size    INTEGER NOT NULL DEFAULT 0,  -- bytes before compression
  body         BLOB                         -- NULL once pruned
);
CREATE INDEX deliveries_by_time ON deliveries(received_at);
)sql"},
    {2, "runs, jobs and job history",
     R"sql(
CREATE TABLE runs (
  id             INTEGER NOT NULL,
  attempt        INTEGER NOT NULL,
  repository     TEXT NOT NULL,
  workflow_path  TEXT NOT NULL DEFAULT '',
  workflow_name  TEXT NOT NULL DEFAULT '',
  display_title  TEXT,
  event          TEXT NOT NULL DEFAULT '',
  status         TEXT NOT NULL,
  conclusion     TEXT,
  html_url       TEXT,
  head_branch    TEXT,
  head_sha       TEXT,
  created_at     INTEGER,
  updated_at     INTEGER,
  run_started_at INTEGER,
  PRIMARY KEY (id, attempt)
);
CREATE INDEX runs_by_created ON runs(created_at);
CREATE INDEX runs_by_repo ON runs(repository, created_at);

CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY,
  run_id           INTEGER NOT NULL,
  run_attempt      INTEGER NOT NULL,
  repository       TEXT NOT NULL,
  workflow_name    TEXT NOT NULL DEFAULT '',
  name             TEXT NOT NULL DEFAULT '',
  labels           TEXT NOT NULL DEFAULT '[]',  -- JSON array
  status           TEXT NOT NULL,
  conclusion       TEXT,
  runner_name      TEXT,
  runner_group     TEXT,
  queued_at        INTEGER,
  started_at       INTEGER,
  completed_at     INTEGER,
  wait_seconds     INTEGER,
  duration_seconds INTEGER,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX jobs_by_queued ON jobs(queued_at);
CREATE INDEX jobs_by_repo ON jobs(repository, queued_at);
CREATE INDEX jobs_by_status ON jobs(status, queued_at);
CREATE INDEX jobs_by_run ON jobs(run_id, run_attempt);

CREATE TABLE job_labels (
  label  TEXT NOT NULL,
  job_id INTEGER NOT NULL,
  PRIMARY KEY (label, job_id)
) WITHOUT ROWID;

CREATE TABLE job_events (
  seq         INTEGER PRIMARY KEY,
  job_id      INTEGER NOT NULL,
  delivery_id TEXT NOT NULL,
  action      TEXT NOT NULL,
  status      TEXT NOT NULL,
  conclusion  TEXT,
  runner_name TEXT,
  event_at    INTEGER,             -- GitHub's time for this stage
  received_at INTEGER NOT NULL,
  applied     INTEGER NOT NULL     -- 1 when it changed the job's state
);
CREATE INDEX job_events_by_job ON job_events(job_id, seq);
)sql"},
    {3, "routing actions and dispatch requests",
     R"sql(
CREATE TABLE actions (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL,          -- fallback | chain | dispatch
  key             TEXT NOT NULL UNIQUE,   -- idempotency key, e.g. fallback:RUN_ID:ATTEMPT
  repository      TEXT NOT NULL,
  status          TEXT NOT NULL,          -- scheduled | pending | running | done | failed | aborted
  due_at          INTEGER,                -- Unix ms; when a scheduled action becomes pending
  next_attempt_at INTEGER,                -- Unix ms; retry backoff, or lease end while running
  claimed_by      TEXT,                   -- who runs it: daemon:PID or cli:PID
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  reason          TEXT NOT NULL DEFAULT '',  -- why relayq took it (route, chain)
  payload         TEXT NOT NULL DEFAULT '{}', -- JSON: what to do
  result          TEXT,                   -- JSON: what happened
  job_id          INTEGER,
  run_id          INTEGER,
  run_attempt     INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  done_at         INTEGER
);
CREATE INDEX actions_by_status ON actions(status, next_attempt_at);
CREATE INDEX actions_by_created ON actions(created_at);
CREATE INDEX actions_by_run ON actions(run_id, run_attempt);

CREATE TABLE dispatch_requests (
  id             INTEGER PRIMARY KEY,     -- the relayq id
  repository     TEXT NOT NULL,
  workflow       TEXT NOT NULL,
  ref            TEXT NOT NULL,
  inputs         TEXT NOT NULL DEFAULT '{}',  -- JSON object of strings
  status         TEXT NOT NULL,           -- pending | dispatched | failed
  run_id         INTEGER,                 -- the run it became, once known
  parent_id      INTEGER,                 -- the request it falls back or chains from
  fallback_count INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX dispatch_requests_by_run ON dispatch_requests(run_id);
CREATE INDEX dispatch_requests_by_status ON dispatch_requests(status);
)sql"},
    {4, "indexes for audit queries",
     R"sql(
-- Queue-wait percentiles per label over a window read only this index
-- (covering: no table lookups): at 1M jobs one label 32 -> 22 ms, all labels
-- 61 -> 42 ms (bench/audit_bench).
CREATE INDEX jobs_wait_by_queued ON jobs(queued_at, wait_seconds, labels);
-- A job's history finds its routing actions without scanning them all.
CREATE INDEX actions_by_job ON actions(job_id);
)sql"},
    {5, "zstd dictionaries for raw bodies",
     R"sql(
-- Trained on earlier bodies of one event (store/body_codec.h); a body
-- compressed with one names its id in its zstd frame. Never deleted: old
-- bodies may need them.
CREATE TABLE body_dictionaries (
  id         INTEGER PRIMARY KEY,  -- zstd's dictionary id
  event      TEXT NOT NULL,
  created_at INTEGER NOT NULL,     -- Unix ms
  samples    INTEGER NOT NULL,     -- bodies it was trained on
  bytes      BLOB NOT NULL
);
)sql"},
    {6, "refused routing actions",
     R"sql(
-- An action the policy refused has its own status, 'refused' (it was
-- 'aborted', like an action given up for other reasons). Earlier relayq
-- recorded the refusal reason as last_error: alone when the router refused
-- at once, followed by ': why' when the executor refused at the deadline.
UPDATE actions SET status = 'refused'
 WHERE status = 'aborted'
   AND (CASE WHEN instr(last_error, ':') > 0
             THEN substr(last_error, 1, instr(last_error, ':') - 1)
             ELSE last_error END)
       IN ('max_fallbacks', 'input_too_large', 'inputs_unknown', 'input_template', 'no_ref',
           'missing_capability');
)sql"},
    {7, "index for notification scans",
     R"sql(
-- The notifier (handlers/notifier.h) reads the actions that ended since its
-- last pass (failed, aborted, refused) by done_at, without scanning every
-- finished action.
CREATE INDEX actions_by_done ON actions(done_at);
)sql"},
    {8, "idempotency keys of dispatch requests",
     R"sql(
-- The Idempotency-Key a client sent with POST /api/v1/dispatch (or
-- `relayq dispatch --server`): a repeat with the same key answers the
-- request already recorded and is never dispatched twice. NULL for requests
-- submitted without one (local dispatches, fallbacks, chains).
ALTER TABLE dispatch_requests ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX dispatch_requests_by_idempotency_key
  ON dispatch_requests(idempotency_key) WHERE idempotency_key IS NOT NULL;
)sql"},
    {9, "operator changes to routing actions",
     R"sql(
-- What operators asked of an action (`relayq actions retry|cancel`, the admin
-- API): one row per change, in the transaction that made it.
CREATE TABLE action_events (
  seq         INTEGER PRIMARY KEY,
  action_id   INTEGER NOT NULL,
  at          INTEGER NOT NULL,           -- Unix ms
  what        TEXT NOT NULL,              -- retry | cancel
  who         TEXT NOT NULL,              -- cli:USER@HOST | admin-api from IP
  reason      TEXT NOT NULL DEFAULT '',   -- as the operator gave it
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL
);
CREATE INDEX action_events_by_action ON action_events(action_id, seq);
)sql"},
    {10, "indexes for the audit of deliveries and actions and the history prune",
     R"sql(
-- `relayq audit deliveries --status undecodable --since 7d` reads only the
-- matching deliveries instead of every delivery of the week.
CREATE INDEX deliveries_by_outcome ON deliveries(outcome, received_at);
-- `relayq audit actions --status failed`: newest first, no sort.
CREATE INDEX actions_by_status_created ON actions(status, created_at);
-- The history prune (store.history) finds old finished dispatch requests.
CREATE INDEX dispatch_requests_by_created ON dispatch_requests(created_at);
)sql"},
    {11, "incremental auto-vacuum (one-time VACUUM of an existing store)",
     // A store made by this relayq is already incremental (Database::Open
     // sets it before the first page): then there is nothing to rebuild.
     // Otherwise VACUUM rewrites the file once (through the WAL, which then
     // holds a copy of the store until the next checkpoint; it needs up to
     // twice the store's size free beside it). Readers keep their snapshot;
     // other writers wait (busy timeout) until it is over.
     "PRAGMA auto_vacuum = INCREMENTAL; VACUUM;", true},
};

constexpr int kLatest = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

Result<int> UserVersion(sqlite3* db) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, "PRAGMA user_version"));
  RELAYQ_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<int>(s.Int(0)) : 0;
}

Result<int64_t> PragmaInt(sqlite3* db, const char* pragma) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, pragma));
  RELAYQ_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

// A step with `alone` set: runs it unless a concurrent process already did,
// then records its version.
Status RunAlone(sqlite3* db, const Migration& m) {
  constexpr int64_t kIncremental = 2;  // PRAGMA auto_vacuum's value
  RELAYQ_ASSIGN_OR_RETURN(int now, UserVersion(db));
  if (now >= m.version) return Status::Ok();
  RELAYQ_ASSIGN_OR_RETURN(int64_t mode, PragmaInt(db, "PRAGMA auto_vacuum"));
  if (mode != kIncremental) {
    RELAYQ_ASSIGN_OR_RETURN(int64_t pages, PragmaInt(db, "PRAGMA page_count"));
    RELAYQ_ASSIGN_OR_RETURN(int64_t page_size, PragmaInt(db, "PRAGMA page_size"));
    const MonoTime start = Clock::Real().Monotonic();
    Log(LogLevel::kInfo, "store upgrade: rebuilding the store once (VACUUM)",
        {{"step", std::to_string(m.version)},
         {"what", m.what},
         {"bytes", std::to_string(pages * page_size)}});
    RELAYQ_RETURN_IF_ERROR(Exec(db, m.sql));
    Log(LogLevel::kInfo, "store upgrade: rebuilt",
        {{"step", std::to_string(m.version)},
         {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   Clock::Real().Monotonic() - start)
                                   .count())}});
  }
  return Exec(db, "PRAGMA user_version = " + std::to_string(m.version));
}

Status TooNew(int version) {
  return Status::InvalidArgument("the store has schema version " + std::to_string(version) +
                                 " but this relayq knows only up to " + std::to_string(kLatest) +
                                 "; upgrade relayq");
}

// Applies the steps after the store's version up to `target`, stopping
// before the first `alone` step, in one transaction.
Status MigrateRun(sqlite3* db, int target) {
  // One IMMEDIATE transaction around reading the version and every step:
  // a second process opening the same store at the same moment waits for
  // the first (busy timeout), then reads the version the first committed
  // and has nothing left to do, instead of re-running a step ("table
  // already exists").
  RELAYQ_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE").WithContext("schema migration"));
  auto fail = [db](Status s) {
    (void)Exec(db, "ROLLBACK");
    return s;
  };
  Result<int> current = UserVersion(db);
  if (!current.ok()) return fail(current.status());
  if (*current > kLatest) return fail(TooNew(*current));
  for (const Migration& m : kMigrations) {
    if (m.version <= *current || m.version > target) continue;
    if (m.alone) break;
    Status s = Exec(db, m.sql);
    if (s.ok()) s = Exec(db, "PRAGMA user_version = " + std::to_string(m.version));
    if (!s.ok()) {
      return fail(
          s.WithContext("schema migration " + std::to_string(m.version) + " (" + m.what + ")"));
    }
  }
  Status committed = Exec(db, "COMMIT");
  if (!committed.ok()) return fail(committed.WithContext("schema migration"));
  return Status::Ok();
}

}  // namespace

int LatestSchemaVersion() { return kLatest; }

Status Migrate(sqlite3* db, int target) {
  if (target < 0) target = kLatest;
  // A store that is already current takes only the read.
  RELAYQ_ASSIGN_OR_RETURN(int seen, UserVersion(db));
  if (seen > kLatest) return TooNew(seen);
  // The steps run in runs: every step up to the next `alone` one (or the
  // target) in one transaction, then that step by itself.
  while (seen < target) {
    RELAYQ_RETURN_IF_ERROR(MigrateRun(db, target));
    RELAYQ_ASSIGN_OR_RETURN(seen, UserVersion(db));
    const Migration* next = nullptr;
    for (const Migration& m : kMigrations) {
      if (m.version == seen + 1) next = &m;
    }
    if (next == nullptr || !next->alone || next->version > target) break;
    if (Status s = RunAlone(db, *next); !s.ok()) {
      return s.WithContext("schema migration " + std::to_string(next->version) + " (" + next->what +
                           ")");
    }
    seen = next->version;
  }
  return Status::Ok();
}

Status MigrateFileTo(const std::string& path, int target) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, OpenDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_busy_timeout(db.get(), 5000);
  return Migrate(db.get(), target);
}

}  // namespace relayq::store
