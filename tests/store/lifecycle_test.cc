#include "store/lifecycle.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace relayq::store {
namespace {

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

JobEvent Event(const std::string& action) {
  JobEvent e;
  e.job_id = 7;
  e.run_id = 70;
  e.repository = "o/r";
  e.workflow_name = "transcribe_mac";
  e.name = "transcribe";
  e.labels = {"self-hosted", "macmini"};
  e.action = action;
  e.status = action;
  e.created_at = kT0;
  // GitHub's quirk: started_at is set on queued events too.
  e.started_at = action == "queued" || action == "waiting" ? kT0 : kT0 + 30'000;
  if (action == "in_progress" || action == "completed") {
    e.runner_name = "macmini-1";
    e.runner_group = "Default";
  }
  if (action == "completed") {
    e.conclusion = "success";
    e.completed_at = kT0 + 330'000;
  }
  return e;
}

JobState Replay(const std::vector<JobEvent>& events) {
  std::optional<JobState> s;
  int64_t received = kT0;
  for (const auto& e : events) s = MergeJobEvent(s, e, received += 1000).state;
  return *s;
}

// The queued_at Replay(events) must end with: creation, unless the job was
// first seen waiting; then when it was seen to move on (Replay's received
// times are kT0 + 1 s, + 2 s, ...).
int64_t ExpectedQueuedAt(const std::vector<JobEvent>& events) {
  if (events.front().status != "waiting") return kT0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].status != "waiting") return kT0 + 1000 * static_cast<int64_t>(i + 1);
  }
  return kT0;
}

void ExpectCompleted(const JobState& s, const std::string& order, int64_t queued_at = kT0) {
  EXPECT_EQ(s.status, "completed") << order;
  EXPECT_EQ(s.conclusion, "success") << order;
  EXPECT_EQ(s.runner_name, "macmini-1") << order;
  EXPECT_EQ(s.queued_at, queued_at) << order;
  EXPECT_EQ(s.started_at, kT0 + 30'000) << order;
  EXPECT_EQ(s.completed_at, kT0 + 330'000) << order;
  EXPECT_EQ(s.WaitSeconds(), (kT0 + 30'000 - queued_at) / 1000) << order;
  EXPECT_EQ(s.DurationSeconds(), 300) << order;
  EXPECT_EQ(s.labels, (std::vector<std::string>{"self-hosted", "macmini"})) << order;
}

// Every order of a job's four events, each possibly delivered twice, ends in
// the same, latest true state (queue time aside: it starts when the job is
// seen to leave `waiting`, see JobLifecycleTest.QueueTimeStartsWhenApproved).
TEST(JobLifecycleTest, EveryOrderEndsInTheLatestTrueState) {
  std::vector<std::string> actions = {"waiting", "queued", "in_progress", "completed"};
  std::sort(actions.begin(), actions.end());
  int orders = 0;
  do {
    std::vector<JobEvent> events;
    std::string order;
    for (const auto& a : actions) {
      events.push_back(Event(a));
      order += a + " ";
    }
    ExpectCompleted(Replay(events), order, ExpectedQueuedAt(events));
    // Every event delivered twice in a row.
    std::vector<JobEvent> doubled;
    for (const auto& e : events) {
      doubled.push_back(e);
      doubled.push_back(e);
    }
    ExpectCompleted(Replay(doubled), "doubled " + order, ExpectedQueuedAt(doubled));
    ++orders;
  } while (std::next_permutation(actions.begin(), actions.end()));
  EXPECT_EQ(orders, 24);
}

TEST(JobLifecycleTest, EveryOrderOfQueuedAndStartedIsInProgress) {
  for (auto events : {std::vector<JobEvent>{Event("queued"), Event("in_progress")},
                      std::vector<JobEvent>{Event("in_progress"), Event("queued")}}) {
    JobState s = Replay(events);
    EXPECT_EQ(s.status, "in_progress");
    EXPECT_EQ(s.WaitSeconds(), 30);
    EXPECT_FALSE(s.DurationSeconds().has_value());
  }
}

TEST(JobLifecycleTest, CompletedNeverReturnsToQueued) {
  auto m1 = MergeJobEvent(std::nullopt, Event("completed"), kT0);
  auto m2 = MergeJobEvent(m1.state, Event("queued"), kT0 + 1);
  EXPECT_EQ(m2.state.status, "completed");
  EXPECT_FALSE(m2.status_changed);
  EXPECT_FALSE(m2.changed);
}

TEST(JobLifecycleTest, WaitingTwiceIsOneState) {
  auto m1 = MergeJobEvent(std::nullopt, Event("waiting"), kT0);
  EXPECT_EQ(m1.state.status, "waiting");
  auto m2 = MergeJobEvent(m1.state, Event("waiting"), kT0 + 1);
  EXPECT_FALSE(m2.changed);
  auto m3 = MergeJobEvent(m2.state, Event("queued"), kT0 + 2);
  EXPECT_EQ(m3.state.status, "queued");
  EXPECT_TRUE(m3.status_changed);
}

// Regression (issue 12, case 7): queued_at was the job's created_at, so a job
// approved after a long environment wait counted the wait as queue time and
// was cancelled the moment it was approved.
TEST(JobLifecycleTest, ApprovedAfterALongWaitCountsQueueTimeFromApproval) {
  const int64_t approved = kT0 + 3 * 3600'000;
  auto waiting = MergeJobEvent(std::nullopt, Event("waiting"), kT0 + 500);
  EXPECT_EQ(waiting.state.queued_at, kT0);  // until it moves on: its creation
  auto queued = MergeJobEvent(waiting.state, Event("queued"), approved);
  EXPECT_TRUE(queued.status_changed);
  EXPECT_EQ(queued.state.queued_at, approved);
  // Redelivered, the queued event changes nothing.
  auto again = MergeJobEvent(queued.state, Event("queued"), approved + 60'000);
  EXPECT_FALSE(again.changed);
  JobEvent started = Event("in_progress");
  started.started_at = approved + 20'000;
  auto running = MergeJobEvent(again.state, started, approved + 21'000);
  EXPECT_EQ(running.state.queued_at, approved);
  EXPECT_EQ(running.state.WaitSeconds(), 20);
}

// A job approved and started before relayq heard of its queued event: the
// queue time ends at the start, never after it.
TEST(JobLifecycleTest, ApprovedJobSeenFirstRunningWaitedNoLongerThanItsStart) {
  auto waiting = MergeJobEvent(std::nullopt, Event("waiting"), kT0 + 500);
  auto running = MergeJobEvent(waiting.state, Event("in_progress"), kT0 + 90'000);
  EXPECT_EQ(running.state.queued_at, kT0 + 30'000);
  EXPECT_EQ(running.state.WaitSeconds(), 0);
}

// Regression (issue 12, case 11): pending and requested were the same stage
// as queued, so the queued event that followed changed nothing and the job
// was never judged for a fallback.
TEST(JobLifecycleTest, PendingOrRequestedThenQueuedIsAStatusChange) {
  for (const char* first : {"pending", "requested"}) {
    JobEvent e = Event("queued");
    e.status = first;  // GitHub's status; the webhook action still says queued
    auto m1 = MergeJobEvent(std::nullopt, e, kT0 + 1000);
    EXPECT_EQ(m1.state.status, first);
    auto m2 = MergeJobEvent(m1.state, Event("queued"), kT0 + 60'000);
    EXPECT_EQ(m2.state.status, "queued") << first;
    EXPECT_TRUE(m2.status_changed) << first;
    EXPECT_EQ(m2.state.queued_at, kT0 + 60'000) << first;
    // And never back.
    auto m3 = MergeJobEvent(m2.state, e, kT0 + 61'000);
    EXPECT_EQ(m3.state.status, "queued") << first;
    EXPECT_FALSE(m3.status_changed) << first;
  }
}

TEST(JobLifecycleTest, RunnerOnQueuedEventIsIgnored) {
  JobEvent q = Event("queued");
  q.runner_name = "ghost";
  auto m = MergeJobEvent(std::nullopt, q, kT0);
  EXPECT_FALSE(m.state.runner_name.has_value());
  EXPECT_FALSE(m.state.started_at.has_value());
}

TEST(JobLifecycleTest, CancelledWhileQueuedHasNoStartOrWait) {
  JobEvent c = Event("completed");
  c.conclusion = "cancelled";
  c.runner_name = std::nullopt;
  c.runner_group = std::nullopt;
  auto m = MergeJobEvent(MergeJobEvent(std::nullopt, Event("queued"), kT0).state, c, kT0 + 1);
  EXPECT_EQ(m.state.status, "completed");
  EXPECT_EQ(m.state.conclusion, "cancelled");
  EXPECT_FALSE(m.state.started_at.has_value());
  EXPECT_FALSE(m.state.WaitSeconds().has_value());
}

TEST(JobLifecycleTest, SameSecondTimestampsDecideByStage) {
  // All three events carry the same second; lifecycle order still wins.
  JobEvent q = Event("queued"), p = Event("in_progress"), c = Event("completed");
  for (JobEvent* e : {&q, &p, &c}) {
    e->created_at = kT0;
    if (e != &q) e->started_at = kT0;
  }
  c.completed_at = kT0;
  JobState s = Replay({c, p, q});
  EXPECT_EQ(s.status, "completed");
  EXPECT_EQ(s.WaitSeconds(), 0);
  EXPECT_EQ(s.DurationSeconds(), 0);
}

RunEvent RunAt(const std::string& action, int64_t updated, int64_t attempt = 1) {
  RunEvent e;
  e.run_id = 70;
  e.attempt = attempt;
  e.repository = "o/r";
  e.workflow_path = ".github/workflows/transcribe_audio.yml";
  e.action = action;
  e.status = action == "requested" ? "queued" : action;
  if (action == "completed") e.conclusion = "success";
  e.created_at = kT0;
  e.updated_at = updated;
  return e;
}

TEST(RunLifecycleTest, EveryOrderEndsCompleted) {
  std::vector<RunEvent> events = {RunAt("requested", kT0), RunAt("in_progress", kT0 + 1000),
                                  RunAt("completed", kT0 + 9000)};
  std::vector<int> idx = {0, 1, 2};
  do {
    std::optional<RunState> s;
    for (int i : idx) s = MergeRunEvent(s, events[static_cast<size_t>(i)]).state;
    EXPECT_EQ(s->status, "completed");
    EXPECT_EQ(s->conclusion, "success");
    EXPECT_EQ(s->updated_at, kT0 + 9000);
  } while (std::next_permutation(idx.begin(), idx.end()));
}

TEST(RunLifecycleTest, MissingDisplayTitleIsFilledLater) {
  RunEvent a = RunAt("requested", kT0);
  RunEvent b = RunAt("in_progress", kT0 + 1000);
  b.display_title = "transcribe [relayq:12]";
  auto m = MergeRunEvent(MergeRunEvent(std::nullopt, a).state, b);
  EXPECT_EQ(m.state.display_title, "transcribe [relayq:12]");
}

}  // namespace
}  // namespace relayq::store
