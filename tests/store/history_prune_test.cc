// store.history (store/maintenance.h): PruneHistory deletes old finished
// records and nothing a live action, job or run needs; a delivery still
// inside the window is still deduplicated; ReclaimFreePages gives the freed
// pages back so the file shrinks. Data goes in through the real write path
// (Store::Ingest); actions and dispatch requests, which the routing layer
// writes, are inserted directly.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <random>
#include <string>

#include "store/database.h"
#include "store/maintenance.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::store {
namespace {

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 24 * 60 * 60 * 1000;

class HistoryPruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.path = Path();
    o.synchronous = StoreOptions::Sync::kNormal;
    auto db = Database::Open(o, Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate().ok());
    auto s = db_->OpenWriter(clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  std::string Path() const { return dir_.File("relayq.db"); }

  // A workflow_job delivery for job `job_id` of run 1000 + job_id, received
  // on day `day` after kT0.
  Result<IngestResult> Job(const std::string& delivery, int64_t job_id, const std::string& status,
                           int64_t day, std::string body = "{\"x\":1}") {
    Delivery d;
    d.id = delivery;
    d.event = "workflow_job";
    d.action = status;
    d.repository = "o/a";
    d.received_at = kT0 + day * kDay;
    d.body = std::move(body);
    JobEvent e;
    e.job_id = job_id;
    e.run_id = 1000 + job_id;
    e.repository = "o/a";
    e.name = "job" + std::to_string(job_id);
    e.action = e.status = status;
    e.labels = {"self-hosted", "rpi4"};
    e.created_at = d.received_at;
    if (status != "queued") {
      e.started_at = d.received_at;
      e.runner_name = "pi-1";
    }
    if (status == "completed") {
      e.completed_at = d.received_at;
      e.conclusion = "success";
    }
    d.job = e;
    return store_->Ingest(std::move(d));
  }

  void Run(const std::string& delivery, int64_t run_id, const std::string& status, int64_t day) {
    Delivery d;
    d.id = delivery;
    d.event = "workflow_run";
    d.action = status == "completed" ? "completed" : "requested";
    d.repository = "o/a";
    d.received_at = kT0 + day * kDay;
    RunEvent e;
    e.run_id = run_id;
    e.repository = "o/a";
    e.workflow_path = ".github/workflows/t.yml";
    e.action = d.action;
    e.status = status;
    if (status == "completed") e.conclusion = "success";
    e.created_at = e.updated_at = d.received_at;
    d.run = e;
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }

  // Runs `sql` on a connection of its own (the writer is idle meanwhile).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    const std::string error = sqlite3_errmsg(db);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << error;
  }

  // An action or dispatch request row created on `day`.
  void Action(const std::string& key, const std::string& status, int64_t day,
              const std::string& job_run, const std::string& payload = "{}") {
    const std::string t = std::to_string(kT0 + day * kDay);
    const bool final = status != "pending" && status != "scheduled" && status != "running";
    Sql("INSERT INTO actions (kind, key, repository, status, payload, job_id, run_id, "
        "run_attempt, created_at, updated_at, done_at) VALUES ('fallback', '" +
        key + "', 'o/a', '" + status + "', '" + payload + "', " + job_run + ", 1, " + t + ", " + t +
        ", " + (final ? t : "NULL") + ")");
  }
  void Request(int64_t id, const std::string& status, int64_t day, const std::string& run) {
    const std::string t = std::to_string(kT0 + day * kDay);
    Sql("INSERT INTO dispatch_requests (id, repository, workflow, ref, status, run_id, "
        "created_at, updated_at) VALUES (" +
        std::to_string(id) + ", 'o/a', 'w.yml', 'main', '" + status + "', " + run + ", " + t +
        ", " + t + ")");
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(HistoryPruneTest, DeletesOldFinishedRecordsAndKeepsWhatLiveOnesNeed) {
  // Day 0: job 1 (run 1001) finished; job 2 (run 1002) still queued; job 3
  // finished but a pending action names it; run 1005 still in progress.
  ASSERT_TRUE(Job("q1", 1, "queued", 0).ok());
  ASSERT_TRUE(Job("c1", 1, "completed", 0).ok());
  Run("r1", 1001, "completed", 0);
  Sql("UPDATE runs SET created_at = NULL WHERE id = 1001");  // found by updated_at
  ASSERT_TRUE(Job("q2", 2, "queued", 0).ok());
  Run("r2", 1002, "completed", 0);  // its job 2 is not finished: the run stays
  ASSERT_TRUE(Job("c3", 3, "completed", 0).ok());
  Run("r5", 1005, "in_progress", 0);
  // Day 50, inside the window: job 4 finished.
  ASSERT_TRUE(Job("c4", 4, "completed", 50).ok());
  Action("done-old", "done", 0, "1, 1001");
  Action("failed-old", "failed", 0, "NULL, NULL");
  Action("live-old", "pending", 0, "3, 1003", "{\"request_id\":12}");
  Action("failed-new", "failed", 50, "4, 1004");
  Request(11, "dispatched", 0, "1001");
  Request(12, "dispatched", 0, "NULL");  // the pending action names it
  Request(13, "pending", 0, "NULL");
  Request(14, "dispatched", 0, "1005");  // its run is in progress
  // Operator changes: of an action pruned here, and of one that stays.
  for (const char* key : {"failed-old", "failed-new"}) {
    Sql(std::string("INSERT INTO action_events (action_id, at, what, who, from_status, "
                    "to_status) SELECT id, ") +
        std::to_string(kT0) + ", 'cancel', 'cli:test', 'pending', 'aborted' FROM actions " +
        "WHERE key = '" + key + "'");
  }

  const int64_t cutoff = kT0 + 30 * kDay;
  auto planned = CountHistory(*db_, cutoff);
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  auto r = PruneHistory(*db_, cutoff);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->actions, 2);
  EXPECT_EQ(r->jobs, 1);
  EXPECT_EQ(r->job_events, 2);
  EXPECT_EQ(r->runs, 1);
  EXPECT_EQ(r->dispatch_requests, 1);
  EXPECT_EQ(r->deliveries, 7);  // q1 c1 r1 q2 r2 c3 r5: all before the cutoff
  for (int64_t HistoryPruneResult::*n :
       {&HistoryPruneResult::actions, &HistoryPruneResult::jobs, &HistoryPruneResult::job_events,
        &HistoryPruneResult::runs, &HistoryPruneResult::dispatch_requests,
        &HistoryPruneResult::deliveries}) {
    EXPECT_EQ((*planned).*n, (*r).*n);
  }

  testing::SqliteReader db(Path());
  EXPECT_EQ(db.Value("SELECT group_concat(key, ' ') FROM (SELECT key FROM actions ORDER BY key)"),
            "failed-new live-old");
  EXPECT_EQ(db.Value("SELECT group_concat(id, ' ') FROM (SELECT id FROM jobs ORDER BY id)"),
            "2 3 4");
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events WHERE job_id = 1"), 0);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_labels WHERE job_id = 1"), 0);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_labels WHERE job_id = 3"), 2);
  EXPECT_EQ(db.Value("SELECT group_concat(id, ' ') FROM (SELECT id FROM runs ORDER BY id)"),
            "1002 1005");
  EXPECT_EQ(
      db.Value("SELECT group_concat(id, ' ') FROM (SELECT id FROM dispatch_requests ORDER BY id)"),
      "12 13 14");
  EXPECT_EQ(db.Value("SELECT group_concat(id, ' ') FROM deliveries"), "c4");
  // Only the pruned action's history went with it.
  EXPECT_EQ(db.Value("SELECT group_concat(a.key, ' ') FROM action_events e JOIN actions a ON "
                     "a.id = e.action_id"),
            "failed-new");
  EXPECT_EQ(db.Count("SELECT count(*) FROM action_events"), 1);

  auto again = PruneHistory(*db_, cutoff);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->total(), 0);
}

// A redelivery of a delivery still inside the window is a duplicate (nothing
// happens twice); one of a pruned delivery is not, because its record is gone.
TEST_F(HistoryPruneTest, ARedeliveryInsideTheWindowIsStillADuplicate) {
  ASSERT_TRUE(Job("old", 1, "completed", 0).ok());
  ASSERT_TRUE(Job("young", 2, "completed", 25).ok());
  ASSERT_TRUE(PruneHistory(*db_, kT0 + 20 * kDay).ok());
  auto young = Job("young", 2, "completed", 29);
  ASSERT_TRUE(young.ok());
  EXPECT_TRUE(young->duplicate);
  auto old = Job("old", 1, "completed", 29);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->duplicate);
}

// Every batch is one short transaction: a prune of more rows than a batch
// takes several, and the writer commits between them.
TEST_F(HistoryPruneTest, DeletesInBoundedBatches) {
  for (int i = 0; i < 1200; ++i) {
    ASSERT_TRUE(Job("d" + std::to_string(i), 10 + i, "completed", 0).ok());
  }
  auto r = PruneHistory(*db_, kT0 + kDay);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->jobs, 1200);
  EXPECT_EQ(r->deliveries, 1200);
  // 3 batches of jobs (500, 500, 200), 3 of deliveries, 1 each for actions,
  // their operator history, runs and dispatch requests.
  EXPECT_EQ(r->batches, 10);
  // The longest names the table it pruned: the jobs (each batch takes their
  // events and labels along) or the deliveries, the two with the most rows.
  EXPECT_GT(r->longest_batch_us, 0);
  const std::string longest = r->longest_batch_table;
  EXPECT_TRUE(longest == "jobs" || longest == "deliveries") << longest;
  EXPECT_TRUE(Job("after", 5000, "queued", 1).ok());
}

off_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST_F(HistoryPruneTest, TheFileShrinksAfterAPruneOfManyRows) {
  {
    testing::SqliteReader check(Path());
    EXPECT_EQ(check.Value("PRAGMA auto_vacuum"), "2");  // incremental from the first page
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 800; ++i) {
    std::string body(8000, ' ');
    for (char& c : body) c = static_cast<char>('a' + rng() % 26);  // compresses little
    ASSERT_TRUE(Job("d" + std::to_string(i), 10 + i, "completed", 0, body).ok());
  }
  // The store's size with what the log holds (the writer's checkpointer
  // copies it into the file in the background).
  int64_t full = 0;
  {
    testing::SqliteReader db(Path());
    full = std::stoll(db.Value("PRAGMA page_count")) * std::stoll(db.Value("PRAGMA page_size"));
  }
  ASSERT_GT(full, 3 << 20);
  auto r = PruneHistory(*db_, kT0 + kDay);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto freed = ReclaimFreePages(*db_);
  ASSERT_TRUE(freed.ok()) << freed.status().ToString();
  EXPECT_GT(*freed, full / 2);
  EXPECT_LT(FileSize(Path()), full / 4) << "from " << full << " wal " << FileSize(Path() + "-wal");
  auto again = ReclaimFreePages(*db_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

}  // namespace
}  // namespace relayq::store
