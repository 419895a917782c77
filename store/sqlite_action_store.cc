#include "store/action_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <functional>
#include <random>

#include "store/rows.h"
#include "store/sqlite_util.h"

namespace relayq::store {

namespace {

constexpr std::string_view kClaimLost = "claim lost: ";

Status ClaimLost(const Claim& claim) {
  return Status::Conflict(std::string(kClaimLost) + "the claim on action " + std::to_string(claim.action_id) +
                          " was lost (its lease ran out and another worker took it, or an "
                          "operator changed it)");
}

}  // namespace

bool ClaimWasLost(const Status& s) {
  return s.code() == Status::Code::kConflict && s.message().starts_with(kClaimLost);
}

struct ActionStore::Impl {
  std::mutex mu;
  Db db;                                             // guarded by mu
  std::mt19937_64 rng{std::random_device{}()};       // guarded by mu
  uint64_t claims = 0;                               // guarded by mu

  // A token no other claim has or will have: random per store connection
  // and per claim, so two workers of one process never share one.
  std::string NewToken(const std::string& owner) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "#%016llx%llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(++claims));
    return owner + buf;
  }

  // Runs an UPDATE of one action fenced on `claim` (its SQL binds ?1 to the
  // id and ?2 to the token); Conflict when no row matched.
  Status Fenced(const Claim& claim, const std::string& sql, const std::function<void(Stmt&)>& bind) {
    RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db.get(), sql));
    q.Bind(1, claim.action_id).Bind(2, std::string_view(claim.token));
    bind(q);
    RELAYQ_RETURN_IF_ERROR(q.Run());
    if (sqlite3_changes(db.get()) == 0) return ClaimLost(claim);
    return Status::Ok();
  }

  // Runs `body` in a BEGIN IMMEDIATE transaction; rolls back on failure.
  template <typename F>
  Status InTransaction(F&& body) {
    RELAYQ_RETURN_IF_ERROR(Exec(db.get(), "BEGIN IMMEDIATE"));
    Status s = body();
    if (s.ok()) s = Exec(db.get(), "COMMIT");
    if (!s.ok()) (void)Exec(db.get(), "ROLLBACK");
    return s;
  }

  Status Run(const std::string& sql, const std::function<void(Stmt&)>& bind) {
    RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db.get(), sql));
    bind(q);
    return q.Run();
  }

  template <typename T>
  Result<std::optional<T>> One(const std::string& sql, const std::function<void(Stmt&)>& bind,
                               T (*from_row)(const Stmt&)) {
    RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db.get(), sql));
    bind(q);
    RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<T>();
    return std::optional<T>(from_row(q));
  }

  Result<int64_t> InsertRequest(const DispatchRequest& r, int64_t now) {
    RELAYQ_RETURN_IF_ERROR(Run(
        "INSERT INTO dispatch_requests (repository, workflow, ref, inputs, status, run_id, "
        "parent_id, fallback_count, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, 'pending', NULL, ?5, ?6, ?7, ?7)",
        [&](Stmt& q) {
          q.Bind(1, std::string_view(r.repository))
              .Bind(2, std::string_view(r.workflow))
              .Bind(3, std::string_view(r.ref))
              .Bind(4, std::string_view(InputsJson(r.inputs)))
              .Bind(5, r.parent_id)
              .Bind(6, r.fallback_count)
              .Bind(7, now);
        }));
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db.get()));
  }
};

ActionStore::ActionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ActionStore::~ActionStore() = default;

Result<std::unique_ptr<ActionStore>> ActionStore::Open(const std::string& path,
                                                       int busy_timeout_ms) {
  auto impl = std::make_unique<Impl>();
  RELAYQ_ASSIGN_OR_RETURN(impl->db, OpenDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX));
  sqlite3_busy_timeout(impl->db.get(), busy_timeout_ms);
  RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(impl->db.get(), "PRAGMA user_version"));
  RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row || q.Int(0) < 3) {
    return Status::InvalidArgument(path + " is not a relayq store (run `relayq serve` once to create it)");
  }
  return std::unique_ptr<ActionStore>(new ActionStore(std::move(impl)));
}

Result<DispatchRequest> ActionStore::CreateDispatch(const DispatchRequest& request,
                                                    const std::string& owner, int64_t now,
                                                    int64_t lease_until, Claim& claim) {
  std::lock_guard lock(impl_->mu);
  DispatchRequest out = request;
  const std::string token = impl_->NewToken(owner);
  Status s = impl_->InTransaction([&]() -> Status {
    RELAYQ_ASSIGN_OR_RETURN(out.id, impl_->InsertRequest(request, now));
    RELAYQ_RETURN_IF_ERROR(impl_->Run(
        "INSERT INTO actions (kind, key, repository, status, next_attempt_at, claimed_by, "
        "reason, payload, created_at, updated_at) VALUES ('dispatch', ?1, ?2, 'running', ?3, ?4, "
        "?5, ?6, ?7, ?7)",
        [&](Stmt& q) {
          q.Bind(1, std::string_view("dispatch:" + std::to_string(out.id)))
              .Bind(2, std::string_view(request.repository))
              .Bind(3, lease_until)
              .Bind(4, std::string_view(token))
              .Bind(5, std::string_view("submitted with relayq dispatch"))
              .Bind(6, std::string_view("{\"request_id\":" + std::to_string(out.id) + "}"))
              .Bind(7, now);
        }));
    claim.action_id = sqlite3_last_insert_rowid(impl_->db.get());
    claim.token = token;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  out.status = "pending";
  out.created_at = out.updated_at = now;
  return out;
}

Result<DispatchRequest> ActionStore::CreateRequestForAction(
    const DispatchRequest& request, const Claim& claim,
    const std::function<std::string(int64_t request_id)>& progress, int64_t now) {
  std::lock_guard lock(impl_->mu);
  DispatchRequest out = request;
  Status s = impl_->InTransaction([&]() -> Status {
    RELAYQ_ASSIGN_OR_RETURN(out.id, impl_->InsertRequest(request, now));
    const std::string result = progress(out.id);
    return impl_->Fenced(claim,
                         "UPDATE actions SET result = ?3, updated_at = ?4 "
                         "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
                         [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); });
  });
  if (!s.ok()) return s;
  out.status = "pending";
  out.created_at = out.updated_at = now;
  return out;
}

Status ActionStore::FinishDispatched(const Claim& claim, int64_t request_id,
                                     std::optional<int64_t> run_id, const std::string& result,
                                     int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->InTransaction([&]() -> Status {
    RELAYQ_RETURN_IF_ERROR(impl_->Fenced(
        claim,
        "UPDATE actions SET status = 'done', result = ?3, claimed_by = NULL, "
        "next_attempt_at = NULL, updated_at = ?4, done_at = ?4 "
        "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
        [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); }));
    return impl_->Run(
        "UPDATE dispatch_requests SET status = 'dispatched', run_id = coalesce(run_id, ?2), "
        "last_error = NULL, updated_at = ?3 WHERE id = ?1",
        [&](Stmt& q) { q.Bind(1, request_id).Bind(2, run_id).Bind(3, now); });
  });
}

Result<std::optional<DispatchRequest>> ActionStore::GetRequest(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<DispatchRequest>(
      std::string("SELECT ") + kRequestColumns + " FROM dispatch_requests WHERE id = ?1",
      [&](Stmt& q) { q.Bind(1, id); }, &RequestFromRow);
}

Result<std::optional<DispatchRequest>> ActionStore::RequestForRun(int64_t run_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<DispatchRequest>(
      std::string("SELECT ") + kRequestColumns +
          " FROM dispatch_requests WHERE run_id = ?1 ORDER BY id LIMIT 1",
      [&](Stmt& q) { q.Bind(1, run_id); }, &RequestFromRow);
}

Status ActionStore::MarkRequestFailed(int64_t id, const std::string& error, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Run(
      "UPDATE dispatch_requests SET status = 'failed', last_error = ?2, updated_at = ?3 "
      "WHERE id = ?1",
      [&](Stmt& q) { q.Bind(1, id).Bind(2, std::string_view(error)).Bind(3, now); });
}

Result<std::vector<ClaimedAction>> ActionStore::ClaimDue(int64_t now, const std::string& owner,
                                                         int64_t lease_until, size_t max) {
  std::lock_guard lock(impl_->mu);
  std::vector<ClaimedAction> out;
  Status s = impl_->InTransaction([&]() -> Status {
    RELAYQ_ASSIGN_OR_RETURN(
        Stmt q, Stmt::Prepare(impl_->db.get(),
                              std::string("SELECT ") + kActionColumns +
                                  " FROM actions WHERE status IN ('scheduled', 'pending', "
                                  "'running') AND next_attempt_at <= ?1 "
                                  "ORDER BY next_attempt_at, id LIMIT ?2"));
    q.Bind(1, now).Bind(2, static_cast<int64_t>(max));
    for (Result<bool> row = q.Step(); ; row = q.Step()) {
      if (!row.ok()) return row.status();
      if (!*row) break;
      ClaimedAction c;
      c.action = ActionFromRow(q);
      c.claim = Claim{c.action.id, impl_->NewToken(owner)};
      out.push_back(std::move(c));
    }
    q.Reset();
    RELAYQ_ASSIGN_OR_RETURN(
        Stmt claim, Stmt::Prepare(impl_->db.get(),
                                  "UPDATE actions SET status = 'running', claimed_by = ?2, "
                                  "next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1"));
    for (auto& c : out) {
      claim.Bind(1, c.action.id)
          .Bind(2, std::string_view(c.claim.token))
          .Bind(3, lease_until)
          .Bind(4, now);
      RELAYQ_RETURN_IF_ERROR(claim.Run());
      c.action.status = "running";
      c.action.next_attempt_at = lease_until;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status ActionStore::Renew(const Claim& claim, int64_t lease_until, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(claim,
                       "UPDATE actions SET next_attempt_at = max(next_attempt_at, ?3), "
                       "updated_at = ?4 WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
                       [&](Stmt& q) { q.Bind(3, lease_until).Bind(4, now); });
}

Result<int> ActionStore::RenewAll(const std::vector<Claim>& claims, int64_t lease_until,
                                  int64_t now) {
  std::lock_guard lock(impl_->mu);
  int renewed = 0;
  Status s = impl_->InTransaction([&]() -> Status {
    RELAYQ_ASSIGN_OR_RETURN(
        Stmt q, Stmt::Prepare(impl_->db.get(),
                              "UPDATE actions SET next_attempt_at = max(next_attempt_at, ?3), "
                              "updated_at = ?4 WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'"));
    for (const Claim& c : claims) {
      q.Bind(1, c.action_id).Bind(2, std::string_view(c.token)).Bind(3, lease_until).Bind(4, now);
      RELAYQ_RETURN_IF_ERROR(q.Run());
      renewed += sqlite3_changes(impl_->db.get()) > 0 ? 1 : 0;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return renewed;
}

Status ActionStore::ReleaseClaim(const Claim& claim, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(claim,
                       "UPDATE actions SET status = 'pending', next_attempt_at = ?3, "
                       "claimed_by = NULL, updated_at = ?3 "
                       "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
                       [&](Stmt& q) { q.Bind(3, now); });
}

Status ActionStore::ReleaseClaims(const std::string& owner_prefix, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Run(
      "UPDATE actions SET status = 'pending', next_attempt_at = ?2, claimed_by = NULL, "
      "updated_at = ?2 WHERE status = 'running' AND substr(claimed_by, 1, length(?1)) = ?1 "
      "AND next_attempt_at <= ?2",
      [&](Stmt& q) { q.Bind(1, std::string_view(owner_prefix)).Bind(2, now); });
}

Status ActionStore::ReleaseClaimsOfDeadOwners(const std::string& owner_prefix, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Run(
      "UPDATE actions SET status = 'pending', next_attempt_at = ?2, claimed_by = NULL, "
      "updated_at = ?2 WHERE status = 'running' AND substr(claimed_by, 1, length(?1)) = ?1",
      [&](Stmt& q) { q.Bind(1, std::string_view(owner_prefix)).Bind(2, now); });
}

Result<std::optional<int64_t>> ActionStore::NextDueTime() {
  std::lock_guard lock(impl_->mu);
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(impl_->db.get(),
                            "SELECT min(next_attempt_at) FROM actions "
                            "WHERE status IN ('scheduled', 'pending', 'running')"));
  RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<int64_t>();
  return q.OptInt(0);
}

Status ActionStore::Finish(const Claim& claim, const std::string& status,
                           const std::string& result, const std::optional<std::string>& error,
                           int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(
      claim,
      "UPDATE actions SET status = ?3, result = ?4, last_error = coalesce(?5, last_error), "
      "claimed_by = NULL, next_attempt_at = NULL, updated_at = ?6, done_at = ?6 "
      "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
      [&](Stmt& q) {
        q.Bind(3, std::string_view(status)).Bind(4, std::string_view(result));
        q.Bind(5, error).Bind(6, now);
      });
}

Status ActionStore::Retry(const Claim& claim, int64_t next_attempt_at, const std::string& error,
                          const std::string& result, int64_t now, bool count_attempt) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(
      claim,
      "UPDATE actions SET status = 'pending', attempts = attempts + ?7, next_attempt_at = ?3, "
      "last_error = ?4, result = ?5, claimed_by = NULL, updated_at = ?6 "
      "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
      [&](Stmt& q) {
        q.Bind(3, next_attempt_at).Bind(4, std::string_view(error));
        q.Bind(5, std::string_view(result)).Bind(6, now).Bind(7, int64_t{count_attempt ? 1 : 0});
      });
}

Status ActionStore::Reschedule(const Claim& claim, int64_t due_at, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(claim,
                       "UPDATE actions SET status = 'scheduled', due_at = ?3, next_attempt_at = ?3, "
                       "claimed_by = NULL, updated_at = ?4 "
                       "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
                       [&](Stmt& q) { q.Bind(3, due_at).Bind(4, now); });
}

Status ActionStore::SaveProgress(const Claim& claim, const std::string& result, int64_t now) {
  std::lock_guard lock(impl_->mu);
  return impl_->Fenced(claim,
                       "UPDATE actions SET result = ?3, updated_at = ?4 "
                       "WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'",
                       [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); });
}

Result<std::optional<ActionRecord>> ActionStore::GetAction(int64_t id) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<ActionRecord>(
      std::string("SELECT ") + kActionColumns + " FROM actions WHERE id = ?1",
      [&](Stmt& q) { q.Bind(1, id); }, &ActionFromRow);
}

Result<std::optional<ActionRecord>> ActionStore::GetActionByKey(const std::string& key) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<ActionRecord>(
      std::string("SELECT ") + kActionColumns + " FROM actions WHERE key = ?1",
      [&](Stmt& q) { q.Bind(1, std::string_view(key)); }, &ActionFromRow);
}

Result<std::optional<JobState>> ActionStore::GetJob(int64_t job_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<JobState>(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1",
                              [&](Stmt& q) { q.Bind(1, job_id); }, &JobFromRow);
}

Result<std::optional<RunState>> ActionStore::GetRun(int64_t run_id, int64_t attempt) {
  std::lock_guard lock(impl_->mu);
  return impl_->One<RunState>(
      std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1 AND attempt = ?2",
      [&](Stmt& q) { q.Bind(1, run_id).Bind(2, attempt); }, &RunFromRow);
}

Result<std::vector<JobState>> ActionStore::JobsOfRun(int64_t run_id, int64_t attempt) {
  std::lock_guard lock(impl_->mu);
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(impl_->db.get(), std::string("SELECT ") + kJobColumns +
                                                 " FROM jobs WHERE run_id = ?1 AND run_attempt = ?2 "
                                                 "ORDER BY id"));
  q.Bind(1, run_id).Bind(2, attempt);
  std::vector<JobState> out;
  for (Result<bool> row = q.Step();; row = q.Step()) {
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(JobFromRow(q));
  }
  return out;
}

}  // namespace relayq::store
