// SqliteActionStore: the ActionStore on its own SQLite connection (see
// action_store.h for the contract). Every statement is prepared once, when
// the store is opened, and reused under the connection's mutex.
#include <sqlite3.h>

#include <cstdio>
#include <functional>
#include <random>

#include "common/mutex.h"
#include "store/action_store.h"
#include "store/connection.h"
#include "store/database.h"
#include "store/rows.h"
#include "store/sqlite_util.h"

namespace relayq::store {

namespace {

constexpr std::string_view kClaimLost = "claim lost: ";

// A fenced UPDATE of one action: `sql` followed by the fence, which binds ?1
// to the action id and ?2 to the claim token.
std::string Fence(std::string_view sql) {
  return std::string(sql) + " WHERE id = ?1 AND claimed_by = ?2 AND status = 'running'";
}

class SqliteActionStore final : public ActionStore {
 public:
  explicit SqliteActionStore(Db db) : db_(std::move(db)) {}
  Status Prepare();

  Result<DispatchRequest> CreateDispatch(const DispatchRequest& request, const std::string& owner,
                                         int64_t now, int64_t lease_until, Claim& claim) override;
  Result<DispatchRequest> CreateRequestForAction(
      const DispatchRequest& request, const Claim& claim,
      const std::function<std::string(int64_t request_id)>& progress, int64_t now) override;
  Status FinishDispatched(const Claim& claim, int64_t request_id, std::optional<int64_t> run_id,
                          const std::string& result, int64_t now) override;
  Result<std::optional<DispatchRequest>> GetRequest(int64_t id) override;
  Result<std::optional<DispatchRequest>> RequestForRun(int64_t run_id) override;
  Status MarkRequestFailed(int64_t id, const std::string& error, int64_t now) override;
  Status SetRequestRef(int64_t id, const std::string& ref, int64_t now) override;
  Result<std::vector<ClaimedAction>> ClaimDue(int64_t now, const std::string& owner,
                                              int64_t lease_until, size_t max) override;
  Result<std::vector<ClaimedAction>> ClaimDueOfKind(ActionKind kind, int64_t now,
                                                    const std::string& owner, int64_t lease_until,
                                                    size_t max) override;
  Result<std::optional<int64_t>> NextDueTimeOfKind(ActionKind kind) override;
  Result<bool> RecordAction(const NewAction& action, int64_t now) override;
  Status Renew(const Claim& claim, int64_t lease_until, int64_t now) override;
  Result<int> RenewAll(const std::vector<Claim>& claims, int64_t lease_until, int64_t now) override;
  Status ReleaseClaim(const Claim& claim, int64_t now) override;
  Status ReleaseClaims(const std::string& owner_prefix, int64_t now) override;
  Status ReleaseClaimsOfDeadOwners(const std::string& owner_prefix, int64_t now) override;
  Result<std::optional<int64_t>> NextDueTime() override;
  Status Finish(const Claim& claim, ActionStatus status, const std::string& result,
                const std::optional<std::string>& error, int64_t now) override;
  Status Retry(const Claim& claim, int64_t next_attempt_at, const std::string& error,
               const std::string& result, int64_t now, bool count_attempt) override;
  Status Reschedule(const Claim& claim, int64_t due_at, int64_t now) override;
  Status SaveProgress(const Claim& claim, const std::string& result, int64_t now) override;
  Result<std::optional<ActionRecord>> GetAction(int64_t id) override;
  Result<std::optional<ActionRecord>> GetActionByKey(const std::string& key) override;
  Result<OperatorOutcome> RetryAction(int64_t id, const OperatorRequest& request) override;
  Result<OperatorOutcome> CancelAction(int64_t id, const OperatorRequest& request) override;
  Result<std::optional<JobState>> GetJob(int64_t job_id) override;
  Result<std::optional<RunState>> GetRun(int64_t run_id, int64_t attempt) override;
  Result<std::vector<JobState>> JobsOfRun(int64_t run_id, int64_t attempt) override;

 private:
  // A token no other claim has or will have: random per store connection
  // and per claim, so two workers of one process never share one.
  std::string NewToken(const std::string& owner) REQUIRES(mu_) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "#%016llx%llx", static_cast<unsigned long long>(rng_()),
                  static_cast<unsigned long long>(++claims_));
    return owner + buf;
  }

  // Runs `q`, a fenced UPDATE of one action (?1 id, ?2 token; `bind` binds
  // the rest); Conflict when no row matched.
  Status Fenced(Stmt& q, const Claim& claim, const std::function<void(Stmt&)>& bind) REQUIRES(mu_) {
    q.Bind(1, claim.action_id).Bind(2, std::string_view(claim.token));
    bind(q);
    RELAYQ_RETURN_IF_ERROR(q.Run());
    if (sqlite3_changes(db_.get()) == 0) return ClaimLostStatus(claim);
    return Status::Ok();
  }

  // Runs `body` in a BEGIN IMMEDIATE transaction; rolls back on failure.
  template <typename F>
  Status InTransaction(F&& body) REQUIRES(mu_) {
    RELAYQ_RETURN_IF_ERROR(begin_.Run());
    Status s = body();
    if (s.ok()) s = commit_.Run();
    if (!s.ok()) (void)rollback_.Run();
    return s;
  }

  static Status Run(Stmt& q, const std::function<void(Stmt&)>& bind) {
    bind(q);
    return q.Run();
  }

  // The first row of `q` (bound by `bind`) as a T, or nullopt.
  template <typename T>
  static Result<std::optional<T>> One(Stmt& q, const std::function<void(Stmt&)>& bind,
                                      T (*from_row)(const Stmt&)) {
    bind(q);
    Result<bool> row = q.Step();
    std::optional<T> out;
    if (row.ok() && *row) out = from_row(q);
    q.Reset();
    if (!row.ok()) return row.status();
    return out;
  }

  Result<int64_t> InsertRequest(const DispatchRequest& r, int64_t now) REQUIRES(mu_) {
    RELAYQ_RETURN_IF_ERROR(Run(insert_request_, [&](Stmt& q) {
      q.Bind(1, std::string_view(r.repository))
          .Bind(2, std::string_view(r.workflow))
          .Bind(3, std::string_view(r.ref))
          .Bind(4, std::string_view(InputsJson(r.inputs)))
          .Bind(5, r.parent_id)
          .Bind(6, r.fallback_count)
          .Bind(7, now)
          .Bind(8, r.idempotency_key);
    }));
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_.get()));
  }

  // The operator change shared by RetryAction and CancelAction: in one
  // transaction, reads action `id`, and when `allowed(status)` runs `change`
  // (an UPDATE of that row: ?1 id, ?2 now, ?3 who, ?4 reason) and records
  // `what` in its history; then reads the action back.
  Result<OperatorOutcome> OperatorChange(int64_t id, const OperatorRequest& request,
                                         std::string_view what,
                                         const std::function<std::string(ActionStatus)>& refusal,
                                         Stmt& change) REQUIRES(mu_);

  Mutex mu_;
  Db db_ GUARDED_BY(mu_);
  std::mt19937_64 rng_ GUARDED_BY(mu_) = std::mt19937_64(std::random_device{}());
  uint64_t claims_ GUARDED_BY(mu_) = 0;

  // Prepared once by Prepare(); guarded by mu_. Declared after db_, so they
  // are finalized before the connection closes.
  Stmt begin_ GUARDED_BY(mu_), commit_ GUARDED_BY(mu_), rollback_ GUARDED_BY(mu_),
      insert_request_ GUARDED_BY(mu_), insert_dispatch_ GUARDED_BY(mu_),
      save_result_ GUARDED_BY(mu_), finish_done_ GUARDED_BY(mu_), mark_dispatched_ GUARDED_BY(mu_),
      get_request_ GUARDED_BY(mu_), request_for_run_ GUARDED_BY(mu_), mark_failed_ GUARDED_BY(mu_),
      select_due_ GUARDED_BY(mu_), claim_ GUARDED_BY(mu_), renew_ GUARDED_BY(mu_),
      release_claim_ GUARDED_BY(mu_), release_expired_ GUARDED_BY(mu_),
      release_all_ GUARDED_BY(mu_), next_due_ GUARDED_BY(mu_), finish_ GUARDED_BY(mu_),
      retry_ GUARDED_BY(mu_), reschedule_ GUARDED_BY(mu_), get_action_ GUARDED_BY(mu_),
      get_action_by_key_ GUARDED_BY(mu_), get_job_ GUARDED_BY(mu_), get_run_ GUARDED_BY(mu_),
      jobs_of_run_ GUARDED_BY(mu_), select_due_of_kind_ GUARDED_BY(mu_),
      next_due_of_kind_ GUARDED_BY(mu_), record_action_ GUARDED_BY(mu_);

  // ClaimDue's body over `select` (bound by `bind`).
  Result<std::vector<ClaimedAction>> ClaimFrom(Stmt& select, const std::function<void(Stmt&)>& bind,
                                               int64_t now, const std::string& owner,
                                               int64_t lease_until) REQUIRES(mu_);
  // Idempotency keys and default refs of dispatch requests.
  Stmt request_by_key_ GUARDED_BY(mu_), set_ref_ GUARDED_BY(mu_);
  // Operator controls (relayq actions retry|cancel) and their history.
  Stmt operator_retry_ GUARDED_BY(mu_), operator_cancel_ GUARDED_BY(mu_),
      cancel_request_ GUARDED_BY(mu_), insert_event_ GUARDED_BY(mu_);
};

Status SqliteActionStore::Prepare() {
  // Uncontended (the store is not shared yet); taken for the statements.
  MutexLock lock(mu_);
  sqlite3* db = db_.get();
  auto prep = [db](Stmt& out, const std::string& sql) -> Status {
    auto s = Stmt::Prepare(db, sql);
    if (!s.ok()) return s.status().WithContext(sql);
    out = std::move(*s);
    return Status::Ok();
  };
  const std::string select_action = std::string("SELECT ") + kActionColumns + " FROM actions ";
  const std::string select_request =
      std::string("SELECT ") + kRequestColumns + " FROM dispatch_requests ";
  const std::string select_job = std::string("SELECT ") + kJobColumns + " FROM jobs ";
  const std::pair<Stmt*, std::string> statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&insert_request_,
       "INSERT INTO dispatch_requests (repository, workflow, ref, inputs, status, run_id, "
       "parent_id, fallback_count, created_at, updated_at, idempotency_key) "
       "VALUES (?1, ?2, ?3, ?4, 'pending', NULL, ?5, ?6, ?7, ?7, ?8)"},
      {&insert_dispatch_,
       "INSERT INTO actions (kind, key, repository, status, next_attempt_at, claimed_by, "
       "reason, payload, created_at, updated_at) VALUES ('dispatch', ?1, ?2, 'running', ?3, ?4, "
       "?5, ?6, ?7, ?7)"},
      {&save_result_, Fence("UPDATE actions SET result = ?3, updated_at = ?4")},
      // Done clears the error of an earlier, retried attempt: it is history
      // (kept in the log), not what became of the action.
      {&finish_done_, Fence("UPDATE actions SET status = 'done', result = ?3, claimed_by = NULL, "
                            "last_error = NULL, next_attempt_at = NULL, updated_at = ?4, "
                            "done_at = ?4")},
      {&mark_dispatched_,
       "UPDATE dispatch_requests SET status = 'dispatched', run_id = coalesce(run_id, ?2), "
       "last_error = NULL, updated_at = ?3 WHERE id = ?1"},
      {&get_request_, select_request + "WHERE id = ?1"},
      {&request_for_run_, select_request + "WHERE run_id = ?1 ORDER BY id LIMIT 1"},
      {&request_by_key_, select_request + "WHERE idempotency_key = ?1"},
      {&set_ref_,
       "UPDATE dispatch_requests SET ref = ?2, updated_at = ?3 WHERE id = ?1 AND ref = ''"},
      {&mark_failed_,
       "UPDATE dispatch_requests SET status = 'failed', last_error = ?2, updated_at = ?3 "
       "WHERE id = ?1"},
      {&select_due_, select_action + "WHERE status IN ('scheduled', 'pending', 'running') AND "
                                     "next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2"},
      {&claim_,
       "UPDATE actions SET status = 'running', claimed_by = ?2, next_attempt_at = ?3, "
       "updated_at = ?4 WHERE id = ?1"},
      {&renew_,
       Fence("UPDATE actions SET next_attempt_at = max(next_attempt_at, ?3), updated_at = ?4")},
      {&release_claim_,
       Fence("UPDATE actions SET status = 'pending', next_attempt_at = ?3, claimed_by = NULL, "
             "updated_at = ?3")},
      {&release_expired_,
       "UPDATE actions SET status = 'pending', next_attempt_at = ?2, claimed_by = NULL, "
       "updated_at = ?2 WHERE status = 'running' AND substr(claimed_by, 1, length(?1)) = ?1 "
       "AND next_attempt_at <= ?2"},
      {&release_all_,
       "UPDATE actions SET status = 'pending', next_attempt_at = ?2, claimed_by = NULL, "
       "updated_at = ?2 WHERE status = 'running' AND substr(claimed_by, 1, length(?1)) = ?1"},
      {&next_due_,
       "SELECT min(next_attempt_at) FROM actions "
       "WHERE status IN ('scheduled', 'pending', 'running')"},
      {&finish_,
       Fence("UPDATE actions SET status = ?3, result = ?4, "
             "last_error = CASE WHEN ?3 = 'done' THEN NULL ELSE coalesce(?5, last_error) END, "
             "claimed_by = NULL, next_attempt_at = NULL, updated_at = ?6, done_at = ?6")},
      {&retry_,
       Fence(
           "UPDATE actions SET status = 'pending', attempts = attempts + ?7, next_attempt_at = ?3, "
           "last_error = ?4, result = ?5, claimed_by = NULL, updated_at = ?6")},
      {&reschedule_,
       Fence("UPDATE actions SET status = 'scheduled', due_at = ?3, next_attempt_at = ?3, "
             "claimed_by = NULL, updated_at = ?4")},
      {&get_action_, select_action + "WHERE id = ?1"},
      {&get_action_by_key_, select_action + "WHERE key = ?1"},
      {&get_job_, select_job + "WHERE id = ?1"},
      {&get_run_,
       std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1 AND attempt = ?2"},
      {&jobs_of_run_, select_job + "WHERE run_id = ?1 AND run_attempt = ?2 ORDER BY id"},
      {&select_due_of_kind_,
       select_action + "WHERE status IN ('scheduled', 'pending', 'running') AND "
                       "next_attempt_at <= ?1 AND kind = ?3 ORDER BY next_attempt_at, id LIMIT ?2"},
      {&next_due_of_kind_,
       "SELECT min(next_attempt_at) FROM actions "
       "WHERE status IN ('scheduled', 'pending', 'running') AND kind = ?1"},
      {&record_action_,
       "INSERT INTO actions (kind, key, repository, status, due_at, next_attempt_at, attempts, "
       "reason, payload, job_id, run_id, run_attempt, created_at, updated_at) "
       "VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN 'pending' ELSE 'scheduled' END, ?4, "
       "coalesce(?4, ?9), 0, ?5, ?6, ?7, ?8, ?10, ?9, ?9) ON CONFLICT(key) DO NOTHING"},
      // The try that ended a failed/aborted action was not counted (Finish
      // does not count): count it now, so attempts is the tries so far and
      // the executor's give-up rule allows exactly one more. An action
      // cancelled before its deadline waits for it again.
      {&operator_retry_,
       "UPDATE actions SET status = CASE WHEN due_at > ?2 THEN 'scheduled' ELSE 'pending' END, "
       "next_attempt_at = max(?2, coalesce(due_at, ?2)), claimed_by = NULL, done_at = NULL, "
       "attempts = attempts + (result IS NOT NULL), updated_at = ?2 "
       "WHERE id = ?1 AND status IN ('failed', 'aborted')"},
      {&operator_cancel_,
       "UPDATE actions SET status = 'aborted', next_attempt_at = NULL, claimed_by = NULL, "
       "last_error = 'cancelled by ' || ?3 || CASE WHEN ?4 = '' THEN '' ELSE ': ' || ?4 END, "
       "updated_at = ?2, done_at = ?2 WHERE id = ?1 AND status IN ('scheduled', 'pending')"},
      // The request a cancelled action would have sent, when not sent yet.
      {&cancel_request_,
       "UPDATE dispatch_requests SET status = 'failed', last_error = ?3, updated_at = ?2 "
       "WHERE status = 'pending' AND id = (SELECT coalesce(CASE WHEN json_valid(a.result) THEN "
       "json_extract(a.result, '$.request_id') END, CASE WHEN a.kind = 'dispatch' AND "
       "json_valid(a.payload) THEN json_extract(a.payload, '$.request_id') END) "
       "FROM actions a WHERE a.id = ?1)"},
      {&insert_event_,
       "INSERT INTO action_events (action_id, at, what, who, reason, from_status, to_status) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
  };
  for (const auto& [stmt, sql] : statements) RELAYQ_RETURN_IF_ERROR(prep(*stmt, sql));
  return Status::Ok();
}

Result<DispatchRequest> SqliteActionStore::CreateDispatch(const DispatchRequest& request,
                                                          const std::string& owner, int64_t now,
                                                          int64_t lease_until, Claim& claim) {
  MutexLock lock(mu_);
  DispatchRequest out = request;
  const std::string token = NewToken(owner);
  std::optional<DispatchRequest> existing;
  Status s = InTransaction([&]() REQUIRES(mu_) -> Status {
    if (request.idempotency_key) {
      // Inside the write transaction: two submissions with one key are
      // ordered, and the second finds the first.
      RELAYQ_ASSIGN_OR_RETURN(
          existing, One<DispatchRequest>(
                        request_by_key_,
                        [&](Stmt& q) { q.Bind(1, std::string_view(*request.idempotency_key)); },
                        &RequestFromRow));
      if (existing) return Status::Ok();
    }
    RELAYQ_ASSIGN_OR_RETURN(out.id, InsertRequest(request, now));
    RELAYQ_RETURN_IF_ERROR(Run(insert_dispatch_, [&](Stmt& q) {
      q.Bind(1, std::string_view("dispatch:" + std::to_string(out.id)))
          .Bind(2, std::string_view(request.repository))
          .Bind(3, lease_until)
          .Bind(4, std::string_view(token))
          .Bind(5, std::string_view("submitted with relayq dispatch"))
          .Bind(6, std::string_view("{\"request_id\":" + std::to_string(out.id) + "}"))
          .Bind(7, now);
    }));
    claim.action_id = sqlite3_last_insert_rowid(db_.get());
    claim.token = token;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (existing) {
    claim = Claim{};
    existing->idempotency_key = request.idempotency_key;
    return *existing;
  }
  out.status = RequestStatus::kPending;
  out.created_at = out.updated_at = now;
  return out;
}

Result<DispatchRequest> SqliteActionStore::CreateRequestForAction(
    const DispatchRequest& request, const Claim& claim,
    const std::function<std::string(int64_t request_id)>& progress, int64_t now) {
  MutexLock lock(mu_);
  DispatchRequest out = request;
  Status s = InTransaction([&]() REQUIRES(mu_) -> Status {
    RELAYQ_ASSIGN_OR_RETURN(out.id, InsertRequest(request, now));
    const std::string result = progress(out.id);
    return Fenced(save_result_, claim,
                  [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); });
  });
  if (!s.ok()) return s;
  out.status = RequestStatus::kPending;
  out.created_at = out.updated_at = now;
  return out;
}

Status SqliteActionStore::FinishDispatched(const Claim& claim, int64_t request_id,
                                           std::optional<int64_t> run_id, const std::string& result,
                                           int64_t now) {
  MutexLock lock(mu_);
  return InTransaction([&]() REQUIRES(mu_) -> Status {
    RELAYQ_RETURN_IF_ERROR(Fenced(
        finish_done_, claim, [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); }));
    return Run(mark_dispatched_,
               [&](Stmt& q) { q.Bind(1, request_id).Bind(2, run_id).Bind(3, now); });
  });
}

Result<std::optional<DispatchRequest>> SqliteActionStore::GetRequest(int64_t id) {
  MutexLock lock(mu_);
  return One<DispatchRequest>(
      get_request_, [&](Stmt& q) { q.Bind(1, id); }, &RequestFromRow);
}

Result<std::optional<DispatchRequest>> SqliteActionStore::RequestForRun(int64_t run_id) {
  MutexLock lock(mu_);
  return One<DispatchRequest>(
      request_for_run_, [&](Stmt& q) { q.Bind(1, run_id); }, &RequestFromRow);
}

Status SqliteActionStore::MarkRequestFailed(int64_t id, const std::string& error, int64_t now) {
  MutexLock lock(mu_);
  return Run(mark_failed_,
             [&](Stmt& q) { q.Bind(1, id).Bind(2, std::string_view(error)).Bind(3, now); });
}

Status SqliteActionStore::SetRequestRef(int64_t id, const std::string& ref, int64_t now) {
  MutexLock lock(mu_);
  return Run(set_ref_, [&](Stmt& q) { q.Bind(1, id).Bind(2, std::string_view(ref)).Bind(3, now); });
}

Result<std::vector<ClaimedAction>> SqliteActionStore::ClaimDue(int64_t now,
                                                               const std::string& owner,
                                                               int64_t lease_until, size_t max) {
  MutexLock lock(mu_);
  return ClaimFrom(
      select_due_, [&](Stmt& q) { q.Bind(1, now).Bind(2, static_cast<int64_t>(max)); }, now, owner,
      lease_until);
}

Result<std::vector<ClaimedAction>> SqliteActionStore::ClaimDueOfKind(ActionKind kind, int64_t now,
                                                                     const std::string& owner,
                                                                     int64_t lease_until,
                                                                     size_t max) {
  MutexLock lock(mu_);
  return ClaimFrom(
      select_due_of_kind_,
      [&](Stmt& q) {
        q.Bind(1, now).Bind(2, static_cast<int64_t>(max)).Bind(3, ActionKindName(kind));
      },
      now, owner, lease_until);
}

Result<std::vector<ClaimedAction>> SqliteActionStore::ClaimFrom(
    Stmt& select, const std::function<void(Stmt&)>& bind, int64_t now, const std::string& owner,
    int64_t lease_until) {
  std::vector<ClaimedAction> out;
  Status s = InTransaction([&]() REQUIRES(mu_) -> Status {
    bind(select);
    for (Result<bool> row = select.Step();; row = select.Step()) {
      if (!row.ok()) return row.status();
      if (!*row) break;
      ClaimedAction c;
      c.action = ActionFromRow(select);
      c.claim = Claim{c.action.id, NewToken(owner)};
      out.push_back(std::move(c));
    }
    select.Reset();
    for (auto& c : out) {
      claim_.Bind(1, c.action.id)
          .Bind(2, std::string_view(c.claim.token))
          .Bind(3, lease_until)
          .Bind(4, now);
      RELAYQ_RETURN_IF_ERROR(claim_.Run());
      c.action.status = ActionStatus::kRunning;
      c.action.next_attempt_at = lease_until;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<int64_t>> SqliteActionStore::NextDueTimeOfKind(ActionKind kind) {
  MutexLock lock(mu_);
  next_due_of_kind_.Bind(1, ActionKindName(kind));
  Result<bool> row = next_due_of_kind_.Step();
  std::optional<int64_t> out;
  if (row.ok() && *row) out = next_due_of_kind_.OptInt(0);
  next_due_of_kind_.Reset();
  if (!row.ok()) return row.status();
  return out;
}

Result<bool> SqliteActionStore::RecordAction(const NewAction& a, int64_t now) {
  MutexLock lock(mu_);
  record_action_.Bind(1, ActionKindName(a.kind))
      .Bind(2, std::string_view(a.key))
      .Bind(3, std::string_view(a.repository))
      .Bind(4, a.due_at)
      .Bind(5, std::string_view(a.reason))
      .Bind(6, std::string_view(a.payload))
      .Bind(7, a.job_id)
      .Bind(8, a.run_id)
      .Bind(9, now)
      .Bind(10, a.run_attempt);
  RELAYQ_RETURN_IF_ERROR(record_action_.Run());
  return sqlite3_changes(db_.get()) > 0;
}

Status SqliteActionStore::Renew(const Claim& claim, int64_t lease_until, int64_t now) {
  MutexLock lock(mu_);
  return Fenced(renew_, claim, [&](Stmt& q) { q.Bind(3, lease_until).Bind(4, now); });
}

Result<int> SqliteActionStore::RenewAll(const std::vector<Claim>& claims, int64_t lease_until,
                                        int64_t now) {
  MutexLock lock(mu_);
  int renewed = 0;
  Status s = InTransaction([&]() REQUIRES(mu_) -> Status {
    for (const Claim& c : claims) {
      Status one = Fenced(renew_, c, [&](Stmt& q) { q.Bind(3, lease_until).Bind(4, now); });
      if (one.ok()) {
        ++renewed;
      } else if (!ClaimWasLost(one)) {
        return one;
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return renewed;
}

Status SqliteActionStore::ReleaseClaim(const Claim& claim, int64_t now) {
  MutexLock lock(mu_);
  return Fenced(release_claim_, claim, [&](Stmt& q) { q.Bind(3, now); });
}

Status SqliteActionStore::ReleaseClaims(const std::string& owner_prefix, int64_t now) {
  MutexLock lock(mu_);
  return Run(release_expired_,
             [&](Stmt& q) { q.Bind(1, std::string_view(owner_prefix)).Bind(2, now); });
}

Status SqliteActionStore::ReleaseClaimsOfDeadOwners(const std::string& owner_prefix, int64_t now) {
  MutexLock lock(mu_);
  return Run(release_all_,
             [&](Stmt& q) { q.Bind(1, std::string_view(owner_prefix)).Bind(2, now); });
}

Result<std::optional<int64_t>> SqliteActionStore::NextDueTime() {
  MutexLock lock(mu_);
  Result<bool> row = next_due_.Step();
  std::optional<int64_t> out;
  if (row.ok() && *row) out = next_due_.OptInt(0);
  next_due_.Reset();
  if (!row.ok()) return row.status();
  return out;
}

Status SqliteActionStore::Finish(const Claim& claim, ActionStatus status, const std::string& result,
                                 const std::optional<std::string>& error, int64_t now) {
  MutexLock lock(mu_);
  return Fenced(finish_, claim, [&](Stmt& q) {
    q.Bind(3, ActionStatusName(status)).Bind(4, std::string_view(result));
    q.Bind(5, error).Bind(6, now);
  });
}

Status SqliteActionStore::Retry(const Claim& claim, int64_t next_attempt_at,
                                const std::string& error, const std::string& result, int64_t now,
                                bool count_attempt) {
  MutexLock lock(mu_);
  return Fenced(retry_, claim, [&](Stmt& q) {
    q.Bind(3, next_attempt_at).Bind(4, std::string_view(error));
    q.Bind(5, std::string_view(result)).Bind(6, now).Bind(7, int64_t{count_attempt ? 1 : 0});
  });
}

Status SqliteActionStore::Reschedule(const Claim& claim, int64_t due_at, int64_t now) {
  MutexLock lock(mu_);
  return Fenced(reschedule_, claim, [&](Stmt& q) { q.Bind(3, due_at).Bind(4, now); });
}

Status SqliteActionStore::SaveProgress(const Claim& claim, const std::string& result, int64_t now) {
  MutexLock lock(mu_);
  return Fenced(save_result_, claim,
                [&](Stmt& q) { q.Bind(3, std::string_view(result)).Bind(4, now); });
}

Result<std::optional<ActionRecord>> SqliteActionStore::GetAction(int64_t id) {
  MutexLock lock(mu_);
  return One<ActionRecord>(
      get_action_, [&](Stmt& q) { q.Bind(1, id); }, &ActionFromRow);
}

Result<std::optional<ActionRecord>> SqliteActionStore::GetActionByKey(const std::string& key) {
  MutexLock lock(mu_);
  return One<ActionRecord>(
      get_action_by_key_, [&](Stmt& q) { q.Bind(1, std::string_view(key)); }, &ActionFromRow);
}

Result<OperatorOutcome> SqliteActionStore::OperatorChange(
    int64_t id, const OperatorRequest& request, std::string_view what,
    const std::function<std::string(ActionStatus)>& refusal, Stmt& change) {
  OperatorOutcome out;
  Status s = InTransaction([&]() REQUIRES(mu_) -> Status {
    RELAYQ_ASSIGN_OR_RETURN(std::optional<ActionRecord> before,
                            One<ActionRecord>(
                                get_action_, [&](Stmt& q) { q.Bind(1, id); }, &ActionFromRow));
    if (!before) return Status::NotFound("no action " + std::to_string(id));
    out.previous = before->status;
    out.why = refusal(before->status);
    if (!out.why.empty()) {
      out.action = std::move(*before);
      return Status::Ok();
    }
    auto bind = [&](Stmt& q) {
      q.Bind(1, id)
          .Bind(2, request.now)
          .Bind(3, std::string_view(request.who))
          .Bind(4, std::string_view(request.reason));
    };
    RELAYQ_RETURN_IF_ERROR(Run(change, bind));
    if (&change == &operator_cancel_) {
      RELAYQ_RETURN_IF_ERROR(Run(cancel_request_, [&](Stmt& q) {
        q.Bind(1, id)
            .Bind(2, request.now)
            .Bind(3, std::string_view("its action was cancelled by " + request.who));
      }));
    }
    RELAYQ_ASSIGN_OR_RETURN(std::optional<ActionRecord> after,
                            One<ActionRecord>(
                                get_action_, [&](Stmt& q) { q.Bind(1, id); }, &ActionFromRow));
    if (!after) return Status::Internal("action " + std::to_string(id) + " vanished");
    RELAYQ_RETURN_IF_ERROR(Run(insert_event_, [&](Stmt& q) {
      q.Bind(1, id)
          .Bind(2, request.now)
          .Bind(3, what)
          .Bind(4, std::string_view(request.who))
          .Bind(5, std::string_view(request.reason))
          .Bind(6, ActionStatusName(before->status))
          .Bind(7, ActionStatusName(after->status));
    }));
    out.changed = true;
    out.action = std::move(*after);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<OperatorOutcome> SqliteActionStore::RetryAction(int64_t id, const OperatorRequest& request) {
  MutexLock lock(mu_);
  return OperatorChange(
      id, request, "retry",
      [](ActionStatus st) -> std::string {
        switch (st) {
          case ActionStatus::kFailed:
          case ActionStatus::kAborted:
            return "";
          case ActionStatus::kRefused:
            return "the policy refused it and would refuse it again; change the policy instead";
          case ActionStatus::kDone:
            return "it is done; only a failed or aborted action can be retried";
          default:
            return "it has not ended yet; only a failed or aborted action can be retried";
        }
      },
      operator_retry_);
}

Result<OperatorOutcome> SqliteActionStore::CancelAction(int64_t id,
                                                        const OperatorRequest& request) {
  MutexLock lock(mu_);
  return OperatorChange(
      id, request, "cancel",
      [](ActionStatus st) -> std::string {
        switch (st) {
          case ActionStatus::kScheduled:
          case ActionStatus::kPending:
            return "";
          case ActionStatus::kRunning:
            return "it is being carried out right now (it may be talking to GitHub); cancel it "
                   "once this try ends";
          default:
            return "it has ended; only a scheduled or pending action can be cancelled";
        }
      },
      operator_cancel_);
}

Result<std::optional<JobState>> SqliteActionStore::GetJob(int64_t job_id) {
  MutexLock lock(mu_);
  return One<JobState>(
      get_job_, [&](Stmt& q) { q.Bind(1, job_id); }, &JobFromRow);
}

Result<std::optional<RunState>> SqliteActionStore::GetRun(int64_t run_id, int64_t attempt) {
  MutexLock lock(mu_);
  return One<RunState>(
      get_run_, [&](Stmt& q) { q.Bind(1, run_id).Bind(2, attempt); }, &RunFromRow);
}

Result<std::vector<JobState>> SqliteActionStore::JobsOfRun(int64_t run_id, int64_t attempt) {
  MutexLock lock(mu_);
  jobs_of_run_.Bind(1, run_id).Bind(2, attempt);
  std::vector<JobState> out;
  for (Result<bool> row = jobs_of_run_.Step();; row = jobs_of_run_.Step()) {
    if (!row.ok()) return row.status();  // Step() reset the statement
    if (!*row) break;
    out.push_back(JobFromRow(jobs_of_run_));
  }
  jobs_of_run_.Reset();
  return out;
}

}  // namespace

Status ClaimLostStatus(const Claim& claim) {
  return Status::Conflict(std::string(kClaimLost) + "the claim on action " +
                          std::to_string(claim.action_id) +
                          " was lost (its lease ran out and another worker took it, or an "
                          "operator changed it)");
}

bool ClaimWasLost(const Status& s) {
  return s.code() == Status::Code::kConflict && s.message().starts_with(kClaimLost);
}

Result<std::unique_ptr<ActionStore>> Database::OpenActionStore() const {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(options_, Access::kReadWrite));
  RELAYQ_ASSIGN_OR_RETURN(int version, SchemaVersion(db.get()));
  if (version < 3) {
    return Status::InvalidArgument(options_.path +
                                   " is not a relayq store (run `relayq serve` once to create it)");
  }
  auto store = std::make_unique<SqliteActionStore>(std::move(db));
  RELAYQ_RETURN_IF_ERROR(store->Prepare());
  return std::unique_ptr<ActionStore>(std::move(store));
}

}  // namespace relayq::store
