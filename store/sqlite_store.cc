// SqliteStore: the Store implementation (see store.h for the contract).
//
// One writer thread owns the write connection and every prepared statement.
// Callers of IngestAsync() compress the body on their own thread and queue a
// Pending entry (Ingest() does the same and waits); the writer takes
// everything queued (up to max_batch), applies each entry inside its own
// SAVEPOINT of one transaction (so a bad entry cannot spoil its neighbours),
// commits once, and then calls every entry's completion. A failed commit fails every entry of the
// batch: none of them was recorded, so none may be acknowledged.
#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "store/body_codec.h"
#include "store/connection.h"
#include "store/lifecycle.h"
#include "store/migrations.h"
#include "store/rows.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace relayq::store {
namespace {

struct Pending {
  Delivery delivery;  // its body moved out into `body`
  EncodedBody body;
  int64_t body_size = 0;  // bytes before compression
  bool with_dictionary = false;
  IngestDone done;
};

// The relayq id in a run's display title ("... [relayq:42]"), if any.
std::optional<int64_t> RelayqIdInTitle(const std::optional<std::string>& title) {
  if (!title) return std::nullopt;
  static constexpr std::string_view kTag = "[relayq:";
  size_t at = title->rfind(kTag);
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + kTag.size(), end = title->find(']', start);
  if (end == std::string::npos || end == start || end - start > 18) return std::nullopt;
  int64_t id = 0;
  for (size_t i = start; i < end; ++i) {
    char c = (*title)[i];
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(StoreOptions options, Db db, Clock& clock)
      : options_(std::move(options)), db_(std::move(db)), clock_(clock) {}

  ~SqliteStore() override { Close(); }

  Status Prepare();
  Result<Db> OpenBeside(int busy_timeout_ms) const;
  Status LoadDictionaries();
  void Start();

  Result<IngestResult> Ingest(Delivery delivery) override;
  void IngestAsync(Delivery delivery, IngestDone done) override;
  Status CheckWritable() override;
  StoreStats Stats() const override {
    MutexLock lock(mu_);
    return stats_;
  }
  void Close() override;
  void SetRoutingHook(RoutingHook* hook, std::function<void()> on_new_actions) override {
    hook_ = hook;
    on_new_actions_ = std::move(on_new_actions);
  }

 private:
  void WriterLoop();
  void CheckpointLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int wal_pages);
  void CommitBatch(std::deque<std::unique_ptr<Pending>>& batch);
  Result<IngestResult> Apply(Pending& p);
  Status ApplyJob(const Delivery& d, const JobEvent& e, LifecycleChange& change);
  Status ApplyRun(const RunEvent& e, LifecycleChange& change);
  Status LinkRunToRequest(const RunState& run);
  Result<std::optional<RunState>> LoadRun(int64_t run_id, int64_t attempt);
  Status RecordActions(const std::vector<NewAction>& actions, int64_t now, bool& any_new);
  std::shared_ptr<const BodyDictionary> DictionaryFor(const std::string& event) const;
  void CountForDictionary(const std::deque<std::unique_ptr<Pending>>& batch,
                          const std::vector<Result<IngestResult>>& results);
  void TrainDictionaryFor(const std::string& event);

  // TxnReader, used by the routing hook on the writer thread.
  class Reader;
  friend class Reader;

  const StoreOptions options_;
  Db db_;         // used only by the writer thread after Start() (and its WAL hook)
  Clock& clock_;  // stamps body dictionaries

  // Prepared once, used only by the writer thread.
  Stmt insert_delivery_, select_job_, upsert_job_, insert_label_, insert_job_event_, select_run_,
      upsert_run_, savepoint_, release_, rollback_to_, begin_, commit_, rollback_,
      select_jobs_of_run_, select_request_for_run_, link_request_, insert_action_;

  RoutingHook* hook_ = nullptr;           // set before serving; used by the writer only
  std::function<void()> on_new_actions_;  // ditto
  bool batch_has_new_actions_ = false;    // writer thread only

  mutable Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Pending>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  StoreStats stats_ GUARDED_BY(mu_);
  std::thread writer_;

  // Checkpoints (copying the WAL back into the database file, with an
  // fsync) run on their own thread and connection, so the writer never
  // stalls for one: at a steady 1,000 deliveries/s an in-line checkpoint
  // every second or so was what the slowest 1% of answers waited for.
  Mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stop_ GUARDED_BY(checkpoint_mu_) = false;
  std::thread checkpointer_;  // started (and so assigned) by the writer thread only

  // Body dictionaries: the one each event's new bodies use (guarded by
  // dict_mu_), and, on the writer thread only, how many bodies of each event
  // went without one and which events have had a training started.
  mutable Mutex dict_mu_;
  std::map<std::string, std::shared_ptr<const BodyDictionary>> dictionary_by_event_
      GUARDED_BY(dict_mu_);
  std::map<std::string, size_t> undictionaried_;
  std::set<std::string> training_started_;
  std::vector<std::thread> trainers_;  // writer thread starts them; Close joins
  std::once_flag closed_;
};

Status SqliteStore::Prepare() {
  sqlite3* db = db_.get();
  auto prep = [db](Stmt& out, const std::string& sql) -> Status {
    auto s = Stmt::Prepare(db, sql);
    if (!s.ok()) return s.status().WithContext(sql);
    out = std::move(*s);
    return Status::Ok();
  };
  RELAYQ_RETURN_IF_ERROR(prep(
      insert_delivery_,
      "INSERT INTO deliveries (id, event, action, hook_id, repository, received_at, outcome, "
      "reason, content_type, body_codec, body_size, body) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(id) DO NOTHING"));
  RELAYQ_RETURN_IF_ERROR(
      prep(select_job_, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1"));
  RELAYQ_RETURN_IF_ERROR(
      prep(upsert_job_,
           "INSERT INTO jobs (id, run_id, run_attempt, repository, workflow_name, name, labels, "
           "status, conclusion, runner_name, runner_group, queued_at, started_at, completed_at, "
           "wait_seconds, duration_seconds, updated_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
           "ON CONFLICT(id) DO UPDATE SET run_id = excluded.run_id, run_attempt = "
           "excluded.run_attempt, repository = excluded.repository, workflow_name = "
           "excluded.workflow_name, name = excluded.name, labels = excluded.labels, status = "
           "excluded.status, conclusion = excluded.conclusion, runner_name = excluded.runner_name, "
           "runner_group = excluded.runner_group, queued_at = excluded.queued_at, started_at = "
           "excluded.started_at, completed_at = excluded.completed_at, wait_seconds = "
           "excluded.wait_seconds, duration_seconds = excluded.duration_seconds, updated_at = "
           "excluded.updated_at"));
  RELAYQ_RETURN_IF_ERROR(
      prep(insert_label_,
           "INSERT INTO job_labels (label, job_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
  RELAYQ_RETURN_IF_ERROR(
      prep(insert_job_event_,
           "INSERT INTO job_events (job_id, delivery_id, action, status, conclusion, runner_name, "
           "event_at, received_at, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  RELAYQ_RETURN_IF_ERROR(prep(select_run_, std::string("SELECT ") + kRunColumns +
                                               " FROM runs WHERE id = ?1 AND attempt = ?2"));
  RELAYQ_RETURN_IF_ERROR(prep(
      upsert_run_,
      "INSERT INTO runs (id, attempt, repository, workflow_path, workflow_name, display_title, "
      "event, status, conclusion, html_url, head_branch, head_sha, created_at, updated_at, "
      "run_started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
      "ON CONFLICT(id, attempt) DO UPDATE SET repository = excluded.repository, workflow_path = "
      "excluded.workflow_path, workflow_name = excluded.workflow_name, display_title = "
      "excluded.display_title, event = excluded.event, status = excluded.status, conclusion = "
      "excluded.conclusion, html_url = excluded.html_url, head_branch = excluded.head_branch, "
      "head_sha = excluded.head_sha, created_at = excluded.created_at, updated_at = "
      "excluded.updated_at, run_started_at = excluded.run_started_at"));
  RELAYQ_RETURN_IF_ERROR(prep(select_jobs_of_run_,
                              std::string("SELECT ") + kJobColumns +
                                  " FROM jobs WHERE run_id = ?1 AND run_attempt = ?2 ORDER BY id"));
  RELAYQ_RETURN_IF_ERROR(prep(select_request_for_run_,
                              std::string("SELECT ") + kRequestColumns +
                                  " FROM dispatch_requests WHERE run_id = ?1 ORDER BY id LIMIT 1"));
  RELAYQ_RETURN_IF_ERROR(
      prep(link_request_,
           "UPDATE dispatch_requests SET run_id = ?1, updated_at = ?2 "
           "WHERE id = ?3 AND run_id IS NULL AND lower(repository) = lower(?4)"));
  RELAYQ_RETURN_IF_ERROR(prep(
      insert_action_,
      "INSERT INTO actions (kind, key, repository, status, due_at, next_attempt_at, attempts, "
      "last_error, reason, payload, job_id, run_id, run_attempt, created_at, updated_at, done_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13) "
      // A key is recorded once; the one exception is a run's fallback not
      // yet due, which a sibling job with an earlier deadline brings forward
      // (and makes the job the executor judges), see handlers/router.h.
      "ON CONFLICT(key) DO UPDATE SET due_at = excluded.due_at, next_attempt_at = "
      "excluded.due_at, job_id = excluded.job_id, payload = excluded.payload, reason = "
      "excluded.reason, updated_at = excluded.updated_at WHERE actions.status = 'scheduled' AND "
      "excluded.status = 'scheduled' AND excluded.due_at < actions.due_at"));
  RELAYQ_RETURN_IF_ERROR(prep(savepoint_, "SAVEPOINT item"));
  RELAYQ_RETURN_IF_ERROR(prep(release_, "RELEASE item"));
  RELAYQ_RETURN_IF_ERROR(prep(rollback_to_, "ROLLBACK TO item"));
  RELAYQ_RETURN_IF_ERROR(prep(begin_, "BEGIN IMMEDIATE"));
  RELAYQ_RETURN_IF_ERROR(prep(commit_, "COMMIT"));
  RELAYQ_RETURN_IF_ERROR(prep(rollback_, "ROLLBACK"));
  return Status::Ok();
}

Result<IngestResult> SqliteStore::Ingest(Delivery delivery) {
  std::promise<Result<IngestResult>> promise;
  std::future<Result<IngestResult>> done = promise.get_future();
  IngestAsync(std::move(delivery),
              [&promise](Result<IngestResult> r) { promise.set_value(std::move(r)); });
  return done.get();
}

void SqliteStore::IngestAsync(Delivery delivery, IngestDone done) {
  auto p = std::make_unique<Pending>();
  std::shared_ptr<const BodyDictionary> dictionary = DictionaryFor(delivery.event);
  p->body = EncodeBody(delivery.body, dictionary.get());
  p->with_dictionary = dictionary != nullptr && p->body.codec == kCodecZstd;
  p->body_size = static_cast<int64_t>(delivery.body.size());
  // The compressed copy is what is kept; free the raw bytes before waiting.
  std::string().swap(delivery.body);
  p->delivery = std::move(delivery);
  p->done = std::move(done);
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(p));
      p = nullptr;
    }
  }
  if (p) return p->done(Status::Unavailable("the store is closing"));
  cv_.notify_one();
}

// WAL size, in pages, at which the checkpointer is woken; and the size at
// which the writer checkpoints itself because the checkpointer has fallen
// behind (a WAL that never stops growing slows every reader). Under a
// sustained load the WAL only restarts from the top when a checkpoint has
// caught up, so the -wal file settles at tens of MB (about 32 MB at 8,000
// deliveries/s here) rather than the ~4 MB of SQLite's in-line default.
constexpr int kCheckpointPages = 256;
constexpr int kWriterCheckpointPages = 16384;

void SqliteStore::Start() {
  // Replaces SQLite's automatic checkpoint on the writer's connection. The
  // checkpointer itself starts with the first checkpoint it is needed for,
  // so an idle relayq holds no thread or connection for it.
  sqlite3_wal_hook(db_.get(), &SqliteStore::OnWalCommit, this);
  writer_ = std::thread([this] { WriterLoop(); });
}

// Called by SQLite on the writer thread after each commit.
int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char* name, int wal_pages) {
  auto* store = static_cast<SqliteStore*>(self);
  if (wal_pages >= kWriterCheckpointPages) {
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= kCheckpointPages) {
    if (!store->checkpointer_.joinable()) {
      store->checkpointer_ = std::thread([store] { store->CheckpointLoop(); });
    }
    MutexLock lock(store->checkpoint_mu_);
    store->checkpoint_wanted_ = true;
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  auto db = OpenBeside(options_.busy_timeout_ms);
  if (!db.ok()) return;  // the writer's own fallback keeps the WAL bounded
  MutexLock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock.native(), [this]() REQUIRES(checkpoint_mu_) {
      return checkpoint_wanted_ || checkpoint_stop_;
    });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.Unlock();
    // PASSIVE: copies what is committed without blocking the writer; the
    // writer restarts the WAL from the top once all of it has been copied.
    (void)sqlite3_wal_checkpoint_v2(db->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                    nullptr);
    lock.Lock();
  }
}

void SqliteStore::WriterLoop() {
  std::deque<std::unique_ptr<Pending>> batch;
  for (;;) {
    {
      MutexLock lock(mu_);
      cv_.wait(lock.native(), [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void SqliteStore::CommitBatch(std::deque<std::unique_ptr<Pending>>& batch) {
  Status begun = begin_.Run();
  if (!begun.ok()) {
    {
      MutexLock lock(mu_);
      ++stats_.failed_commits;
    }
    for (auto& p : batch) p->done(begun.WithContext("recording delivery"));
    return;
  }
  std::vector<Result<IngestResult>> results;
  results.reserve(batch.size());
  for (auto& p : batch) {
    Status sp = savepoint_.Run();
    if (!sp.ok()) {
      results.emplace_back(sp);
      continue;
    }
    Result<IngestResult> r = Apply(*p);
    if (!r.ok()) (void)rollback_to_.Run();
    (void)release_.Run();
    results.push_back(std::move(r));
  }
  Status committed = commit_.Run();
  if (!committed.ok()) (void)rollback_.Run();

  // Stats first, completions second: a caller that returns from Ingest() sees
  // its own delivery counted.
  {
    uint64_t ok_count = 0, dup_count = 0;
    for (const auto& r : results) {
      if (r.ok()) {
        ++ok_count;
        if (r->duplicate) ++dup_count;
      }
    }
    MutexLock lock(mu_);
    if (committed.ok()) {
      ++stats_.commits;
      stats_.deliveries_committed += ok_count - dup_count;
      stats_.duplicates += dup_count;
    } else {
      ++stats_.failed_commits;
    }
  }
  if (committed.ok()) CountForDictionary(batch, results);
  if (committed.ok() && batch_has_new_actions_ && on_new_actions_) on_new_actions_();
  batch_has_new_actions_ = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!committed.ok()) {
      batch[i]->done(committed.WithContext("committing deliveries"));
    } else {
      batch[i]->done(std::move(results[i]));
    }
  }
}

class SqliteStore::Reader final : public TxnReader {
 public:
  explicit Reader(SqliteStore& store) : s_(store) {}

  std::vector<JobState> JobsOfRun(int64_t run_id, int64_t attempt) override {
    std::vector<JobState> out;
    s_.select_jobs_of_run_.Bind(1, run_id).Bind(2, attempt);
    for (Result<bool> row = s_.select_jobs_of_run_.Step(); row.ok() && *row;
         row = s_.select_jobs_of_run_.Step()) {
      out.push_back(JobFromRow(s_.select_jobs_of_run_));
    }
    s_.select_jobs_of_run_.Reset();
    return out;
  }

  std::optional<RunState> FindRun(int64_t run_id, int64_t attempt) override {
    auto r = s_.LoadRun(run_id, attempt);
    return r.ok() ? *r : std::nullopt;
  }

  std::optional<DispatchRequest> RequestForRun(int64_t run_id) override {
    std::optional<DispatchRequest> out;
    s_.select_request_for_run_.Bind(1, run_id);
    Result<bool> row = s_.select_request_for_run_.Step();
    if (row.ok() && *row) out = RequestFromRow(s_.select_request_for_run_);
    s_.select_request_for_run_.Reset();
    return out;
  }

 private:
  SqliteStore& s_;
};

Result<IngestResult> SqliteStore::Apply(Pending& p) {
  const Delivery& d = p.delivery;
  insert_delivery_.Bind(1, std::string_view(d.id))
      .Bind(2, std::string_view(d.event))
      .Bind(3, std::string_view(d.action))
      .Bind(4, d.hook_id)
      .Bind(5, std::string_view(d.repository))
      .Bind(6, d.received_at)
      .Bind(7, OutcomeName(d.outcome))
      .Bind(8, std::string_view(d.reason))
      .Bind(9, std::string_view(d.content_type))
      .Bind(10, std::string_view(p.body.codec))
      .Bind(11, p.body_size)
      .BindBlob(12, p.body.bytes);
  RELAYQ_RETURN_IF_ERROR(insert_delivery_.Run());
  if (sqlite3_changes(db_.get()) == 0) return IngestResult{.duplicate = true};
  if (d.outcome == Outcome::kAccepted) {
    LifecycleChange change;
    change.delivery = &d;
    if (d.job) RELAYQ_RETURN_IF_ERROR(ApplyJob(d, *d.job, change));
    if (d.run) RELAYQ_RETURN_IF_ERROR(ApplyRun(*d.run, change));
    if (hook_ != nullptr && (change.job || change.run)) {
      Reader reader(*this);
      std::vector<NewAction> actions = hook_->OnLifecycleChange(change, reader);
      bool any_new = false;
      RELAYQ_RETURN_IF_ERROR(RecordActions(actions, d.received_at, any_new));
      if (any_new) batch_has_new_actions_ = true;
    }
  }
  return IngestResult{};
}

Status SqliteStore::ApplyJob(const Delivery& d, const JobEvent& e, LifecycleChange& change) {
  std::optional<JobState> current;
  select_job_.Bind(1, e.job_id);
  Result<bool> row = select_job_.Step();
  if (!row.ok()) return row.status();
  if (*row) current = JobFromRow(select_job_);
  select_job_.Reset();

  JobMerge m = MergeJobEvent(current, e, d.received_at);
  change.job = m.state;
  change.job_status_changed = m.status_changed;
  if (m.changed) {
    const JobState& s = m.state;
    upsert_job_.Bind(1, s.id)
        .Bind(2, s.run_id)
        .Bind(3, s.run_attempt)
        .Bind(4, std::string_view(s.repository))
        .Bind(5, std::string_view(s.workflow_name))
        .Bind(6, std::string_view(s.name))
        .Bind(7, std::string_view(LabelsJson(s.labels)))
        .Bind(8, std::string_view(s.status))
        .Bind(9, s.conclusion)
        .Bind(10, s.runner_name)
        .Bind(11, s.runner_group)
        .Bind(12, s.queued_at)
        .Bind(13, s.started_at)
        .Bind(14, s.completed_at)
        .Bind(15, s.WaitSeconds())
        .Bind(16, s.DurationSeconds())
        .Bind(17, s.updated_at);
    RELAYQ_RETURN_IF_ERROR(upsert_job_.Run());
    if (!current || current->labels != s.labels) {
      for (const auto& label : s.labels) {
        insert_label_.Bind(1, std::string_view(label)).Bind(2, s.id);
        RELAYQ_RETURN_IF_ERROR(insert_label_.Run());
      }
    }
  }
  std::optional<int64_t> event_at = e.completed_at;
  const JobStage stage = JobStageOf(e.status);
  if (stage == JobStage::kInProgress) event_at = e.started_at;
  if (stage <= JobStage::kQueued) event_at = e.created_at;
  insert_job_event_.Bind(1, e.job_id)
      .Bind(2, std::string_view(d.id))
      .Bind(3, std::string_view(e.action))
      .Bind(4, std::string_view(e.status))
      .Bind(5, e.conclusion)
      .Bind(6, e.runner_name)
      .Bind(7, event_at)
      .Bind(8, d.received_at)
      .Bind(9, static_cast<int64_t>(m.changed ? 1 : 0));
  return insert_job_event_.Run();
}

Result<std::optional<RunState>> SqliteStore::LoadRun(int64_t run_id, int64_t attempt) {
  std::optional<RunState> current;
  select_run_.Bind(1, run_id).Bind(2, attempt);
  Result<bool> row = select_run_.Step();
  if (!row.ok()) return row.status();
  if (*row) current = RunFromRow(select_run_);
  select_run_.Reset();
  return current;
}

Status SqliteStore::ApplyRun(const RunEvent& e, LifecycleChange& change) {
  RELAYQ_ASSIGN_OR_RETURN(std::optional<RunState> current, LoadRun(e.run_id, e.attempt));
  RunMerge m = MergeRunEvent(current, e);
  change.run = m.state;
  change.run_status_changed = m.status_changed;
  if (!m.changed) return Status::Ok();
  const RunState& s = m.state;
  RELAYQ_RETURN_IF_ERROR(LinkRunToRequest(s));
  upsert_run_.Bind(1, s.id)
      .Bind(2, s.attempt)
      .Bind(3, std::string_view(s.repository))
      .Bind(4, std::string_view(s.workflow_path))
      .Bind(5, std::string_view(s.workflow_name))
      .Bind(6, s.display_title)
      .Bind(7, std::string_view(s.event))
      .Bind(8, std::string_view(s.status))
      .Bind(9, s.conclusion)
      .Bind(10, s.html_url)
      .Bind(11, s.head_branch)
      .Bind(12, s.head_sha)
      .Bind(13, s.created_at)
      .Bind(14, s.updated_at)
      .Bind(15, s.run_started_at);
  return upsert_run_.Run();
}

Status SqliteStore::LinkRunToRequest(const RunState& run) {
  // Runs relayq dispatched carry [relayq:ID] in their title (the kit's
  // workflows put the relayq_id input in run-name); that ties the run to the
  // request, and so to the inputs it was dispatched with.
  std::optional<int64_t> id = RelayqIdInTitle(run.display_title);
  if (!id) return Status::Ok();
  link_request_.Bind(1, run.id)
      .Bind(2, run.updated_at.value_or(0))
      .Bind(3, *id)
      .Bind(4, std::string_view(run.repository));
  return link_request_.Run();
}

Status SqliteStore::RecordActions(const std::vector<NewAction>& actions, int64_t now,
                                  bool& any_new) {
  for (const NewAction& a : actions) {
    const bool final_state = IsFinal(a.status);
    insert_action_.Bind(1, ActionKindName(a.kind))
        .Bind(2, std::string_view(a.key))
        .Bind(3, std::string_view(a.repository))
        .Bind(4, ActionStatusName(a.status))
        .Bind(5, a.due_at)
        .Bind(6, a.last_error)
        .Bind(7, std::string_view(a.reason))
        .Bind(8, std::string_view(a.payload))
        .Bind(9, a.job_id)
        .Bind(10, a.run_id)
        .Bind(11, a.run_attempt)
        .Bind(12, now)
        .Bind(13, final_state ? std::optional<int64_t>(now) : std::nullopt);
    RELAYQ_RETURN_IF_ERROR(insert_action_.Run());
    if (sqlite3_changes(db_.get()) > 0 && !final_state) any_new = true;
  }
  return Status::Ok();
}

std::shared_ptr<const BodyDictionary> SqliteStore::DictionaryFor(const std::string& event) const {
  MutexLock lock(dict_mu_);
  auto it = dictionary_by_event_.find(event);
  return it == dictionary_by_event_.end() ? nullptr : it->second;
}

Status SqliteStore::LoadDictionaries() {
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt s,
      Stmt::Prepare(db_.get(), "SELECT event, bytes FROM body_dictionaries ORDER BY created_at"));
  MutexLock lock(dict_mu_);
  for (Result<bool> row = s.Step(); row.ok() && *row; row = s.Step()) {
    auto dictionary = BodyDictionary::FromBytes(s.Blob(1));
    if (!dictionary.ok()) return dictionary.status().WithContext("body_dictionaries");
    dictionary_by_event_[s.Text(0)] = *dictionary;  // the newest wins
  }
  return Status::Ok();
}

// Writer thread, after a commit: once enough bodies of an event were stored
// without a dictionary, train one for it in the background.
void SqliteStore::CountForDictionary(const std::deque<std::unique_ptr<Pending>>& batch,
                                     const std::vector<Result<IngestResult>>& results) {
  if (options_.dictionary_after == 0) return;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Pending& p = *batch[i];
    if (!results[i].ok() || results[i]->duplicate || p.with_dictionary ||
        p.body.codec != kCodecZstd) {
      continue;
    }
    const std::string& event = p.delivery.event;
    if (++undictionaried_[event] < options_.dictionary_after || training_started_.count(event)) {
      continue;
    }
    training_started_.insert(event);
    trainers_.emplace_back([this, event] { TrainDictionaryFor(event); });
  }
}

// On a trainer thread with its own connection: trains on the latest bodies
// of `event`, records the dictionary (committed before any body uses it, so
// no stored body can name a dictionary the store lacks), then publishes it.
// A failure leaves the event without a dictionary until the next start.
void SqliteStore::TrainDictionaryFor(const std::string& event) {
  constexpr size_t kCapacity = 32 * 1024;  // zstd's advice: ~100x smaller than the samples
  auto db = OpenBeside(options_.busy_timeout_ms);
  if (!db.ok()) return;
  std::vector<std::string> samples;
  {
    auto s = Stmt::Prepare(db->get(),
                           "SELECT body_codec, body FROM deliveries WHERE event = ?1 AND body IS "
                           "NOT NULL ORDER BY seq DESC LIMIT ?2");
    if (!s.ok()) return;
    s->Bind(1, std::string_view(event)).Bind(2, static_cast<int64_t>(options_.dictionary_after));
    for (Result<bool> row = s->Step(); row.ok() && *row; row = s->Step()) {
      // Bodies made with an earlier dictionary are not decoded here (none
      // is passed); the rest are the samples.
      auto body = DecodeBody(s->Text(0), s->Blob(1));
      if (body.ok()) samples.push_back(std::move(*body));
    }
  }
  auto bytes = TrainDictionary(samples, kCapacity);
  if (!bytes.ok()) return;
  auto dictionary = BodyDictionary::FromBytes(std::move(*bytes));
  if (!dictionary.ok()) return;
  auto insert =
      Stmt::Prepare(db->get(),
                    "INSERT INTO body_dictionaries (id, event, created_at, samples, bytes) "
                    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING");
  if (!insert.ok()) return;
  insert->Bind(1, static_cast<int64_t>((*dictionary)->id()))
      .Bind(2, std::string_view(event))
      .Bind(3, ToUnixMillis(clock_.Now()))
      .Bind(4, static_cast<int64_t>(samples.size()))
      .BindBlob(5, (*dictionary)->bytes());
  if (!insert->Run().ok()) return;
  MutexLock lock(dict_mu_);
  dictionary_by_event_[event] = *dictionary;
}

// Another connection to the store file, in the store's durability mode, for
// work beside the writer's (its statements stay the writer's alone).
Result<Db> SqliteStore::OpenBeside(int busy_timeout_ms) const {
  return Connect(options_, Access::kReadWrite, busy_timeout_ms);
}

Status SqliteStore::CheckWritable() {
  // A separate connection, so the probe never waits behind the writer's queue
  // and never holds the writer's statements.
  auto db = OpenBeside(1000);
  if (!db.ok()) return db.status();
  return Exec(db->get(), "BEGIN IMMEDIATE; ROLLBACK;");
}

void SqliteStore::Close() {
  std::call_once(closed_, [this] {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    for (std::thread& t : trainers_) t.join();
    // The commits of closing (PRAGMA optimize below) must not start a
    // checkpointer that nothing would join.
    if (db_) sqlite3_wal_hook(db_.get(), nullptr, nullptr);
    {
      MutexLock lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    // Statements must be finalized before the connection closes.
    for (Stmt* s : {&insert_delivery_, &select_job_, &upsert_job_, &insert_label_,
                    &insert_job_event_, &select_run_, &upsert_run_, &savepoint_, &release_,
                    &rollback_to_, &begin_, &commit_, &rollback_, &select_jobs_of_run_,
                    &select_request_for_run_, &link_request_, &insert_action_}) {
      *s = Stmt();
    }
    if (db_) (void)Exec(db_.get(), "PRAGMA optimize");
    db_.reset();
  });
}

}  // namespace

Result<std::unique_ptr<Store>> Database::OpenWriter(Clock& clock) const {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(options_, Access::kReadWrite));
  auto version = SchemaVersion(db.get());
  if (!version.ok()) return version.status().WithContext("store " + options_.path);
  if (*version != LatestSchemaVersion()) {
    return Status::InvalidArgument("store " + options_.path + " has schema " +
                                   std::to_string(*version) + ", not " +
                                   std::to_string(LatestSchemaVersion()) + " (migrate it first)");
  }
  auto store = std::make_unique<SqliteStore>(options_, std::move(db), clock);
  RELAYQ_RETURN_IF_ERROR(store->Prepare());
  RELAYQ_RETURN_IF_ERROR(store->LoadDictionaries());
  store->Start();
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, Clock& clock) {
  RELAYQ_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                          Database::Open(options, Database::Mode::kCreate));
  RELAYQ_RETURN_IF_ERROR(db->Migrate());
  return db->OpenWriter(clock);
}

}  // namespace relayq::store
