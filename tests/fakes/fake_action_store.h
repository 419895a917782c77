// FakeActionStore: an in-memory store::ActionStore for executor unit tests
// that need the action store's contract (claims, leases, fenced writes,
// due times) but not SQLite's semantics.
//
// It also records deliveries the way the real store does, minus SQL:
// Ingest() merges a delivery's job/run event with the pure lifecycle rules
// (store/lifecycle.h), offers the change to a RoutingHook (the Router) and
// records the actions it returns with the real store's at-most-once rule
// (a scheduled action's due time only moves earlier). Knobs: FailNextWrites
// makes the next N writes fail with Unavailable, changing nothing; Edit*
// rewrites a record as an operator or a crash would have left it.
//
// Thread safety: every method takes one mutex (the executor's workers may
// share it).
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "store/action_store.h"
#include "store/lifecycle.h"
#include "store/store.h"

namespace relayq::testing {

class FakeActionStore final : public store::ActionStore {
 public:
  // --- Test set-up -------------------------------------------------------

  // Records `d` (received at d.received_at) and the actions `hook` (may be
  // null) decides for it, as Store::Ingest does inside its transaction.
  void Ingest(const store::Delivery& d, store::RoutingHook* hook) {
    MutexLock lock(mu_);
    store::LifecycleChange change;
    change.delivery = &d;
    if (d.job) {
      auto it = jobs_.find(d.job->job_id);
      std::optional<store::JobState> current;
      if (it != jobs_.end()) current = it->second;
      store::JobMerge m = store::MergeJobEvent(current, *d.job, d.received_at);
      if (m.changed) jobs_[m.state.id] = m.state;
      change.job = m.state;
      change.job_status_changed = m.status_changed;
    }
    if (d.run) {
      auto key = std::pair(d.run->run_id, d.run->attempt);
      auto it = runs_.find(key);
      std::optional<store::RunState> current;
      if (it != runs_.end()) current = it->second;
      store::RunMerge m = store::MergeRunEvent(current, *d.run);
      if (m.changed) runs_[key] = m.state;
      change.run = m.state;
      change.run_status_changed = m.status_changed;
    }
    if (hook == nullptr || (!change.job && !change.run)) return;
    Reader reader(*this);
    std::vector<store::NewAction> actions = hook->OnLifecycleChange(change, reader);
    for (const store::NewAction& a : actions) RecordLocked(a, d.received_at);
  }

  // The next `n` writes (only those of method `method`, e.g.
  // "FinishDispatched", when it is not empty) fail with Unavailable and
  // change nothing.
  void FailNextWrites(int n, std::string method = "") {
    MutexLock lock(mu_);
    fail_writes_ = n;
    fail_method_ = std::move(method);
  }

  // Rewrites the action with `key` / request `id` in place (no-op when absent).
  void EditAction(const std::string& key, const std::function<void(store::ActionRecord&)>& edit) {
    MutexLock lock(mu_);
    for (auto& [id, row] : actions_) {
      if (row.record.key == key) edit(row.record);
    }
  }
  void EditRequest(int64_t id, const std::function<void(store::DispatchRequest&)>& edit) {
    MutexLock lock(mu_);
    if (auto it = requests_.find(id); it != requests_.end()) edit(it->second);
  }

  // --- store::ActionStore ------------------------------------------------

  Result<store::DispatchRequest> CreateDispatch(const store::DispatchRequest& request,
                                                const std::string& owner, int64_t now,
                                                int64_t lease_until, store::Claim& claim) override {
    MutexLock lock(mu_);
    if (Status s = Write("CreateDispatch"); !s.ok()) return s;
    if (request.idempotency_key) {
      for (const auto& [id, r] : requests_) {
        if (r.idempotency_key == request.idempotency_key) {
          claim = store::Claim{};
          return r;
        }
      }
    }
    store::DispatchRequest out = InsertRequest(request, now);
    Row row;
    row.record.id = next_action_id_++;
    row.record.kind = store::ActionKind::kDispatch;
    row.record.key = "dispatch:" + std::to_string(out.id);
    row.record.repository = request.repository;
    row.record.status = store::ActionStatus::kRunning;
    row.record.next_attempt_at = lease_until;
    row.record.reason = "submitted with relayq dispatch";
    row.record.payload = "{\"request_id\":" + std::to_string(out.id) + "}";
    row.record.created_at = row.record.updated_at = now;
    row.claimed_by = NewToken(owner);
    claim = store::Claim{row.record.id, *row.claimed_by};
    actions_[row.record.id] = row;
    return out;
  }

  Result<store::DispatchRequest> CreateRequestForAction(
      const store::DispatchRequest& request, const store::Claim& claim,
      const std::function<std::string(int64_t request_id)>& progress, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("CreateRequestForAction"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    store::DispatchRequest out = InsertRequest(request, now);
    row->record.result = progress(out.id);
    row->record.updated_at = now;
    return out;
  }

  Status FinishDispatched(const store::Claim& claim, int64_t request_id,
                          std::optional<int64_t> run_id, const std::string& result,
                          int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("FinishDispatched"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    Final(*row, store::ActionStatus::kDone, result, std::nullopt, now);
    if (auto it = requests_.find(request_id); it != requests_.end()) {
      it->second.status = store::RequestStatus::kDispatched;
      if (!it->second.run_id) it->second.run_id = run_id;
      it->second.last_error.reset();
      it->second.updated_at = now;
    }
    return Status::Ok();
  }

  Result<std::optional<store::DispatchRequest>> GetRequest(int64_t id) override {
    MutexLock lock(mu_);
    auto it = requests_.find(id);
    if (it == requests_.end()) return std::optional<store::DispatchRequest>();
    return std::optional(it->second);
  }

  Result<std::optional<store::DispatchRequest>> RequestForRun(int64_t run_id) override {
    MutexLock lock(mu_);
    return RequestForRunLocked(run_id);
  }

  Status MarkRequestFailed(int64_t id, const std::string& error, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("MarkRequestFailed"); !s.ok()) return s;
    if (auto it = requests_.find(id); it != requests_.end()) {
      it->second.status = store::RequestStatus::kFailed;
      it->second.last_error = error;
      it->second.updated_at = now;
    }
    return Status::Ok();
  }

  Status SetRequestRef(int64_t id, const std::string& ref, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("SetRequestRef"); !s.ok()) return s;
    if (auto it = requests_.find(id); it != requests_.end() && it->second.ref.empty()) {
      it->second.ref = ref;
      it->second.updated_at = now;
    }
    return Status::Ok();
  }

  Result<std::vector<store::ClaimedAction>> ClaimDue(int64_t now, const std::string& owner,
                                                     int64_t lease_until, size_t max) override {
    return ClaimDueOf(std::nullopt, now, owner, lease_until, max);
  }
  Result<std::vector<store::ClaimedAction>> ClaimDueOfKind(store::ActionKind kind, int64_t now,
                                                           const std::string& owner,
                                                           int64_t lease_until,
                                                           size_t max) override {
    return ClaimDueOf(kind, now, owner, lease_until, max);
  }
  Result<std::optional<int64_t>> NextDueTimeOfKind(store::ActionKind kind) override {
    return NextDueOf(kind);
  }
  // As the real store: pending (due now) unless due_at says later; a key
  // already recorded changes nothing.
  Result<bool> RecordAction(const store::NewAction& a, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("RecordAction"); !s.ok()) return s;
    for (const auto& [id, row] : actions_) {
      if (row.record.key == a.key) return false;
    }
    store::NewAction added = a;
    added.status = a.due_at ? store::ActionStatus::kScheduled : store::ActionStatus::kPending;
    added.due_at = a.due_at.value_or(now);
    RecordLocked(added, now);
    for (auto& [id, row] : actions_) {
      if (row.record.key == a.key) row.record.due_at = a.due_at;
    }
    return true;
  }
  Result<std::vector<store::ClaimedAction>> ClaimDueOf(std::optional<store::ActionKind> kind,
                                                       int64_t now, const std::string& owner,
                                                       int64_t lease_until, size_t max) {
    MutexLock lock(mu_);
    if (Status s = Write("ClaimDue"); !s.ok()) return s;
    std::vector<Row*> due;
    for (auto& [id, row] : actions_) {
      if (kind && row.record.kind != *kind) continue;
      if (Unfinished(row.record) && row.record.next_attempt_at &&
          *row.record.next_attempt_at <= now) {
        due.push_back(&row);
      }
    }
    std::sort(due.begin(), due.end(), [](const Row* a, const Row* b) {
      return std::pair(*a->record.next_attempt_at, a->record.id) <
             std::pair(*b->record.next_attempt_at, b->record.id);
    });
    if (due.size() > max) due.resize(max);
    std::vector<store::ClaimedAction> out;
    for (Row* row : due) {
      row->claimed_by = NewToken(owner);
      row->record.status = store::ActionStatus::kRunning;
      row->record.next_attempt_at = lease_until;
      row->record.updated_at = now;
      out.push_back({row->record, store::Claim{row->record.id, *row->claimed_by}});
    }
    return out;
  }

  Status Renew(const store::Claim& claim, int64_t lease_until, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("Renew"); !s.ok()) return s;
    return RenewLocked(claim, lease_until, now) ? Status::Ok() : store::ClaimLostStatus(claim);
  }

  Result<int> RenewAll(const std::vector<store::Claim>& claims, int64_t lease_until,
                       int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("RenewAll"); !s.ok()) return s;
    int renewed = 0;
    for (const store::Claim& c : claims) renewed += RenewLocked(c, lease_until, now) ? 1 : 0;
    return renewed;
  }

  Status ReleaseClaim(const store::Claim& claim, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("ReleaseClaim"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    Release(*row, now);
    return Status::Ok();
  }

  Status ReleaseClaims(const std::string& owner_prefix, int64_t now) override {
    return ReleaseWhere(owner_prefix, now, /*expired_only=*/true);
  }

  Status ReleaseClaimsOfDeadOwners(const std::string& owner_prefix, int64_t now) override {
    return ReleaseWhere(owner_prefix, now, /*expired_only=*/false);
  }

  Result<std::optional<int64_t>> NextDueTime() override { return NextDueOf(std::nullopt); }
  Result<std::optional<int64_t>> NextDueOf(std::optional<store::ActionKind> kind) {
    MutexLock lock(mu_);
    std::optional<int64_t> next;
    for (const auto& [id, row] : actions_) {
      if (!Unfinished(row.record) || !row.record.next_attempt_at) continue;
      if (kind && row.record.kind != *kind) continue;
      next = next ? std::min(*next, *row.record.next_attempt_at) : *row.record.next_attempt_at;
    }
    return next;
  }

  Status Finish(const store::Claim& claim, store::ActionStatus status, const std::string& result,
                const std::optional<std::string>& error, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("Finish"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    Final(*row, status, result, error, now);
    return Status::Ok();
  }

  Status Retry(const store::Claim& claim, int64_t next_attempt_at, const std::string& error,
               const std::string& result, int64_t now, bool count_attempt) override {
    MutexLock lock(mu_);
    if (Status s = Write("Retry"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    row->record.status = store::ActionStatus::kPending;
    row->record.attempts += count_attempt ? 1 : 0;
    row->record.next_attempt_at = next_attempt_at;
    row->record.last_error = error;
    row->record.result = result;
    row->record.updated_at = now;
    row->claimed_by.reset();
    return Status::Ok();
  }

  Status Reschedule(const store::Claim& claim, int64_t due_at, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("Reschedule"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    row->record.status = store::ActionStatus::kScheduled;
    row->record.due_at = row->record.next_attempt_at = due_at;
    row->record.updated_at = now;
    row->claimed_by.reset();
    return Status::Ok();
  }

  Status SaveProgress(const store::Claim& claim, const std::string& result, int64_t now) override {
    MutexLock lock(mu_);
    if (Status s = Write("SaveProgress"); !s.ok()) return s;
    Row* row = Held(claim);
    if (row == nullptr) return store::ClaimLostStatus(claim);
    row->record.result = result;
    row->record.updated_at = now;
    return Status::Ok();
  }

  Result<std::optional<store::ActionRecord>> GetAction(int64_t id) override {
    MutexLock lock(mu_);
    auto it = actions_.find(id);
    if (it == actions_.end()) return std::optional<store::ActionRecord>();
    return std::optional(it->second.record);
  }

  Result<std::optional<store::ActionRecord>> GetActionByKey(const std::string& key) override {
    MutexLock lock(mu_);
    for (const auto& [id, row] : actions_) {
      if (row.record.key == key) return std::optional(row.record);
    }
    return std::optional<store::ActionRecord>();
  }

  Result<std::optional<store::JobState>> GetJob(int64_t job_id) override {
    MutexLock lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::optional<store::JobState>();
    return std::optional(it->second);
  }

  Result<std::optional<store::RunState>> GetRun(int64_t run_id, int64_t attempt) override {
    MutexLock lock(mu_);
    auto it = runs_.find(std::pair(run_id, attempt));
    if (it == runs_.end()) return std::optional<store::RunState>();
    return std::optional(it->second);
  }

  Result<std::vector<store::JobState>> JobsOfRun(int64_t run_id, int64_t attempt) override {
    MutexLock lock(mu_);
    return JobsOfRunLocked(run_id, attempt);
  }

 private:
  struct Row {
    store::ActionRecord record;
    std::optional<std::string> claimed_by;
  };

  // The store as the routing hook reads it during Ingest (mu_ is held).
  class Reader final : public store::TxnReader {
   public:
    explicit Reader(FakeActionStore& s) : s_(s) {}
    std::vector<store::JobState> JobsOfRun(int64_t run_id, int64_t attempt) override
        REQUIRES(s_.mu_) {
      return s_.JobsOfRunLocked(run_id, attempt);
    }
    std::optional<store::RunState> FindRun(int64_t run_id, int64_t attempt) override
        REQUIRES(s_.mu_) {
      auto it = s_.runs_.find(std::pair(run_id, attempt));
      if (it == s_.runs_.end()) return std::nullopt;
      return it->second;
    }
    std::optional<store::DispatchRequest> RequestForRun(int64_t run_id) override REQUIRES(s_.mu_) {
      return s_.RequestForRunLocked(run_id);
    }

   private:
    FakeActionStore& s_;
  };

  static bool Unfinished(const store::ActionRecord& a) {
    return a.status == store::ActionStatus::kScheduled ||
           a.status == store::ActionStatus::kPending || a.status == store::ActionStatus::kRunning;
  }

  // Counts a write of `method` against FailNextWrites.
  Status Write(std::string_view method) REQUIRES(mu_) {
    if (fail_writes_ == 0 || (!fail_method_.empty() && fail_method_ != method)) {
      return Status::Ok();
    }
    --fail_writes_;
    return Status::Unavailable("fake action store: write failed (FailNextWrites)");
  }

  std::string NewToken(const std::string& owner) REQUIRES(mu_) {
    return owner + "#" + std::to_string(++claims_);
  }

  // The row `claim` holds, or null when the claim was lost.
  Row* Held(const store::Claim& claim) REQUIRES(mu_) {
    auto it = actions_.find(claim.action_id);
    if (it == actions_.end() || it->second.record.status != store::ActionStatus::kRunning ||
        it->second.claimed_by != claim.token || claim.token.empty()) {
      return nullptr;
    }
    return &it->second;
  }

  bool RenewLocked(const store::Claim& claim, int64_t lease_until, int64_t now) REQUIRES(mu_) {
    Row* row = Held(claim);
    if (row == nullptr) return false;
    row->record.next_attempt_at = std::max(row->record.next_attempt_at.value_or(0), lease_until);
    row->record.updated_at = now;
    return true;
  }

  static void Final(Row& row, store::ActionStatus status, const std::string& result,
                    const std::optional<std::string>& error, int64_t now) {
    row.record.status = status;
    row.record.result = result;
    if (error) row.record.last_error = error;
    row.record.next_attempt_at.reset();
    row.record.updated_at = now;
    row.record.done_at = now;
    row.claimed_by.reset();
  }

  static void Release(Row& row, int64_t now) {
    row.record.status = store::ActionStatus::kPending;
    row.record.next_attempt_at = now;
    row.record.updated_at = now;
    row.claimed_by.reset();
  }

  Status ReleaseWhere(const std::string& owner_prefix, int64_t now, bool expired_only) {
    MutexLock lock(mu_);
    if (Status s = Write(expired_only ? "ReleaseClaims" : "ReleaseClaimsOfDeadOwners"); !s.ok())
      return s;
    for (auto& [id, row] : actions_) {
      if (row.record.status != store::ActionStatus::kRunning || !row.claimed_by ||
          !row.claimed_by->starts_with(owner_prefix)) {
        continue;
      }
      if (expired_only && row.record.next_attempt_at.value_or(0) > now) continue;
      Release(row, now);
    }
    return Status::Ok();
  }

  store::DispatchRequest InsertRequest(const store::DispatchRequest& request, int64_t now)
      REQUIRES(mu_) {
    store::DispatchRequest r = request;
    r.id = next_request_id_++;
    r.status = store::RequestStatus::kPending;
    r.run_id.reset();
    r.last_error.reset();
    r.created_at = r.updated_at = now;
    requests_[r.id] = r;
    return r;
  }

  std::optional<store::DispatchRequest> RequestForRunLocked(int64_t run_id) REQUIRES(mu_) {
    for (const auto& [id, r] : requests_) {
      if (r.run_id == run_id) return r;
    }
    return std::nullopt;
  }

  std::vector<store::JobState> JobsOfRunLocked(int64_t run_id, int64_t attempt) REQUIRES(mu_) {
    std::vector<store::JobState> out;
    for (const auto& [id, job] : jobs_) {
      if (job.run_id == run_id && job.run_attempt == attempt) out.push_back(job);
    }
    return out;
  }

  // The real store's rule: a key is recorded once, except that a scheduled
  // action takes an earlier due time (with its job, payload and reason).
  void RecordLocked(const store::NewAction& a, int64_t now) REQUIRES(mu_) {
    for (auto& [id, row] : actions_) {
      if (row.record.key != a.key) continue;
      store::ActionRecord& r = row.record;
      if (r.status == store::ActionStatus::kScheduled &&
          a.status == store::ActionStatus::kScheduled && a.due_at && r.due_at &&
          *a.due_at < *r.due_at) {
        r.due_at = r.next_attempt_at = a.due_at;
        r.job_id = a.job_id;
        r.payload = a.payload;
        r.reason = a.reason;
        r.updated_at = now;
      }
      return;
    }
    const bool final_state = store::IsFinal(a.status);
    Row row;
    row.record.id = next_action_id_++;
    row.record.kind = a.kind;
    row.record.key = a.key;
    row.record.repository = a.repository;
    row.record.status = a.status;
    row.record.due_at = row.record.next_attempt_at = a.due_at;
    row.record.last_error = a.last_error;
    row.record.reason = a.reason;
    row.record.payload = a.payload;
    row.record.job_id = a.job_id;
    row.record.run_id = a.run_id;
    row.record.run_attempt = a.run_attempt;
    row.record.created_at = row.record.updated_at = now;
    if (final_state) row.record.done_at = now;
    actions_[row.record.id] = row;
  }

  Mutex mu_;
  std::map<int64_t, Row> actions_ GUARDED_BY(mu_);
  std::map<int64_t, store::DispatchRequest> requests_ GUARDED_BY(mu_);
  std::map<int64_t, store::JobState> jobs_ GUARDED_BY(mu_);
  std::map<std::pair<int64_t, int64_t>, store::RunState> runs_ GUARDED_BY(mu_);
  int64_t next_action_id_ GUARDED_BY(mu_) = 1;
  int64_t next_request_id_ GUARDED_BY(mu_) = 1;
  uint64_t claims_ GUARDED_BY(mu_) = 0;
  int fail_writes_ GUARDED_BY(mu_) = 0;
  std::string fail_method_ GUARDED_BY(mu_);  // "": any write
};

}  // namespace relayq::testing
