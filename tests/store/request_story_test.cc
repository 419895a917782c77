// StoreReader::Request: a dispatch request's story told from the rows the
// daemon writes (requests, runs, jobs, routing actions), inserted directly
// as the action store and the lifecycle would leave them: a fallback that
// replaced a run, a chain that followed one, a re-attempted run, a send that
// is still being retried, and an unknown id. Also the `requests` listing.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/query.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/store/store_fixture.h"

namespace relayq::store {
namespace {

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kSec = 1000;

std::string N(int64_t v) { return std::to_string(v); }

class RequestStoryTest : public StoreFixture {
 protected:
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("relayq.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  void Request(int64_t id, const std::string& workflow, const std::string& status,
               std::optional<int64_t> run, std::optional<int64_t> parent, int64_t at) {
    Sql("INSERT INTO dispatch_requests (id, repository, workflow, ref, inputs, status, run_id, "
        "parent_id, fallback_count, created_at, updated_at) VALUES (" +
        N(id) + ", 'o/r', '" + workflow + "', 'main', '{\"url\":\"https://e.com/a.mp3\"}', '" +
        status + "', " + (run ? N(*run) : "NULL") + ", " + (parent ? N(*parent) : "NULL") + ", " +
        (parent ? "1" : "0") + ", " + N(at) + ", " + N(at) + ")");
  }

  void Run(int64_t id, int attempt, const std::string& workflow, const std::string& status,
           std::optional<std::string> conclusion, int64_t at) {
    Sql("INSERT INTO runs (id, attempt, repository, workflow_path, status, conclusion, html_url, "
        "created_at, updated_at) VALUES (" +
        N(id) + ", " + N(attempt) + ", 'o/r', '.github/workflows/" + workflow + "', '" + status +
        "', " + (conclusion ? "'" + *conclusion + "'" : "NULL") +
        ", 'https://github.com/o/r/actions/runs/" + N(id) + "', " + N(at) + ", " + N(at) + ")");
  }

  void Job(int64_t id, int64_t run, int attempt, const std::string& status,
           std::optional<std::string> runner, std::optional<std::string> conclusion,
           int64_t queued_at, const std::string& labels = "[\"self-hosted\",\"macmini\"]") {
    Sql("INSERT INTO jobs (id, run_id, run_attempt, repository, name, labels, status, conclusion, "
        "runner_name, queued_at, started_at, completed_at, updated_at) VALUES (" +
        N(id) + ", " + N(run) + ", " + N(attempt) + ", 'o/r', 'transcribe', '" + labels + "', '" +
        status + "', " + (conclusion ? "'" + *conclusion + "'" : "NULL") + ", " +
        (runner ? "'" + *runner + "'" : "NULL") + ", " + N(queued_at) + ", " +
        (runner ? N(queued_at + 5 * kSec) : "NULL") + ", " +
        (status == "completed" ? N(queued_at + 60 * kSec) : "NULL") + ", " + N(queued_at) + ")");
  }

  // A routing action row; `result` and `payload` are JSON texts.
  void Action(int64_t id, const std::string& kind, const std::string& key,
              const std::string& status, std::optional<int64_t> run, const std::string& payload,
              std::optional<std::string> result, int64_t at, std::optional<int64_t> done_at,
              const std::string& reason = "", std::optional<std::string> last_error = {},
              std::optional<int64_t> next_attempt_at = {}) {
    Sql("INSERT INTO actions (id, kind, key, repository, status, next_attempt_at, attempts, "
        "last_error, reason, payload, result, run_id, run_attempt, created_at, updated_at, "
        "done_at) VALUES (" +
        N(id) + ", '" + kind + "', '" + key + "', 'o/r', '" + status + "', " +
        (next_attempt_at ? N(*next_attempt_at) : "NULL") + ", 0, " +
        (last_error ? "'" + *last_error + "'" : "NULL") + ", '" + reason + "', '" + payload +
        "', " + (result ? "'" + *result + "'" : "NULL") + ", " + (run ? N(*run) : "NULL") + ", " +
        (run ? "1" : "NULL") + ", " + N(at) + ", " + N(at) + ", " +
        (done_at ? N(*done_at) : "NULL") + ")");
  }

  std::unique_ptr<StoreReader> Reader() {
    auto r = StoreReader::Open(dir_.File("relayq.db"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  RequestStory Story(int64_t id) {
    auto reader = Reader();
    auto story = reader->Request(id);
    EXPECT_TRUE(story.ok()) << story.status().ToString();
    return story.ok() ? std::move(*story) : RequestStory();
  }

  static std::vector<std::string> Steps(const RequestStory& s) {
    std::vector<std::string> out;
    for (const StoryStep& step : s.steps) out.push_back(N(step.request_id) + ":" + step.step);
    return out;
  }

  static const StoryStep* Find(const RequestStory& s, const std::string& step) {
    for (const StoryStep& x : s.steps) {
      if (x.step == step) return &x;
    }
    return nullptr;
  }

  // Request 1 (transcribe_mac.yml, run 100) fell back to request 2
  // (transcribe_rpi.yml, run 200), whose success chained request 3
  // (summarize.yml, run 300).
  void FallbackThenChain(const std::string& chained_run_status,
                         std::optional<std::string> chained_conclusion) {
    Request(1, "transcribe_mac.yml", "dispatched", 100, std::nullopt, kT0);
    Action(1, "dispatch", "dispatch:1", "done", std::nullopt, "{\"request_id\":1}",
           "{\"request_id\":1,\"run_id\":100,\"html_url\":\"https://github.com/o/r/actions/runs/"
           "100\"}",
           kT0, kT0 + kSec, "submitted with relayq dispatch");
    Run(100, 1, "transcribe_mac.yml", "completed", "cancelled", kT0 + 2 * kSec);
    Job(1000, 100, 1, "completed", std::nullopt, "cancelled", kT0 + 2 * kSec);
    Request(2, "transcribe_rpi.yml", "dispatched", 200, 1, kT0 + 9 * kSec);
    Action(2, "fallback", "fallback:100:1", "done", 100,
           "{\"route\":\"transcribe\",\"request_id\":1}",
           "{\"stage\":\"done\",\"request_id\":2,\"run_id\":200,\"target_workflow\":"
           "\"transcribe_rpi.yml\",\"html_url\":\"https://github.com/o/r/actions/runs/200\","
           "\"decided_at\":" +
               N(kT0 + 8 * kSec) + ",\"decision\":\"queue_timeout 5s passed\"}",
           kT0 + 3 * kSec, kT0 + 10 * kSec, "route transcribe: job 1000 queued");
    Run(200, 1, "transcribe_rpi.yml", "completed", "success", kT0 + 80 * kSec);
    Job(2000, 200, 1, "completed", "pi-1", "success", kT0 + 11 * kSec,
        "[\"self-hosted\",\"rpi4\"]");
    Request(3, "summarize.yml", "dispatched", 300, 2, kT0 + 81 * kSec);
    Action(3, "chain", "chain:summarize:200:1", "done", 200,
           "{\"chain\":\"summarize\",\"workflow\":\"summarize.yml\",\"parent_request_id\":2}",
           "{\"stage\":\"done\",\"request_id\":3,\"run_id\":300,\"html_url\":\"https://"
           "github.com/o/r/actions/runs/300\"}",
           kT0 + 80 * kSec, kT0 + 82 * kSec, "chain summarize after transcribe_rpi.yml run 200");
    Run(300, 1, "summarize.yml", chained_run_status, chained_conclusion, kT0 + 90 * kSec);
  }
};

TEST_F(RequestStoryTest, UnknownIdIsNotFound) {
  auto reader = Reader();
  auto story = reader->Request(42);
  ASSERT_FALSE(story.ok());
  EXPECT_EQ(story.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(story.status().message(), "no request 42");
}

TEST_F(RequestStoryTest, FallbackAndChainAreFollowedToTheLastRun) {
  FallbackThenChain("completed", "success");
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kSuccess) << s.outcome_why;
  EXPECT_NE(s.outcome_why.find("run 300"), std::string::npos) << s.outcome_why;
  EXPECT_EQ(Steps(s), (std::vector<std::string>{
                          "1:submitted", "1:dispatched", "1:job_queued", "1:run_finished",
                          "1:fallback", "2:submitted", "2:dispatched", "2:job_queued",
                          "2:job_started", "1:job_finished", "2:job_finished", "2:run_finished",
                          "2:chained", "3:submitted", "3:dispatched", "3:run_finished"}));
  const StoryStep* dispatched = Find(s, "dispatched");
  ASSERT_NE(dispatched, nullptr);
  EXPECT_EQ(dispatched->run_id, 100);
  EXPECT_EQ(dispatched->run_url, "https://github.com/o/r/actions/runs/100");
  const StoryStep* fallback = Find(s, "fallback");
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->at, kT0 + 8 * kSec);  // when it was decided
  EXPECT_EQ(fallback->new_request_id, 2);
  EXPECT_EQ(fallback->run_id, 200);
  EXPECT_EQ(fallback->run_url, "https://github.com/o/r/actions/runs/200");
  EXPECT_NE(fallback->detail.find("transcribe_rpi.yml"), std::string::npos);
  EXPECT_NE(fallback->detail.find("queue_timeout 5s passed"), std::string::npos);
  const StoryStep* started = Find(s, "job_started");
  ASSERT_NE(started, nullptr);
  EXPECT_NE(started->detail.find("pi-1"), std::string::npos);
  const StoryStep* chained = Find(s, "chained");
  ASSERT_NE(chained, nullptr);
  EXPECT_EQ(chained->new_request_id, 3);
  EXPECT_EQ(chained->depth, 1);
  EXPECT_NE(chained->detail.find("summarize"), std::string::npos);
  // The submitted step of a fallback's request says who submitted it.
  EXPECT_NE(s.steps[5].detail.find("fallback of request 1"), std::string::npos);
  ASSERT_EQ(s.requests.size(), 3u);
  EXPECT_EQ(s.runs.size(), 3u);
  EXPECT_EQ(s.actions.size(), 3u);
  EXPECT_EQ(s.request.Get("id")->i, 1);
  EXPECT_EQ(s.request.Get("run_url")->s, "https://github.com/o/r/actions/runs/100");
}

TEST_F(RequestStoryTest, ChainStillRunningKeepsItInProgressAndItsFailureFailsIt) {
  FallbackThenChain("in_progress", std::nullopt);
  EXPECT_EQ(Story(1).outcome, RequestOutcome::kInProgress);
  Sql("UPDATE runs SET status = 'completed', conclusion = 'failure' WHERE id = 300");
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kFailure);
  EXPECT_NE(s.outcome_why.find("run 300"), std::string::npos) << s.outcome_why;
  // The chained request's own story starts at it.
  RequestStory chained = Story(3);
  EXPECT_EQ(chained.outcome, RequestOutcome::kFailure);
  EXPECT_EQ(Steps(chained).front(), "3:submitted");
  EXPECT_NE(chained.steps.front().detail.find("chain summarize after request 2"), std::string::npos)
      << chained.steps.front().detail;
}

TEST_F(RequestStoryTest, PendingChainExtendsTheWait) {
  Request(1, "transcribe_audio.yml", "dispatched", 100, std::nullopt, kT0);
  Run(100, 1, "transcribe_audio.yml", "completed", "success", kT0 + 60 * kSec);
  // The run's completion recorded the chain in the same transaction; it is
  // not sent yet.
  Action(5, "chain", "chain:summarize:100:1", "pending", 100,
         "{\"chain\":\"summarize\",\"workflow\":\"summarize.yml\"}", std::nullopt, kT0 + 60 * kSec,
         std::nullopt, "chain summarize", std::string("GitHub answered 502"), kT0 + 70 * kSec);
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kInProgress);
  const StoryStep* pending = Find(s, "chain_pending");
  ASSERT_NE(pending, nullptr);
  EXPECT_NE(pending->detail.find("GitHub answered 502"), std::string::npos) << pending->detail;
  EXPECT_NE(pending->detail.find("next try"), std::string::npos) << pending->detail;
}

TEST_F(RequestStoryTest, ReattemptedRunDecidesByItsLatestAttempt) {
  Request(1, "transcribe_audio.yml", "dispatched", 100, std::nullopt, kT0);
  Run(100, 1, "transcribe_audio.yml", "completed", "failure", kT0 + 60 * kSec);
  Job(1000, 100, 1, "completed", "pi-1", "failure", kT0 + 2 * kSec);
  EXPECT_EQ(Story(1).outcome, RequestOutcome::kFailure);
  Run(100, 2, "transcribe_audio.yml", "in_progress", std::nullopt, kT0 + 120 * kSec);
  Job(1001, 100, 2, "in_progress", "pi-2", std::nullopt, kT0 + 121 * kSec);
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kInProgress) << s.outcome_why;
  const StoryStep* rerun = Find(s, "run_requested");
  ASSERT_NE(rerun, nullptr);
  EXPECT_EQ(rerun->run_attempt, 2);
  Sql("UPDATE runs SET status = 'completed', conclusion = 'success' WHERE attempt = 2");
  s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kSuccess) << s.outcome_why;
  EXPECT_NE(s.outcome_why.find("attempt 2"), std::string::npos) << s.outcome_why;
  EXPECT_EQ(s.runs.size(), 2u);
}

TEST_F(RequestStoryTest, AbortedFallbackLeavesTheRunToDecideAndCancelledIsItsOwnOutcome) {
  Request(1, "transcribe_mac.yml", "dispatched", 100, std::nullopt, kT0);
  Run(100, 1, "transcribe_mac.yml", "in_progress", std::nullopt, kT0 + kSec);
  Job(1000, 100, 1, "in_progress", "macmini-1", std::nullopt, kT0 + kSec);
  Action(2, "fallback", "fallback:100:1", "aborted", 100, "{\"route\":\"transcribe\"}",
         std::nullopt, kT0 + kSec, kT0 + 6 * kSec, "route transcribe: job 1000 queued",
         std::string("started on macmini-1"));
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kInProgress);
  const StoryStep* aborted = Find(s, "fallback_aborted");
  ASSERT_NE(aborted, nullptr);
  EXPECT_NE(aborted->detail.find("started on macmini-1"), std::string::npos) << aborted->detail;
  EXPECT_FALSE(aborted->new_request_id.has_value());
  Sql("UPDATE runs SET status = 'completed', conclusion = 'cancelled'");
  s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kCancelled) << s.outcome_why;
}

TEST_F(RequestStoryTest, RefusedFallbackSaysWhy) {
  Request(1, "transcribe_mac.yml", "dispatched", 100, std::nullopt, kT0);
  Run(100, 1, "transcribe_mac.yml", "queued", std::nullopt, kT0 + kSec);
  Action(2, "fallback", "fallback:100:1", "refused", 100, "{\"route\":\"transcribe\"}",
         std::nullopt, kT0 + kSec, std::nullopt,
         "route transcribe: request 1 already fell back 1 time", std::string("max_fallbacks"));
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kInProgress);
  const StoryStep* refused = Find(s, "fallback_refused");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->at, kT0 + kSec);
  EXPECT_NE(refused->detail.find("already fell back"), std::string::npos) << refused->detail;
  EXPECT_NE(refused->detail.find("max_fallbacks"), std::string::npos) << refused->detail;
}

TEST_F(RequestStoryTest, UnsentRequestShowsItsLastErrorAndNextTry) {
  Request(1, "transcribe_audio.yml", "pending", std::nullopt, std::nullopt, kT0);
  Action(1, "dispatch", "dispatch:1", "pending", std::nullopt, "{\"request_id\":1}", std::nullopt,
         kT0, std::nullopt, "submitted with relayq dispatch",
         std::string("cannot connect to api.github.com:443"), kT0 + 30 * kSec);
  RequestStory s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kInProgress);
  EXPECT_EQ(Steps(s), (std::vector<std::string>{"1:submitted", "1:queued"}));
  EXPECT_NE(s.steps[1].detail.find("cannot connect"), std::string::npos);
  EXPECT_NE(s.steps[1].detail.find("2026-01-01T00:00:30"), std::string::npos) << s.steps[1].detail;
  Sql("UPDATE dispatch_requests SET status = 'failed', last_error = 'workflow not found' "
      "WHERE id = 1");
  s = Story(1);
  EXPECT_EQ(s.outcome, RequestOutcome::kFailure);
  EXPECT_EQ(s.steps.back().step, "dispatch_failed");
}

TEST_F(RequestStoryTest, RequestsListNewestFirstWithTheirFields) {
  FallbackThenChain("completed", "success");
  auto reader = Reader();
  ListQuery q;
  q.kind = Kind::kRequests;
  auto page = reader->List(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].Get("id")->i, 3);
  for (const char* name : {"id", "repository", "workflow", "ref", "inputs", "status", "run_id",
                           "run_url", "parent_id", "fallback_count", "created_at"}) {
    EXPECT_NE(page->items[0].Get(name), nullptr) << name;
  }
  EXPECT_EQ(page->items[0].Get("inputs")->type, Field::Type::kJson);
  EXPECT_EQ(page->items[0].Get("parent_id")->i, 2);
  // The run URL comes from the run's webhook when no dispatch action has it.
  EXPECT_EQ(page->items[0].Get("run_url")->s, "https://github.com/o/r/actions/runs/300");
  q.status = "bogus";
  auto bad = reader->List(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  q.status = "dispatched";
  q.limit = 2;
  page = reader->List(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 2u);
  ASSERT_FALSE(page->next.empty());
  q.cursor = page->next;
  page = reader->List(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].Get("id")->i, 1);
}

}  // namespace
}  // namespace relayq::store
