// SqliteStore: the Store implementation (see store.h for the contract).
//
// One writer thread owns the write connection and every prepared statement.
// Callers of Ingest() compress the body on their own thread, queue a Pending
// entry and wait on its future; the writer takes everything queued (up to
// max_batch), applies each entry inside its own SAVEPOINT of one transaction
// (so a bad entry cannot spoil its neighbours), commits once, and then
// completes every future. A failed commit fails every entry of the batch:
// none of them was recorded, so none may be acknowledged.
#include <sqlite3.h>
#include <sys/stat.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/body_codec.h"
#include "store/lifecycle.h"
#include "store/migrations.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace relayq::store {
namespace {

struct Pending {
  Delivery delivery;  // its body moved out into `body`
  EncodedBody body;
  int64_t body_size = 0;  // bytes before compression
  std::promise<Result<IngestResult>> done;
};

std::string LabelsJson(const std::vector<std::string>& labels) {
  return nlohmann::json(labels).dump();
}

std::vector<std::string> ParseLabels(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(StoreOptions options, Clock& clock, Db db)
      : options_(std::move(options)), clock_(clock), db_(std::move(db)) {}

  ~SqliteStore() override { Close(); }

  Status Prepare();
  void Start() { writer_ = std::thread([this] { WriterLoop(); }); }

  Result<IngestResult> Ingest(Delivery delivery) override;
  Status CheckWritable() override;
  StoreStats Stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }
  void Close() override;

 private:
  void WriterLoop();
  void CommitBatch(std::deque<Pending*>& batch);
  Result<IngestResult> Apply(Pending& p);
  Status ApplyJob(const Delivery& d, const JobEvent& e);
  Status ApplyRun(const RunEvent& e);

  const StoreOptions options_;
  Clock& clock_;
  Db db_;  // used only by the writer thread after Start()

  // Prepared once, used only by the writer thread.
  Stmt insert_delivery_, select_job_, upsert_job_, insert_label_, insert_job_event_,
      select_run_, upsert_run_, savepoint_, release_, rollback_to_, begin_, commit_, rollback_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  StoreStats stats_;            // guarded by mu_
  std::thread writer_;
  std::once_flag closed_;
};

Status SqliteStore::Prepare() {
  sqlite3* db = db_.get();
  auto prep = [db](Stmt& out, const char* sql) -> Status {
    auto s = Stmt::Prepare(db, sql);
    if (!s.ok()) return s.status().WithContext(sql);
    out = std::move(*s);
    return Status::Ok();
  };
  RELAYQ_RETURN_IF_ERROR(prep(insert_delivery_,
      "INSERT INTO deliveries (id, event, action, hook_id, repository, received_at, outcome, "
      "reason, content_type, body_codec, body_size, body) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(id) DO NOTHING"));
  RELAYQ_RETURN_IF_ERROR(prep(select_job_,
      "SELECT run_id, run_attempt, repository, workflow_name, name, labels, status, conclusion, "
      "runner_name, runner_group, queued_at, started_at, completed_at, updated_at "
      "FROM jobs WHERE id = ?1"));
  RELAYQ_RETURN_IF_ERROR(prep(upsert_job_,
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
  RELAYQ_RETURN_IF_ERROR(prep(insert_label_,
      "INSERT INTO job_labels (label, job_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"));
  RELAYQ_RETURN_IF_ERROR(prep(insert_job_event_,
      "INSERT INTO job_events (job_id, delivery_id, action, status, conclusion, runner_name, "
      "event_at, received_at, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  RELAYQ_RETURN_IF_ERROR(prep(select_run_,
      "SELECT repository, workflow_path, workflow_name, display_title, event, status, "
      "conclusion, html_url, head_branch, head_sha, created_at, updated_at, run_started_at "
      "FROM runs WHERE id = ?1 AND attempt = ?2"));
  RELAYQ_RETURN_IF_ERROR(prep(upsert_run_,
      "INSERT INTO runs (id, attempt, repository, workflow_path, workflow_name, display_title, "
      "event, status, conclusion, html_url, head_branch, head_sha, created_at, updated_at, "
      "run_started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
      "ON CONFLICT(id, attempt) DO UPDATE SET repository = excluded.repository, workflow_path = "
      "excluded.workflow_path, workflow_name = excluded.workflow_name, display_title = "
      "excluded.display_title, event = excluded.event, status = excluded.status, conclusion = "
      "excluded.conclusion, html_url = excluded.html_url, head_branch = excluded.head_branch, "
      "head_sha = excluded.head_sha, created_at = excluded.created_at, updated_at = "
      "excluded.updated_at, run_started_at = excluded.run_started_at"));
  RELAYQ_RETURN_IF_ERROR(prep(savepoint_, "SAVEPOINT item"));
  RELAYQ_RETURN_IF_ERROR(prep(release_, "RELEASE item"));
  RELAYQ_RETURN_IF_ERROR(prep(rollback_to_, "ROLLBACK TO item"));
  RELAYQ_RETURN_IF_ERROR(prep(begin_, "BEGIN IMMEDIATE"));
  RELAYQ_RETURN_IF_ERROR(prep(commit_, "COMMIT"));
  RELAYQ_RETURN_IF_ERROR(prep(rollback_, "ROLLBACK"));
  return Status::Ok();
}

Result<IngestResult> SqliteStore::Ingest(Delivery delivery) {
  Pending p;
  p.body = EncodeBody(delivery.body);
  p.body_size = static_cast<int64_t>(delivery.body.size());
  // The compressed copy is what is kept; free the raw bytes before waiting.
  std::string().swap(delivery.body);
  p.delivery = std::move(delivery);
  std::future<Result<IngestResult>> done = p.done.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("the store is closing");
    queue_.push_back(&p);
  }
  cv_.notify_one();
  return done.get();
}

void SqliteStore::WriterLoop() {
  std::deque<Pending*> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void SqliteStore::CommitBatch(std::deque<Pending*>& batch) {
  Status begun = begin_.Run();
  if (!begun.ok()) {
    {
      std::lock_guard lock(mu_);
      ++stats_.failed_commits;
    }
    for (Pending* p : batch) p->done.set_value(begun.WithContext("recording delivery"));
    return;
  }
  std::vector<Result<IngestResult>> results;
  results.reserve(batch.size());
  for (Pending* p : batch) {
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

  // Stats first, futures second: a caller that returns from Ingest() sees
  // its own delivery counted.
  {
    uint64_t ok_count = 0, dup_count = 0;
    for (const auto& r : results) {
      if (r.ok()) {
        ++ok_count;
        if (r->duplicate) ++dup_count;
      }
    }
    std::lock_guard lock(mu_);
    if (committed.ok()) {
      ++stats_.commits;
      stats_.deliveries_committed += ok_count - dup_count;
      stats_.duplicates += dup_count;
    } else {
      ++stats_.failed_commits;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!committed.ok()) {
      batch[i]->done.set_value(committed.WithContext("committing deliveries"));
    } else {
      batch[i]->done.set_value(std::move(results[i]));
    }
  }
}

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
    if (d.job) RELAYQ_RETURN_IF_ERROR(ApplyJob(d, *d.job));
    if (d.run) RELAYQ_RETURN_IF_ERROR(ApplyRun(*d.run));
  }
  return IngestResult{};
}

Status SqliteStore::ApplyJob(const Delivery& d, const JobEvent& e) {
  std::optional<JobState> current;
  select_job_.Bind(1, e.job_id);
  Result<bool> row = select_job_.Step();
  if (!row.ok()) return row.status();
  if (*row) {
    JobState s;
    s.id = e.job_id;
    s.run_id = select_job_.Int(0);
    s.run_attempt = select_job_.Int(1);
    s.repository = select_job_.Text(2);
    s.workflow_name = select_job_.Text(3);
    s.name = select_job_.Text(4);
    s.labels = ParseLabels(select_job_.Text(5));
    s.status = select_job_.Text(6);
    s.conclusion = select_job_.OptText(7);
    s.runner_name = select_job_.OptText(8);
    s.runner_group = select_job_.OptText(9);
    s.queued_at = select_job_.OptInt(10);
    s.started_at = select_job_.OptInt(11);
    s.completed_at = select_job_.OptInt(12);
    s.updated_at = select_job_.Int(13);
    current = std::move(s);
  }
  select_job_.Reset();

  JobMerge m = MergeJobEvent(current, e, d.received_at);
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
  if (JobStage(e.status) == 3) event_at = e.started_at;
  if (JobStage(e.status) <= 2) event_at = e.created_at;
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

Status SqliteStore::ApplyRun(const RunEvent& e) {
  std::optional<RunState> current;
  select_run_.Bind(1, e.run_id).Bind(2, e.attempt);
  Result<bool> row = select_run_.Step();
  if (!row.ok()) return row.status();
  if (*row) {
    RunState s;
    s.id = e.run_id;
    s.attempt = e.attempt;
    s.repository = select_run_.Text(0);
    s.workflow_path = select_run_.Text(1);
    s.workflow_name = select_run_.Text(2);
    s.display_title = select_run_.OptText(3);
    s.event = select_run_.Text(4);
    s.status = select_run_.Text(5);
    s.conclusion = select_run_.OptText(6);
    s.html_url = select_run_.OptText(7);
    s.head_branch = select_run_.OptText(8);
    s.head_sha = select_run_.OptText(9);
    s.created_at = select_run_.OptInt(10);
    s.updated_at = select_run_.OptInt(11);
    s.run_started_at = select_run_.OptInt(12);
    current = std::move(s);
  }
  select_run_.Reset();

  RunMerge m = MergeRunEvent(current, e);
  if (!m.changed) return Status::Ok();
  const RunState& s = m.state;
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

Status SqliteStore::CheckWritable() {
  // A separate connection, so the probe never waits behind the writer's queue
  // and never holds the writer's statements.
  auto db = OpenDb(options_.path, SQLITE_OPEN_READWRITE);
  if (!db.ok()) return db.status();
  sqlite3_busy_timeout(db->get(), 1000);
  Status s = Exec(db->get(), "BEGIN IMMEDIATE; ROLLBACK;");
  return s;
}

void SqliteStore::Close() {
  std::call_once(closed_, [this] {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    // Statements must be finalized before the connection closes.
    for (Stmt* s : {&insert_delivery_, &select_job_, &upsert_job_, &insert_label_,
                    &insert_job_event_, &select_run_, &upsert_run_, &savepoint_, &release_,
                    &rollback_to_, &begin_, &commit_, &rollback_}) {
      *s = Stmt();
    }
    if (db_) (void)Exec(db_.get(), "PRAGMA optimize");
    db_.reset();
  });
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, Clock& clock) {
  struct stat st {};
  const bool existed = ::stat(options.path.c_str(), &st) == 0;
  RELAYQ_ASSIGN_OR_RETURN(
      Db db, OpenDb(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX));
  // Raw bodies may hold private repository data: owner-only from the start.
  if (!existed) ::chmod(options.path.c_str(), 0600);
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  Status s = Exec(db.get(), "PRAGMA journal_mode = WAL");
  if (s.ok()) {
    s = Exec(db.get(), options.synchronous == StoreOptions::Sync::kFull
                           ? "PRAGMA synchronous = FULL"
                           : "PRAGMA synchronous = NORMAL");
  }
  if (s.ok()) s = Migrate(db.get());
  if (!s.ok()) return s.WithContext("store " + options.path);
  auto store = std::make_unique<SqliteStore>(options, clock, std::move(db));
  RELAYQ_RETURN_IF_ERROR(store->Prepare());
  store->Start();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace relayq::store
