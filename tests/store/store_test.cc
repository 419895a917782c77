#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <thread>

#include "store/body_codec.h"
#include "store/sqlite_util.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"
#include "tests/store/store_fixture.h"

namespace relayq::store {
namespace {

class StoreTest : public StoreFixture {
 protected:
  static Delivery JobDelivery(const std::string& id, int64_t job_id, const std::string& action) {
    Delivery d;
    d.id = id;
    d.event = "workflow_job";
    d.action = action;
    d.repository = "o/r";
    d.received_at = 1767225600000;
    d.body = std::string(8000, 'x');
    JobEvent e;
    e.job_id = job_id;
    e.run_id = 1;
    e.repository = "o/r";
    e.action = action;
    e.status = action;
    e.labels = {"self-hosted", "rpi4"};
    e.created_at = 1767225600000;
    d.job = e;
    return d;
  }
};

TEST_F(StoreTest, RecordsDeliveryJobLabelsAndHistoryInOneGo) {
  auto r = store_->Ingest(JobDelivery("d1", 7, "queued"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->duplicate);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT body_codec || ':' || body_size FROM deliveries"), "zstd:8000");
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 7"), "queued");
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_labels WHERE job_id = 7"), 2);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events WHERE job_id = 7 AND applied = 1"), 1);
}

TEST_F(StoreTest, DuplicateIdIsReportedAndChangesNothing) {
  ASSERT_TRUE(store_->Ingest(JobDelivery("d1", 7, "queued")).ok());
  auto r = store_->Ingest(JobDelivery("d1", 7, "completed"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->duplicate);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 7"), "queued");
  EXPECT_EQ(store_->Stats().duplicates, 1u);
}

TEST_F(StoreTest, StoreFileIsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("relayq.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(StoreTest, ConcurrentIngestsShareCommitsAndLoseNothing) {
  constexpr int kThreads = 16, kEach = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store_->Ingest(JobDelivery(id, t * 1000 + i, "queued")).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.deliveries_committed, uint64_t{kThreads * kEach});
  // Group commit: concurrent deliveries share transactions.
  EXPECT_LT(stats.commits, stats.deliveries_committed);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), kThreads * kEach);
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), kThreads * kEach);
}

TEST_F(StoreTest, CloseFinishesQueuedWritesThenRefuses) {
  ASSERT_TRUE(store_->Ingest(JobDelivery("before", 1, "queued")).ok());
  store_->Close();
  auto r = store_->Ingest(JobDelivery("after", 2, "queued"));
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 1);
}

TEST_F(StoreTest, ReportsWritable) { EXPECT_TRUE(store_->CheckWritable().ok()); }

TEST_F(StoreTest, CheckpointsRunInTheBackgroundWhileOpen) {
  // Incompressible bodies, so the WAL passes the checkpoint threshold fast.
  uint64_t x = 88172645463325252ULL;
  auto random_body = [&x] {
    std::string b(8000, '\0');
    for (char& c : b) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>('a' + x % 26);
    }
    return b;
  };
  for (int i = 0; i < 600; ++i) {
    Delivery d = JobDelivery("ck-" + std::to_string(i), 100 + i, "queued");
    d.body = random_body();
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }
  // The database file itself grows while the store is open: the WAL is being
  // copied back by the checkpointer (the writer's connection no longer
  // checkpoints on its own below 64 MB of WAL).
  struct stat st {};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (::stat(dir_.File("relayq.db").c_str(), &st) == 0 && st.st_size < 2'000'000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(st.st_size, 2'000'000);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 600);
}

// Every stored body of the store at `path`, by delivery id, decoded with the
// store's own dictionaries.
std::map<std::string, std::pair<std::string, uint32_t>> StoredBodies(const std::string& path) {
  auto db = OpenDb(path, SQLITE_OPEN_READONLY);
  EXPECT_TRUE(db.ok());
  std::map<uint32_t, std::shared_ptr<const BodyDictionary>> dictionaries;
  auto prepared = Stmt::Prepare(db->get(), "SELECT bytes FROM body_dictionaries");
  Stmt d = std::move(*prepared);
  for (auto row = d.Step(); row.ok() && *row; row = d.Step()) {
    auto dictionary = *BodyDictionary::FromBytes(d.Blob(0));
    dictionaries[dictionary->id()] = dictionary;
  }
  auto lookup = [&](uint32_t id) -> const BodyDictionary* {
    auto it = dictionaries.find(id);
    return it == dictionaries.end() ? nullptr : it->second.get();
  };
  std::map<std::string, std::pair<std::string, uint32_t>> out;
  prepared = Stmt::Prepare(db->get(), "SELECT id, body_codec, body FROM deliveries");
  Stmt s = std::move(*prepared);
  for (auto row = s.Step(); row.ok() && *row; row = s.Step()) {
    auto body = DecodeBody(s.Text(1), s.Blob(2), lookup);
    EXPECT_TRUE(body.ok()) << s.Text(0) << ": " << body.status().ToString();
    out[s.Text(0)] = {body.ok() ? *body : "", DictionaryIdOf(s.Text(1), s.Blob(2))};
  }
  return out;
}

TEST(StoreDictionaryTest, LaterBodiesUseADictionaryTrainedOnEarlierOnesAcrossRestarts) {
  testing::TempDir dir;
  testing::FakeClock clock;
  StoreOptions o;
  o.path = dir.File("relayq.db");
  o.dictionary_after = 60;
  std::map<std::string, std::string> sent;
  auto deliver = [&](Store& store, int i) {
    testing::JobSpec spec;
    spec.job_id = 5000 + i;
    spec.run_id = 900 + i / 3;
    spec.name = "transcribe-" + std::to_string(i);
    Delivery d;
    d.id = "dict-" + std::to_string(i);
    d.event = "workflow_job";
    d.action = "queued";
    d.repository = spec.repository;
    d.received_at = 1767225600000 + i;
    d.body = testing::WorkflowJobPayload(spec);
    sent[d.id] = d.body;
    ASSERT_TRUE(store.Ingest(std::move(d)).ok());
  };
  {
    auto opened = Store::Open(o, clock);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto store = std::move(*opened);
    for (int i = 0; i < 60; ++i) deliver(*store, i);
    // Training runs in the background after the 60th; wait for its row.
    testing::SqliteReader db(o.path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (db.Count("SELECT count(*) FROM body_dictionaries") == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(db.Count("SELECT count(*) FROM body_dictionaries"), 1);
    EXPECT_EQ(db.Value("SELECT event || ':' || samples FROM body_dictionaries"), "workflow_job:60");
    // Published right after its row commits: the next deliveries use it
    // (allow the trainer a moment between its commit and publishing).
    for (int i = 60; i < 80; ++i) deliver(*store, i);
  }
  {
    // After a restart the dictionary is loaded at once.
    auto opened = Store::Open(o, clock);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto store = std::move(*opened);
    for (int i = 80; i < 90; ++i) deliver(*store, i);
  }
  auto stored = StoredBodies(o.path);
  ASSERT_EQ(stored.size(), 90u);
  testing::SqliteReader db(o.path);
  const uint32_t id = static_cast<uint32_t>(db.Count("SELECT id FROM body_dictionaries"));
  for (int i = 0; i < 90; ++i) {
    const std::string key = "dict-" + std::to_string(i);
    EXPECT_EQ(stored[key].first, sent[key]) << key;  // byte for byte
    if (i < 60) {
      EXPECT_EQ(stored[key].second, 0u) << key;
    } else if (i >= 80) {
      EXPECT_EQ(stored[key].second, id) << key;
    }
  }
  const int64_t plain_bytes = db.Count(
      "SELECT sum(length(body)) FROM deliveries WHERE id IN "
      "('dict-0','dict-1','dict-2','dict-3','dict-4')");
  const int64_t dict_bytes = db.Count(
      "SELECT sum(length(body)) FROM deliveries WHERE id IN "
      "('dict-85','dict-86','dict-87','dict-88','dict-89')");
  EXPECT_LT(dict_bytes * 2, plain_bytes)
      << "with dictionary " << dict_bytes << " vs " << plain_bytes;
}

}  // namespace
}  // namespace relayq::store
