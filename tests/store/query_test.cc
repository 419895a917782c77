// StoreReader: filters, per-kind time windows, keyset pagination under
// concurrent inserts, cursor validation, job history, aggregates, prune and
// backup. Data goes in through the real write path (Store::Ingest); actions,
// which the routing layer writes, are inserted directly.
#include "store/query.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <set>

#include "store/maintenance.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"
#include "tests/store/store_fixture.h"

namespace relayq::store {
namespace {

// The store at `path`, which exists.
std::unique_ptr<Database> OpenExisting(const std::string& path) {
  StoreOptions o;
  o.path = path;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMin = 60 * 1000;

ListQuery Q(Kind kind, const std::function<void(ListQuery&)>& set = nullptr) {
  ListQuery q;
  q.kind = kind;
  if (set) set(q);
  return q;
}

class QueryTest : public StoreFixture {
 protected:
  // A workflow_job delivery for job `job_id` at minute `minute` after kT0.
  void Job(const std::string& delivery, int64_t job_id, const std::string& status, int minute,
           const std::string& repo = "o/a",
           std::vector<std::string> labels = {"self-hosted", "rpi4"},
           std::optional<std::string> runner = std::nullopt) {
    Delivery d;
    d.id = delivery;
    d.event = "workflow_job";
    d.action = status;
    d.repository = repo;
    d.received_at = kT0 + minute * kMin + 500;
    d.body = "{\"x\":1}";
    JobEvent e;
    e.job_id = job_id;
    e.run_id = 1000 + job_id;
    e.repository = repo;
    e.workflow_name = "transcribe";
    e.name = "job" + std::to_string(job_id);
    e.action = status;
    e.status = status;
    e.labels = std::move(labels);
    e.created_at = kT0 + minute * kMin;
    if (status != "queued") {
      e.started_at = kT0 + (minute + 2) * kMin;
      e.runner_name = runner ? runner : std::optional<std::string>("pi-1");
    }
    if (status == "completed") {
      e.completed_at = kT0 + (minute + 5) * kMin;
      e.conclusion = "success";
    }
    d.job = e;
    auto r = store_->Ingest(std::move(d));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  void Run(const std::string& delivery, int64_t run_id, int minute, const std::string& repo) {
    Delivery d;
    d.id = delivery;
    d.event = "workflow_run";
    d.action = "requested";
    d.repository = repo;
    d.received_at = kT0 + minute * kMin;
    RunEvent e;
    e.run_id = run_id;
    e.repository = repo;
    e.workflow_path = ".github/workflows/t.yml";
    e.workflow_name = "t";
    e.event = "workflow_dispatch";
    e.action = "requested";
    e.status = "queued";
    e.created_at = kT0 + minute * kMin;
    e.updated_at = e.created_at;
    d.run = e;
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::unique_ptr<StoreReader> Reader() {
    auto r = StoreReader::Open(Path());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  static std::vector<int64_t> Ids(const Page& p) {
    std::vector<int64_t> ids;
    for (const auto& r : p.items) ids.push_back(r.Get("id")->i);
    return ids;
  }
};

TEST_F(QueryTest, MissingFileIsNotFoundAndNotCreated) {
  auto r = StoreReader::Open(dir_.File("absent.db"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("absent.db")));
}

// The label of a wait query was quoted with nlohmann's throwing dump(), so a
// label with invalid UTF-8 escaped as an exception instead of matching none.
TEST_F(QueryTest, WaitByLabelWithInvalidUtf8LabelMatchesNothingInsteadOfThrowing) {
  auto reader = Reader();
  auto waits = reader->WaitByLabel(kT0, kT0 + 3600 * 1000, std::string("mac\xFFmini"));
  ASSERT_TRUE(waits.ok());
  EXPECT_TRUE(waits->empty() || waits->front().jobs == 0);
}

TEST_F(QueryTest, JobsNewestFirstWithContractFields) {
  Job("d1", 1, "queued", 0);
  Job("d2", 2, "completed", 10);
  auto reader = Reader();
  auto page = reader->List(Q(Kind::kJobs));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Ids(*page), (std::vector<int64_t>{2, 1}));
  EXPECT_TRUE(page->next.empty());
  const Record& done = page->items[0];
  for (const char* name : {"id", "run_id", "run_attempt", "repository", "workflow_name", "name",
                           "labels", "status", "conclusion", "runner_name", "queued_at",
                           "started_at", "completed_at", "wait_seconds", "duration_seconds"}) {
    EXPECT_NE(done.Get(name), nullptr) << name;
  }
  EXPECT_EQ(done.Get("wait_seconds")->type, Field::Type::kSeconds);
  EXPECT_EQ(done.Get("wait_seconds")->i, 120);
  EXPECT_EQ(done.Get("duration_seconds")->i, 180);
  EXPECT_EQ(done.Get("queued_at")->type, Field::Type::kTime);
  EXPECT_EQ(done.Get("queued_at")->i, kT0 + 10 * kMin);
  EXPECT_EQ(done.Get("labels")->list, (std::vector<std::string>{"self-hosted", "rpi4"}));
  // A queued job has no wait yet: null, not zero.
  EXPECT_EQ(page->items[1].Get("wait_seconds")->type, Field::Type::kNull);
}

TEST_F(QueryTest, FiltersByRepoLabelAndStatus) {
  Job("d1", 1, "queued", 0, "o/a", {"self-hosted", "macmini"});
  Job("d2", 2, "queued", 1, "o/b", {"self-hosted", "rpi4"});
  Job("d3", 3, "in_progress", 2, "o/a", {"self-hosted", "rpi4"});
  auto reader = Reader();
  auto by_repo = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.repo = "o/a"; }));
  ASSERT_TRUE(by_repo.ok());
  EXPECT_EQ(Ids(*by_repo), (std::vector<int64_t>{3, 1}));
  auto by_label = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.label = "rpi4"; }));
  ASSERT_TRUE(by_label.ok());
  EXPECT_EQ(Ids(*by_label), (std::vector<int64_t>{3, 2}));
  auto combined = reader->List(Q(Kind::kJobs, [&](ListQuery& q) {
    q.label = "rpi4";
    q.status = "queued";
  }));
  ASSERT_TRUE(combined.ok());
  EXPECT_EQ(Ids(*combined), (std::vector<int64_t>{2}));
  auto none = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.repo = "o/a' OR 1=1 --"; }));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  auto label_on_runs = reader->List(Q(Kind::kRuns, [&](ListQuery& q) { q.label = "rpi4"; }));
  EXPECT_EQ(label_on_runs.status().code(), Status::Code::kInvalidArgument);
}

// Issue 16: rows stored by an older relayq (a done action kept the error of
// a retried try; finishing did not count its try) read truthfully, a
// malformed result reads as unknown instead of failing the listing, and an
// unknown id says so.
TEST_F(QueryTest, ActionItemsShowTriesWhereTheyLedAndNoStaleError) {
  Sql("INSERT INTO dispatch_requests (id, repository, workflow, ref, status, run_id, created_at, "
      "updated_at) VALUES (7, 'o/a', 'rpi.yml', 'main', 'dispatched', 555, 0, 0)");
  Run("r555", 555, 1, "o/a");
  Sql("INSERT INTO actions (kind, key, repository, status, attempts, last_error, reason, payload, "
      "result, created_at, updated_at) VALUES ('fallback', 'fallback:1:1', 'o/a', 'done', 2, "
      "'HTTP 502', 'route mac: a reason longer than forty characters, kept whole', "
      "'{\"route\":\"mac\"}', '{\"stage\":\"done\",\"target_workflow\":\"rpi.yml\","
      "\"request_id\":7,\"decided_at\":1000,\"decision\":\"queue_timeout\"}', 1, 0)");
  Sql("INSERT INTO actions (kind, key, repository, status, last_error, result, created_at, "
      "updated_at) VALUES ('chain', 'chain:x:1:1', 'o/a', 'failed', 'boom', 'not json', 2, 0)");
  auto reader = Reader();
  auto page = reader->List(Q(Kind::kActions, [](ListQuery&) {}));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  const Record& chain = page->items[0];
  const Record& fallback = page->items[1];
  EXPECT_EQ(fallback.Get("attempts")->i, 3);  // two retried tries and the final one
  EXPECT_EQ(fallback.Get("last_error")->type, Field::Type::kNull);
  EXPECT_EQ(fallback.Get("target_workflow")->s, "rpi.yml");
  EXPECT_EQ(fallback.Get("request_id")->i, 7);
  EXPECT_EQ(fallback.Get("result_run_id")->i, 555);  // from the request it dispatched
  EXPECT_EQ(fallback.Get("decided_at")->i, 1000);
  EXPECT_EQ(fallback.Get("decision")->s, "queue_timeout");
  EXPECT_EQ(fallback.Get("reason")->s,
            "route mac: a reason longer than forty characters, kept whole");
  EXPECT_EQ(chain.Get("attempts")->i, 1);
  EXPECT_EQ(chain.Get("last_error")->s, "boom");
  EXPECT_EQ(chain.Get("target_workflow")->type, Field::Type::kNull);
  auto one = reader->Action(fallback.Get("id")->i);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->payload, "{\"route\":\"mac\"}");
  ASSERT_TRUE(one->result.has_value());
  auto missing = reader->Action(999);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no action 999");
}

TEST_F(QueryTest, TimeWindowsUseEachKindsOwnTime) {
  // The job is queued at minute 0 but its delivery arrives at minute 30:
  // a window around minute 30 finds the delivery, not the job.
  Job("late", 1, "queued", 0);
  Sql("UPDATE deliveries SET received_at = " + std::to_string(kT0 + 30 * kMin));
  Run("r1", 77, 40, "o/a");
  Sql("INSERT INTO actions (kind, key, repository, status, created_at, updated_at) VALUES "
      "('fallback', 'fallback:1:1', 'o/a', 'done', " +
      std::to_string(kT0 + 50 * kMin) + ", 0)");
  auto reader = Reader();
  struct Case {
    Kind kind;
    int64_t from_min, to_min;
    size_t want;
  } cases[] = {
      {Kind::kJobs, 0, 1, 1},       {Kind::kJobs, 25, 35, 0},   {Kind::kDeliveries, 25, 35, 1},
      {Kind::kDeliveries, 0, 1, 0}, {Kind::kRuns, 40, 41, 1},   {Kind::kRuns, 0, 40, 0},
      {Kind::kActions, 50, 51, 1},  {Kind::kActions, 0, 50, 0},
  };
  for (const auto& c : cases) {
    ListQuery q = Q(c.kind, [&](ListQuery& l) {
      l.since_ms = kT0 + c.from_min * kMin;
      l.until_ms = kT0 + c.to_min * kMin;
    });
    auto page = reader->List(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->items.size(), c.want)
        << KindName(c.kind) << " [" << c.from_min << ", " << c.to_min << ")";
  }
}

TEST_F(QueryTest, PaginationStaysStableWhileRowsArrive) {
  for (int i = 1; i <= 25; ++i) Job("d" + std::to_string(i), i, "queued", i);
  // Two jobs queued in the same millisecond: the id breaks the tie.
  Job("tie", 100, "queued", 25);
  auto reader = Reader();
  std::vector<int64_t> seen;
  ListQuery q = Q(Kind::kJobs, [&](ListQuery& l) { l.limit = 7; });
  int pages = 0;
  for (;;) {
    auto page = reader->List(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (int64_t id : Ids(*page)) seen.push_back(id);
    ++pages;
    // New jobs arrive between pages, both newer and older than the cursor.
    Job("new" + std::to_string(pages), 1000 + pages, "queued", 100 + pages);
    Job("old" + std::to_string(pages), 2000 + pages, "queued", -100 - pages);
    if (page->next.empty()) break;
    q.cursor = page->next;
  }
  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an item was repeated";
  for (int i = 1; i <= 25; ++i) EXPECT_TRUE(unique.count(i)) << "job " << i << " was skipped";
  EXPECT_TRUE(unique.count(100));
  // Newer arrivals never show up on later pages (they sort before the cursor).
  for (int p = 1; p <= pages; ++p) EXPECT_FALSE(unique.count(1000 + p));
  // Order: strictly by (queued_at, id) descending.
  EXPECT_EQ(seen[0], 100);
  EXPECT_EQ(seen[1], 25);
}

TEST_F(QueryTest, UndatedRowsComeLastAndPaginate) {
  for (int i = 1; i <= 3; ++i) Job("d" + std::to_string(i), i, "queued", i);
  Sql("UPDATE jobs SET queued_at = NULL WHERE id IN (1, 2)");
  auto reader = Reader();
  std::vector<int64_t> seen;
  ListQuery q = Q(Kind::kJobs, [&](ListQuery& l) { l.limit = 1; });
  for (;;) {
    auto page = reader->List(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (int64_t id : Ids(*page)) seen.push_back(id);
    if (page->next.empty()) break;
    q.cursor = page->next;
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{3, 2, 1}));
}

TEST_F(QueryTest, BadCursorsAreRejected) {
  Job("d1", 1, "queued", 0);
  Job("d2", 2, "queued", 1);
  auto reader = Reader();
  auto first = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.limit = 1; }));
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next.empty());
  for (const std::string& bad : std::vector<std::string>{
           "zz", "abc", "00", "6a7c317c", "'; DROP TABLE jobs; --", std::string(200, 'a')}) {
    auto page = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.cursor = bad; }));
    EXPECT_EQ(page.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  // A jobs cursor is not a runs cursor.
  auto other = reader->List(Q(Kind::kRuns, [&](ListQuery& q) { q.cursor = first->next; }));
  EXPECT_EQ(other.status().code(), Status::Code::kInvalidArgument);
  auto limit = reader->List(Q(Kind::kJobs, [&](ListQuery& q) { q.limit = 0; }));
  EXPECT_EQ(limit.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(QueryTest, JobHistoryHasEventsDeliveriesAndActions) {
  Job("q", 5, "queued", 0);
  Job("s", 5, "in_progress", 0);
  Job("s-again", 5, "queued", 0);  // late and stale: recorded, not applied
  Sql("INSERT INTO actions (kind, key, repository, status, job_id, run_id, run_attempt, "
      "created_at, updated_at, reason) VALUES ('fallback', 'fallback:1005:1', 'o/a', 'done', 5, "
      "1005, 1, 1, 1, 'queued past 5m on macmini')");
  Sql("INSERT INTO actions (kind, key, repository, status, run_id, created_at, updated_at) "
      "VALUES ('chain', 'chain:9:1', 'o/a', 'done', 9, 1, 1)");
  auto reader = Reader();
  auto h = reader->Job(5);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->job.Get("status")->s, "in_progress");
  ASSERT_EQ(h->events.size(), 3u);
  EXPECT_EQ(h->events[2].Get("applied")->i, 0);
  EXPECT_EQ(h->deliveries.size(), 3u);
  ASSERT_EQ(h->actions.size(), 1u);
  EXPECT_EQ(h->actions[0].Get("reason")->s, "queued past 5m on macmini");
  EXPECT_EQ(reader->Job(6).status().code(), Status::Code::kNotFound);
}

TEST_F(QueryTest, AggregatesForDashboardAndMetrics) {
  Job("a", 1, "queued", 0, "o/a", {"self-hosted", "macmini"});
  Job("b", 2, "queued", 3, "o/a", {"self-hosted", "macmini"});
  Job("c", 3, "completed", 5, "o/a", {"self-hosted", "rpi4"}, "pi-7");
  Sql("INSERT INTO actions (kind, key, repository, status, created_at, updated_at, due_at) "
      "VALUES ('fallback', 'k1', 'o/a', 'pending', 10, 10, 20), "
      "('fallback', 'k2', 'o/a', 'scheduled', 10, 10, 99), "
      "('chain', 'k3', 'o/a', 'done', 10, 10, NULL)");
  auto reader = Reader();
  auto queued = reader->QueuedByLabel();
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 2u);  // macmini, self-hosted
  EXPECT_EQ((*queued)[0].label, "macmini");
  EXPECT_EQ((*queued)[0].queued, 2);
  EXPECT_EQ((*queued)[0].oldest_queued, kT0);
  auto runners = reader->RunnersSince(kT0, 10);
  ASSERT_TRUE(runners.ok());
  ASSERT_EQ(runners->size(), 1u);
  EXPECT_EQ((*runners)[0].runner_name, "pi-7");
  EXPECT_EQ((*runners)[0].last_job, "job3");
  auto waits = reader->WaitByLabel(kT0, kT0 + 3600 * 1000, std::string("rpi4"));
  ASSERT_TRUE(waits.ok());
  ASSERT_EQ(waits->size(), 1u);
  EXPECT_EQ((*waits)[0].p95_seconds, 120);
  auto all = reader->WaitByLabel(kT0, kT0 + 3600 * 1000, std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);  // rpi4, self-hosted: the only started job's labels
  EXPECT_EQ((*all)[0].label, "rpi4");
  EXPECT_EQ((*all)[1].jobs, 1);
  auto pending = reader->Pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->pending, 1);
  EXPECT_EQ(pending->scheduled, 1);
  EXPECT_EQ(pending->oldest_due, 20);
  auto open = reader->OpenJobsByStatus();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->at(0).count, 2);
}

TEST_F(QueryTest, WaitsBecomeKnownOnceWhenAJobStarts) {
  auto reader = Reader();
  Job("q1", 1, "queued", 0);
  auto start = reader->MaxJobEventSeq();
  ASSERT_TRUE(start.ok());
  Job("s1", 1, "in_progress", 0);
  Job("c1", 1, "completed", 0);  // the wait was already known: not again
  Job("q2", 2, "queued", 1);     // still queued: no wait yet
  auto end = reader->MaxJobEventSeq();
  ASSERT_TRUE(end.ok());
  auto w = reader->WaitsKnownBetween(*start, *end);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].wait_seconds, 120);
  auto again = reader->WaitsKnownBetween(*end - 1, *end);  // only the completed event
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(QueryTest, PruneDropsOnlyOldBodies) {
  Job("old", 1, "queued", 0);
  Job("new", 2, "queued", 60);
  auto r = PruneBodies(*OpenExisting(Path()), kT0 + 30 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->bodies_dropped, 1);
  testing::SqliteReader db(Path());
  EXPECT_EQ(db.Value("SELECT body IS NULL FROM deliveries WHERE id = 'old'"), "1");
  EXPECT_EQ(db.Value("SELECT body IS NULL FROM deliveries WHERE id = 'new'"), "0");
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), 2);
  auto again = PruneBodies(*OpenExisting(Path()), kT0 + 30 * kMin);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->bodies_dropped, 0);
  StoreOptions absent;
  absent.path = dir_.File("absent.db");
  EXPECT_EQ(Database::Open(absent).status().code(), Status::Code::kNotFound);
}

TEST_F(QueryTest, BackupIsACompleteCopyAndNeverOverwrites) {
  for (int i = 1; i <= 20; ++i) Job("d" + std::to_string(i), i, "queued", i);
  auto size = BackupTo(*OpenExisting(Path()), dir_.File("copy.db"));
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_GT(*size, 0);
  {
    testing::SqliteReader copy(dir_.File("copy.db"));
    EXPECT_EQ(copy.Count("SELECT count(*) FROM jobs"), 20);
    EXPECT_EQ(copy.Value("PRAGMA journal_mode"), "delete");
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("copy.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = BackupTo(*OpenExisting(Path()), dir_.File("copy.db"));
  EXPECT_EQ(again.status().code(), Status::Code::kConflict);
}

// ---- relayq audit waits: per label per period ----

class WaitsQueryTest : public QueryTest {
 protected:
  static constexpr int64_t kDay = 24 * 3600 * 1000LL;
  // A job queued at `queued_at` with `labels`, started after `wait` seconds
  // (never, when unset).
  void AddJob(int64_t id, int64_t queued_at, const std::string& labels,
              std::optional<int64_t> wait) {
    Sql("INSERT INTO jobs (id, run_id, run_attempt, repository, labels, status, queued_at, "
        "wait_seconds, updated_at) VALUES (" +
        std::to_string(id) + ", " + std::to_string(5000 + id) + ", 1, 'o/a', '" + labels + "', '" +
        (wait ? "in_progress" : "queued") + "', " + std::to_string(queued_at) + ", " +
        (wait ? std::to_string(*wait) : "NULL") + ", " + std::to_string(queued_at) + ")");
  }
  void AddFallback(int64_t job_id, const std::string& status) {
    Sql("INSERT INTO actions (kind, key, repository, status, job_id, created_at, updated_at) "
        "VALUES ('fallback', 'fallback:" +
        std::to_string(job_id) + "', 'o/a', '" + status + "', " + std::to_string(job_id) +
        ", 1, 1)");
  }
  static int64_t Int(const Record& r, const char* name) { return r.Get(name)->i; }
};

TEST_F(WaitsQueryTest, NearestRankPercentilesPerLabelPerDay) {
  // Day 1: twenty rpi4 jobs waiting 1..20 s, in a shuffled order, and one
  // still queued; day 2: four waiting 1..4 s.
  const int waits[] = {7, 20, 3, 15, 1, 12, 19, 4, 9, 18, 2, 11, 16, 5, 14, 8, 17, 6, 13, 10};
  int64_t id = 1;
  for (int w : waits) {
    AddJob(id, kT0 + id * kMin, R"(["self-hosted","rpi4"])", w);
    ++id;
  }
  AddJob(id, kT0 + 50 * kMin, R"(["self-hosted","rpi4"])", std::nullopt);
  ++id;
  for (int w : {4, 1, 3, 2}) {
    AddJob(id, kT0 + kDay + id * kMin, R"(["rpi4"])", w);
    ++id;
  }
  AddFallback(1, "done");
  AddFallback(2, "failed");  // tried, not carried out: not a fallback that happened

  WaitsQuery q;
  q.since_ms = kT0;
  q.until_ms = kT0 + 3 * kDay;
  q.label = "rpi4";
  auto rows = Reader()->Waits(q);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  const Record& day1 = (*rows)[0];
  EXPECT_EQ(day1.Get("label")->s, "rpi4");
  EXPECT_EQ(Int(day1, "period_start"), kT0);
  EXPECT_EQ(Int(day1, "jobs"), 21);
  EXPECT_EQ(Int(day1, "waited"), 20);
  EXPECT_EQ(Int(day1, "p50_seconds"), 10);  // the 10th of 20
  EXPECT_EQ(Int(day1, "p95_seconds"), 19);  // the 19th of 20, not the 20th
  EXPECT_EQ(Int(day1, "max_seconds"), 20);
  EXPECT_EQ(Int(day1, "fallbacks"), 1);
  const Record& day2 = (*rows)[1];
  EXPECT_EQ(Int(day2, "period_start"), kT0 + kDay);
  EXPECT_EQ(Int(day2, "p50_seconds"), 2);  // the 2nd of 4
  EXPECT_EQ(Int(day2, "p95_seconds"), 4);
  EXPECT_EQ(Int(day2, "fallbacks"), 0);
}

TEST_F(WaitsQueryTest, EveryLabelAndIsoWeeks) {
  // 2026-01-01 is a Thursday: its ISO week began on Monday 2025-12-29, and
  // Sunday the 4th is in it; Monday the 5th starts the next.
  AddJob(1, kT0, R"(["macmini"])", 30);
  AddJob(2, kT0 + 3 * kDay + kMin, R"(["macmini","audio"])", 90);
  AddJob(3, kT0 + 4 * kDay, R"(["macmini"])", 10);
  AddJob(4, kT0 + 4 * kDay, R"(["rpi3"])", std::nullopt);
  WaitsQuery q;
  q.since_ms = kT0 - kDay;
  q.until_ms = kT0 + 10 * kDay;
  q.by = WaitsQuery::By::kWeek;
  auto rows = Reader()->Waits(q);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);  // audio w1, macmini w1, macmini w2, rpi3 w2
  const int64_t monday = kT0 - 3 * kDay;
  EXPECT_EQ((*rows)[0].Get("label")->s, "audio");
  EXPECT_EQ((*rows)[1].Get("label")->s, "macmini");
  EXPECT_EQ(Int((*rows)[1], "period_start"), monday);
  EXPECT_EQ(Int((*rows)[1], "jobs"), 2);
  EXPECT_EQ(Int((*rows)[1], "p50_seconds"), 30);
  EXPECT_EQ(Int((*rows)[1], "max_seconds"), 90);
  EXPECT_EQ(Int((*rows)[2], "period_start"), monday + 7 * kDay);
  EXPECT_EQ((*rows)[3].Get("label")->s, "rpi3");
  EXPECT_EQ(Int((*rows)[3], "waited"), 0);
  EXPECT_EQ((*rows)[3].Get("p50_seconds")->type, Field::Type::kNull);
  EXPECT_EQ(ParseWaitsBy("month").status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace relayq::store
