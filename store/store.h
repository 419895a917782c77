// Store: relayq's durable record of deliveries, runs and jobs (SQLite).
//
// Writes go through one writer thread that commits concurrent deliveries in
// one shared transaction ("group commit"): each Ingest() call blocks, and each
// IngestAsync() completes, only once the transaction holding its delivery is
// committed to disk, so a caller that answers GitHub then never acknowledges
// what could be lost.
// A delivery is recorded and applied to the job/run lifecycle in the same
// transaction, so the two never disagree.
//
// Thread safety: Ingest, IngestAsync, CheckWritable and Close may be called
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/database.h"
#include "store/model.h"

namespace relayq::store {

// What one delivery changed, offered to the routing hook inside the
// transaction that records it.
struct LifecycleChange {
  const Delivery* delivery = nullptr;
  std::optional<JobState> job;  // the job after the merge, for a job event
  bool job_status_changed = false;
  std::optional<RunState> run;  // the run attempt after the merge, for a run event
  bool run_status_changed = false;
};

// Read access to recorded state from inside the writer's transaction, so a
// decision sees exactly what is being committed.
class TxnReader {
 public:
  virtual ~TxnReader() = default;
  virtual std::vector<JobState> JobsOfRun(int64_t run_id, int64_t attempt) = 0;
  virtual std::optional<RunState> FindRun(int64_t run_id, int64_t attempt) = 0;
  // The relayq request a run was dispatched for, once linked.
  virtual std::optional<DispatchRequest> RequestForRun(int64_t run_id) = 0;
};

// Decides routing actions as deliveries are recorded (handlers/ implements
// it with the policy). Called on the store's writer thread, inside the
// delivery's transaction: it must be quick, do no I/O, and be thread-safe
// with respect to whatever else its owner does (e.g. a policy reload).
class RoutingHook {
 public:
  virtual ~RoutingHook() = default;
  // Actions to record in the same transaction as `change`. An action whose
  // key is already recorded is skipped, which is what makes each action
  // happen at most once however often its cause is delivered (except that a
  // scheduled action still waiting takes an earlier due_at, with its job_id,
  // payload and reason, from a later one with the same key).
  virtual std::vector<NewAction> OnLifecycleChange(const LifecycleChange& change,
                                                   TxnReader& reader) = 0;
};

struct IngestResult {
  bool duplicate = false;  // the delivery id was already recorded; nothing changed
};

// Called once with the outcome of an IngestAsync(), on the store's writer
// thread (or at once on the caller's, when the store is closing). It must be
// quick and must not call back into the store.
using IngestDone = std::function<void(Result<IngestResult>)>;

// Counters for metrics and benchmarks; monotonic since Open.
struct StoreStats {
  uint64_t commits = 0;
  uint64_t deliveries_committed = 0;
  uint64_t duplicates = 0;
  uint64_t failed_commits = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Shorthand for Database::Open(options, kCreate), Migrate() and
  // OpenWriter(clock): creates and migrates the store at options.path as
  // needed and starts its writer thread. Fails with a clear Status when the
  // file cannot be opened, is not a relayq store, or is from a newer relayq.
  // `clock` stamps the body dictionaries it trains and must outlive the store.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, Clock& clock);

  // Records `delivery` and applies its job/run event, then returns once the
  // transaction is durable. Ok(duplicate) when the id was already recorded.
  // Unavailable when the disk is full, the file is locked or the store is
  // closing: then nothing of this delivery is recorded.
  virtual Result<IngestResult> Ingest(Delivery delivery) = 0;

  // Ingest() without waiting: the body is compressed on the caller's thread,
  // then `done` receives what Ingest() would have returned, after the commit.
  // Close() completes every delivery queued before it.
  virtual void IngestAsync(Delivery delivery, IngestDone done) = 0;

  // Installs the routing hook (null: none) and a callback run after a commit
  // that recorded new actions (to wake the executor). Call before serving;
  // both must outlive the store.
  virtual void SetRoutingHook(RoutingHook* hook, std::function<void()> on_new_actions) = 0;

  // Ok when a write transaction can be committed right now.
  virtual Status CheckWritable() = 0;

  virtual StoreStats Stats() const = 0;

  // Finishes the writes already queued, refuses new ones and closes the file.
  // Idempotent; also done by the destructor.
  virtual void Close() = 0;
};

}  // namespace relayq::store
