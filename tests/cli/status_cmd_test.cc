// FollowRequest (`relayq status --wait`, and `relayq dispatch --wait` after
// it): driven by a scripted StorySource whose reads return prepared stories
// or errors in turn, with no wait between reads.
#include "cli/status_cmd.h"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>

#include "cli/audit_cmd.h"

namespace relayq::cli {
namespace {

using nlohmann::json;

// Answers each Story() call with the next scripted answer; the last one
// repeats.
class ScriptedSource final : public StorySource {
 public:
  void Then(Result<json> answer) { answers_.push_back(std::move(answer)); }

  Result<json> Story(int64_t id) override {
    ++reads;
    last_id = id;
    Result<json> a = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return a;
  }

  int reads = 0;
  int64_t last_id = 0;

 private:
  std::deque<Result<json>> answers_;
};

json Step(const std::string& step, const std::string& detail, int64_t request = 1) {
  return {{"at", "2026-01-01T00:00:00Z"},
          {"request_id", request},
          {"depth", request - 1},
          {"step", step},
          {"detail", detail},
          {"run_url", nullptr}};
}

json Story(const std::string& outcome, std::vector<json> steps) {
  return {{"id", 1},
          {"outcome", outcome},
          {"finished", outcome != "in_progress"},
          {"outcome_why", "run 7 ended " + outcome},
          {"steps", steps}};
}

FollowOptions Fast() {
  FollowOptions o;
  o.interval = std::chrono::milliseconds(0);
  o.max_read_failures = 3;
  return o;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(FollowRequestTest, PrintsEachStepOnceAndExitsZeroOnSuccess) {
  ScriptedSource source;
  json submitted = Step("submitted", "transcribe_mac.yml on main");
  json dispatched = Step("dispatched", "GitHub accepted it; run 7");
  source.Then(Story("in_progress", {submitted}));
  source.Then(Story("in_progress", {submitted, dispatched}));
  // A chain dispatched later keeps it going.
  source.Then(Story("in_progress", {submitted, dispatched, Step("chained", "summarize")}));
  source.Then(Story("success", {submitted, dispatched, Step("chained", "summarize"),
                                Step("run_finished", "run 8 success", 2)}));
  std::ostringstream out, err;
  json last;
  EXPECT_EQ(FollowRequest(source, 1, Fast(), out, err, &last), 0);
  EXPECT_EQ(source.reads, 4);
  EXPECT_EQ(source.last_id, 1);
  EXPECT_EQ(Count(out.str(), "submitted"), 1u) << out.str();
  EXPECT_EQ(Count(out.str(), "dispatched"), 1u);
  EXPECT_EQ(Count(out.str(), "chained"), 1u);
  EXPECT_NE(out.str().find("request 2"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("request 1: success (run 7 ended success)"), std::string::npos);
  EXPECT_EQ(last["outcome"], "success");
  EXPECT_TRUE(err.str().empty()) << err.str();
}

TEST(FollowRequestTest, FailureAndCancelledExitOne) {
  for (const char* outcome : {"failure", "cancelled"}) {
    ScriptedSource source;
    source.Then(Story(outcome, {Step("run_finished", outcome)}));
    std::ostringstream out, err;
    EXPECT_EQ(FollowRequest(source, 1, Fast(), out, err), 1) << outcome;
    EXPECT_NE(out.str().find(std::string("request 1: ") + outcome), std::string::npos);
  }
}

TEST(FollowRequestTest, UnknownIdOrRefusedTokenEndsAtOnce) {
  for (const Status& s : {Status::NotFound("no request 9"),
                          Status::PermissionDenied("relayq at http://x refused the admin token")}) {
    ScriptedSource source;
    source.Then(s);
    std::ostringstream out, err;
    EXPECT_EQ(FollowRequest(source, 9, Fast(), out, err), 1);
    EXPECT_EQ(source.reads, 1);
    EXPECT_EQ(err.str(), "relayq: " + s.message() + "\n");
  }
}

TEST(FollowRequestTest, RidesOutAFewUnreachableReadsButNotMore) {
  ScriptedSource passing;
  passing.Then(Status::Unavailable("cannot connect to pi.local:8081"));
  passing.Then(Status::Unavailable("cannot connect to pi.local:8081"));
  passing.Then(Story("success", {Step("submitted", "x")}));
  std::ostringstream out, err;
  EXPECT_EQ(FollowRequest(passing, 1, Fast(), out, err), 0);
  EXPECT_EQ(Count(err.str(), "trying again"), 2u) << err.str();

  ScriptedSource down;
  down.Then(Status::Unavailable("cannot connect to pi.local:8081"));
  std::ostringstream out2, err2;
  EXPECT_EQ(FollowRequest(down, 1, Fast(), out2, err2), 1);
  EXPECT_EQ(down.reads, 3);
}

TEST(FollowRequestTest, StepWhoseDetailChangesIsShownAgain) {
  ScriptedSource source;
  source.Then(Story("in_progress", {Step("queued", "not sent yet; last error: 502")}));
  source.Then(Story("in_progress", {Step("queued", "not sent yet; last error: 503")}));
  source.Then(Story("failure", {Step("queued", "not sent yet; last error: 503"),
                                Step("dispatch_failed", "workflow not found")}));
  std::ostringstream out, err;
  EXPECT_EQ(FollowRequest(source, 1, Fast(), out, err), 1);
  EXPECT_EQ(Count(out.str(), "queued"), 2u) << out.str();
  EXPECT_EQ(Count(out.str(), "dispatch_failed"), 1u);
}

TEST(StoryTableTest, OneLinePerStepWithTimeAndRunUrl) {
  json step = Step("dispatched", "GitHub accepted it; run 7");
  step["run_url"] = "https://github.com/o/r/actions/runs/7";
  json story = Story("in_progress", {Step("submitted", "x\x1b[31m"), step});
  story["workflow"] = "t.yml";
  story["ref"] = "main";
  story["repository"] = "o/r";
  std::string table = StoryTable(story);
  EXPECT_NE(table.find("request 1: t.yml on main of o/r"), std::string::npos) << table;
  EXPECT_NE(table.find("request 1: in progress"), std::string::npos) << table;
  EXPECT_NE(table.find("2026-01-01 00:00:00  request 1"), std::string::npos) << table;
  EXPECT_NE(table.find("https://github.com/o/r/actions/runs/7"), std::string::npos) << table;
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << "control characters are escaped";
}

}  // namespace
}  // namespace relayq::cli
