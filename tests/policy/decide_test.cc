#include "policy/decide.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "policy/policy_loader.h"
#include "tests/fakes/fake_clock.h"

namespace relayq::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Kind = FallbackDecision::Kind;

std::shared_ptr<const Policy> MustParse(const std::string& text) {
  PolicyCheck check = ParsePolicy(text, "policy.yaml");
  EXPECT_TRUE(check.ok()) << FormatDiagnostics(check.diagnostics);
  return check.policy;
}

// Time is a FakeClock that only moves when a test advances it; a job is
// queued at the clock's start.
class DecideFallbackTest : public ::testing::Test {
 protected:
  DecideFallbackTest() {
    policy_ = MustParse(R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 5m
    fallback_workflow: transcribe_rpi.yml
    constraints: { max_size_mb: 200 }
  ffmpeg:
    match: { workflow: convert.yml }
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: convert_rpi.yml
    constraints: { needs_ffmpeg: true }
  listed:
    match: { workflow: convert_listed.yml }
    prefer: [macmini]
    fallback: [rpi4, ffmpeg]
    fallback_workflow: convert_rpi.yml
    constraints: { needs_ffmpeg: true }
  offline:
    match: { workflow: offline.yml }
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: offline_rpi.yml
    queue_timeout: 10m
    fallback_when_offline: true
    offline_grace: 1m
  same-workflow:
    match: { workflow: pooled.yml, repository: Me/Media }
    prefer: [macmini]
    fallback: [rpi4]
    fallback_inputs: { runner: rpi4, origin: "{{ run.html_url }}" }
    unknown_inputs: dispatch
    max_fallbacks: 2
  by-label:
    prefer: [heavy]
    fallback: [rpi3]
    fallback_workflow: light.yml
)");
    job_.job_id = 11;
    job_.run_id = 500;
    job_.run_attempt = 1;
    job_.repository = "me/media";
    job_.workflow_path = ".github/workflows/transcribe_mac.yml";
    job_.head_branch = "main";
    job_.run_html_url = "https://github.com/me/media/actions/runs/500";
    job_.labels = {"self-hosted", "macmini"};
    job_.status = "queued";
    job_.queued_at_ms = Now();
    job_.inputs =
        std::map<std::string, std::string>{{"url", "https://e.com/a.mp3"}, {"backend", "local"}};
  }

  int64_t Now() const { return ToUnixMillis(clock_.Now()); }
  FallbackDecision Decide(const RunnerAvailability* avail = nullptr) {
    return DecideFallback(*policy_, job_, avail, Now());
  }

  testing::FakeClock clock_;
  std::shared_ptr<const Policy> policy_;
  JobView job_;
};

TEST_F(DecideFallbackTest, MatchesByWorkflowBasename) {
  const Route* r = MatchRoute(*policy_, job_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "transcribe");
  job_.workflow_path = ".github/workflows/other.yml";
  EXPECT_EQ(MatchRoute(*policy_, job_), nullptr);
}

TEST_F(DecideFallbackTest, MatchLabelsDefaultToPrefer) {
  job_.workflow_path = ".github/workflows/transcribe_mac.yml";
  job_.labels = {"self-hosted", "rpi4"};  // not waiting on macmini: not governed
  EXPECT_EQ(MatchRoute(*policy_, job_), nullptr);
  job_.labels = {"self-hosted", "MacMini"};  // labels compare case-insensitively
  EXPECT_NE(MatchRoute(*policy_, job_), nullptr);
}

TEST_F(DecideFallbackTest, RouteWithoutWorkflowMatchesAnyWorkflowOnItsLabels) {
  job_.workflow_path = ".github/workflows/anything.yml";
  job_.labels = {"self-hosted", "heavy", "macmini"};
  const Route* r = MatchRoute(*policy_, job_);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "by-label");
}

TEST_F(DecideFallbackTest, RepositoryFilterIgnoresCase) {
  job_.workflow_path = ".github/workflows/pooled.yml";
  job_.repository = "ME/media";
  ASSERT_NE(MatchRoute(*policy_, job_), nullptr);
  EXPECT_EQ(MatchRoute(*policy_, job_)->name, "same-workflow");
  job_.repository = "me/other";
  EXPECT_EQ(MatchRoute(*policy_, job_), nullptr);
}

TEST_F(DecideFallbackTest, FirstMatchingRouteWins) {
  auto p = MustParse(R"(routes:
  first:
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: a.yml
  second:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi3]
    fallback_workflow: b.yml
)");
  EXPECT_EQ(MatchRoute(*p, job_)->name, "first");
}

TEST_F(DecideFallbackTest, NotGovernedWhenNoRouteMatches) {
  job_.workflow_path = ".github/workflows/unrelated.yml";
  FallbackDecision d = Decide();
  EXPECT_EQ(d.kind, Kind::kNotGoverned);
  EXPECT_EQ(d.route, nullptr);
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), std::nullopt);
}

// The deadline is queued_at + queue_timeout; at it the fallback is due.
TEST_F(DecideFallbackTest, DueExactlyAtTheDeadlineAndNotBefore) {
  const int64_t due = job_.queued_at_ms + 5 * 60 * 1000;
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), due);

  FallbackDecision d = Decide();
  EXPECT_EQ(d.kind, Kind::kNotDue);
  EXPECT_EQ(d.due_at_ms, due);

  clock_.Advance(minutes(5) - milliseconds(1));
  EXPECT_EQ(Decide().kind, Kind::kNotDue);

  clock_.Advance(milliseconds(1));
  d = Decide();
  ASSERT_EQ(d.kind, Kind::kDue);
  EXPECT_EQ(d.due_at_ms, due);
  EXPECT_EQ(d.route->name, "transcribe");
  EXPECT_EQ(d.idempotency_key, "fallback:500:1");
  EXPECT_EQ(d.target_workflow, "transcribe_rpi.yml");
  EXPECT_EQ(d.target_labels, std::vector<std::string>{"rpi4"});
  EXPECT_EQ(d.ref, "main");
  EXPECT_TRUE(d.inputs_known);
  EXPECT_EQ(d.inputs, *job_.inputs);  // the original inputs, unchanged
  EXPECT_FALSE(d.preferred_offline);
  EXPECT_NE(d.reason.find("queue_timeout 5m"), std::string::npos) << d.reason;

  clock_.Advance(minutes(30));
  EXPECT_EQ(Decide().kind, Kind::kDue);  // still due later: the executor's key makes it once
}

TEST_F(DecideFallbackTest, NoFallbackOnceTheJobStarted) {
  clock_.Advance(minutes(10));
  for (const char* status : {"in_progress", "completed", "waiting"}) {
    job_.status = status;
    FallbackDecision d = Decide();
    EXPECT_EQ(d.kind, Kind::kNotQueued) << status;
    EXPECT_NE(d.route, nullptr);
    EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), std::nullopt);
  }
}

TEST_F(DecideFallbackTest, MaxFallbacksStopsPingPong) {
  job_.fallback_count = 1;
  FallbackDecision d = Decide();
  ASSERT_EQ(d.kind, Kind::kRefused);
  EXPECT_EQ(d.refusal, RefusalReason::kMaxFallbacks);
  EXPECT_EQ(RefusalReasonName(d.refusal), "max_fallbacks");
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), std::nullopt);

  // A route with max_fallbacks: 2 lets the same request fall back once more.
  job_.workflow_path = ".github/workflows/pooled.yml";
  EXPECT_EQ(Decide().kind, Kind::kNotDue);
  job_.fallback_count = 2;
  EXPECT_EQ(Decide().kind, Kind::kRefused);
}

// max_size_mb: 200 means 200 MiB; at the limit is allowed, over it is not;
// an unknown size is allowed.
TEST_F(DecideFallbackTest, MaxSizeKeepsLargeInputsOffTheFallback) {
  clock_.Advance(minutes(6));
  struct Case {
    std::optional<int64_t> size;
    Kind want;
  } cases[] = {
      {std::nullopt, Kind::kDue},         {0, Kind::kDue},
      {200 * kBytesPerMb, Kind::kDue},    {200 * kBytesPerMb + 1, Kind::kRefused},
      {int64_t{5} << 40, Kind::kRefused},
  };
  for (const Case& c : cases) {
    job_.input_size_bytes = c.size;
    FallbackDecision d = Decide();
    EXPECT_EQ(d.kind, c.want) << (c.size ? *c.size : -1);
    if (d.kind == Kind::kRefused) {
      EXPECT_EQ(d.refusal, RefusalReason::kInputTooLarge);
    }
  }
  // Refused at once, before the deadline, so the scheduler need not wait for it.
  job_.input_size_bytes = 300 * kBytesPerMb;
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), std::nullopt);
}

TEST_F(DecideFallbackTest, NeedsCapabilityListedInFallbackLabelsIsMetWithoutRunnerStatus) {
  job_.workflow_path = ".github/workflows/convert_listed.yml";
  clock_.Advance(minutes(5));
  EXPECT_EQ(Decide(nullptr).kind, Kind::kDue);
}

// needs_ffmpeg with fallback [rpi4]: every runner labelled rpi4 must carry
// ffmpeg, or the fallback is refused.
TEST_F(DecideFallbackTest, NeedsCapabilityIsCheckedAgainstRunners) {
  job_.workflow_path = ".github/workflows/convert.yml";
  RunnerView mac{"mac", {"self-hosted", "macmini", "audio", "ffmpeg", "heavy"}, false, false};
  RunnerView pi_plain{"pi-a", {"self-hosted", "rpi4", "audio", "light"}, true, false};
  RunnerView pi_ffmpeg{"pi-b", {"self-hosted", "rpi4", "FFmpeg"}, true, false};
  RunnerView pi_offline{"pi-c", {"self-hosted", "rpi4", "ffmpeg"}, false, false};

  struct Case {
    const char* name;
    bool have_status;
    std::vector<RunnerView> runners;
    Kind want;
  } cases[] = {
      {"StatusUnknown", false, {}, Kind::kRefused},
      {"KitRunners", true, {mac, pi_plain}, Kind::kRefused},
      {"OnePiLacksIt", true, {pi_ffmpeg, pi_plain}, Kind::kRefused},
      {"NoFallbackRunner", true, {mac}, Kind::kRefused},
      {"AllPisCarryIt", true, {mac, pi_ffmpeg, pi_offline}, Kind::kDue},
  };
  // Before the deadline the constraint is not evaluated yet: the runner
  // status may change until then.
  RunnerAvailability empty;
  EXPECT_EQ(Decide(&empty).kind, Kind::kNotDue);
  EXPECT_TRUE(FallbackDeadline(*policy_, job_, &empty).has_value());

  clock_.Advance(minutes(5));
  for (const Case& c : cases) {
    RunnerAvailability avail{c.runners};
    FallbackDecision d = Decide(c.have_status ? &avail : nullptr);
    EXPECT_EQ(d.kind, c.want) << c.name << ": " << d.reason;
    if (d.kind == Kind::kRefused) {
      EXPECT_EQ(d.refusal, RefusalReason::kMissingCapability) << c.name;
      EXPECT_NE(d.reason.find("'ffmpeg'"), std::string::npos) << d.reason;
    }
  }
}

TEST_F(DecideFallbackTest, FallsBackEarlyWhenNoPreferredRunnerIsOnline) {
  job_.workflow_path = ".github/workflows/offline.yml";
  RunnerAvailability mac_offline{{{"mac", {"self-hosted", "macmini"}, false, false},
                                  {"pi", {"self-hosted", "rpi4"}, true, false}}};
  RunnerAvailability mac_busy{{{"mac", {"self-hosted", "macmini"}, true, true}}};
  const int64_t grace_due = job_.queued_at_ms + 60 * 1000;
  const int64_t timeout_due = job_.queued_at_ms + 10 * 60 * 1000;

  EXPECT_EQ(FallbackDeadline(*policy_, job_, &mac_offline), grace_due);
  EXPECT_EQ(FallbackDeadline(*policy_, job_, &mac_busy), timeout_due);  // busy is online
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), timeout_due);    // unknown: wait

  clock_.Advance(seconds(59));
  EXPECT_EQ(Decide(&mac_offline).kind, Kind::kNotDue);
  clock_.Advance(seconds(1));
  FallbackDecision d = Decide(&mac_offline);
  ASSERT_EQ(d.kind, Kind::kDue);
  EXPECT_TRUE(d.preferred_offline);
  EXPECT_EQ(d.due_at_ms, grace_due);
  EXPECT_EQ(Decide(&mac_busy).kind, Kind::kNotDue);
}

TEST_F(DecideFallbackTest, OfflineRunnersDoNotMatterUnlessTheRouteSaysSo) {
  RunnerAvailability mac_offline{{{"mac", {"self-hosted", "macmini"}, false, false}}};
  EXPECT_EQ(FallbackDeadline(*policy_, job_, &mac_offline), job_.queued_at_ms + 5 * 60 * 1000);
}

// A run relayq did not submit: its inputs are unknown.
// What a webhook-time caller may know (issue 12, case 8): past the deadline
// and without runner status, a needs_* route is still only "not due yet" with
// its deadline, never kDue and never refused for capabilities.
TEST_F(DecideFallbackTest, PlanIsTheDeadlineEvenPastItAndNeverJudgesCapabilities) {
  job_.workflow_path = ".github/workflows/convert.yml";
  clock_.Advance(minutes(30));
  EXPECT_EQ(Decide(nullptr).refusal, RefusalReason::kMissingCapability);
  FallbackDecision d = PlanFallback(*policy_, job_);
  EXPECT_EQ(d.kind, Kind::kNotDue);
  EXPECT_EQ(d.due_at_ms, job_.queued_at_ms + 5 * 60'000);
  EXPECT_EQ(d.target_workflow, "convert_rpi.yml");
}

TEST_F(DecideFallbackTest, PlanRefusalCarriesTheNominalDeadline) {
  job_.inputs.reset();
  FallbackDecision d = PlanFallback(*policy_, job_);
  EXPECT_EQ(d.kind, Kind::kRefused);
  EXPECT_EQ(d.refusal, RefusalReason::kInputsUnknown);
  EXPECT_EQ(d.due_at_ms, job_.queued_at_ms + 5 * 60'000);
  job_.status = "pending";
  EXPECT_EQ(PlanFallback(*policy_, job_).kind, Kind::kNotQueued);
}

TEST_F(DecideFallbackTest, UnknownInputsAreRefusedByDefault) {
  job_.inputs.reset();
  FallbackDecision d = Decide();
  ASSERT_EQ(d.kind, Kind::kRefused);
  EXPECT_EQ(d.refusal, RefusalReason::kInputsUnknown);
  EXPECT_NE(d.reason.find("not submitted through relayq dispatch"), std::string::npos);
  EXPECT_EQ(FallbackDeadline(*policy_, job_, nullptr), std::nullopt);
}

TEST_F(DecideFallbackTest, UnknownInputsDispatchSendsWhatIsKnown) {
  job_.workflow_path = ".github/workflows/pooled.yml";
  job_.inputs.reset();
  clock_.Advance(minutes(5));
  FallbackDecision d = Decide();
  ASSERT_EQ(d.kind, Kind::kDue) << d.reason;
  EXPECT_FALSE(d.inputs_known);
  EXPECT_EQ(d.target_workflow, "pooled.yml");  // no fallback_workflow: the job's own
  EXPECT_EQ(d.inputs,
            (std::map<std::string, std::string>{
                {"runner", "rpi4"}, {"origin", "https://github.com/me/media/actions/runs/500"}}));
}

TEST_F(DecideFallbackTest, FallbackInputsOverlayTheOriginalInputs) {
  job_.workflow_path = ".github/workflows/pooled.yml";
  (*job_.inputs)["runner"] = "macmini";
  clock_.Advance(minutes(5));
  FallbackDecision d = Decide();
  ASSERT_EQ(d.kind, Kind::kDue);
  EXPECT_TRUE(d.inputs_known);
  EXPECT_EQ(d.inputs.at("runner"), "rpi4");
  EXPECT_EQ(d.inputs.at("url"), "https://e.com/a.mp3");
  EXPECT_EQ(d.inputs.at("backend"), "local");
}

TEST_F(DecideFallbackTest, FallbackInputNeedingUnknownInputIsRefused) {
  auto p = MustParse(R"(routes:
  t:
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: rpi.yml
    fallback_inputs: { source: "{{ inputs.url }}" }
    unknown_inputs: dispatch
)");
  job_.inputs.reset();
  FallbackDecision d = DecideFallback(*p, job_, nullptr, Now() + 3600 * 1000);
  ASSERT_EQ(d.kind, Kind::kRefused);
  EXPECT_EQ(d.refusal, RefusalReason::kInputTemplate);
  EXPECT_NE(d.reason.find("fallback_inputs.source"), std::string::npos) << d.reason;
}

TEST_F(DecideFallbackTest, NoRefMeansNoFallback) {
  job_.head_branch.clear();
  FallbackDecision d = Decide();
  ASSERT_EQ(d.kind, Kind::kRefused);
  EXPECT_EQ(d.refusal, RefusalReason::kNoRef);
}

TEST_F(DecideFallbackTest, RunAttemptIsPartOfTheKey) {
  job_.run_attempt = 3;
  clock_.Advance(minutes(5));
  EXPECT_EQ(Decide().idempotency_key, "fallback:500:3");
}

class DecideChainsTest : public ::testing::Test {
 protected:
  DecideChainsTest() {
    policy_ = MustParse(R"(chains:
  - name: summarize
    after: { workflow: transcribe_audio.yml, conclusion: success }
    dispatch:
      workflow: summarize.yml
      inputs: { url: "{{ inputs.url }}", source_run: "{{ run.id }}" }
  - name: report
    after: { workflow: transcribe_audio.yml, conclusion: [success, failure], repository: me/media }
    dispatch:
      workflow: report.yml
      repository: me/ops
      ref: production
      inputs:
        text: "{{ repository }} run {{ run.id }}.{{ run.attempt }} {{ run.conclusion }}: {{ run.html_url }}"
  - name: on-anything
    after: { workflow: cleanup.yml, conclusion: any }
    dispatch: { workflow: notify.yml, ref: "release-{{ run.head_branch }}" }
)");
    run_.id = 777;
    run_.attempt = 1;
    run_.repository = "me/media";
    run_.workflow_path = ".github/workflows/transcribe_audio.yml";
    run_.status = "completed";
    run_.conclusion = "success";
    run_.head_branch = "main";
    run_.html_url = "https://github.com/me/media/actions/runs/777";
    run_.inputs = std::map<std::string, std::string>{{"url", "https://e.com/a.mp3"}};
  }

  std::shared_ptr<const Policy> policy_;
  RunView run_;
};

TEST_F(DecideChainsTest, FiresOnWorkflowAndConclusion) {
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 2u);
  const ChainDispatch& s = out[0];
  EXPECT_TRUE(s.status.ok()) << s.status.ToString();
  EXPECT_EQ(s.chain_name, "summarize");
  EXPECT_EQ(s.chain, policy_->FindChain("summarize"));
  EXPECT_EQ(s.idempotency_key, "chain:summarize:777:1");
  EXPECT_EQ(s.repository, "me/media");
  EXPECT_EQ(s.workflow, "summarize.yml");
  EXPECT_EQ(s.ref, "main");  // default: the finished run's branch
  EXPECT_EQ(s.inputs, (std::map<std::string, std::string>{{"url", "https://e.com/a.mp3"},
                                                          {"source_run", "777"}}));
  const ChainDispatch& r = out[1];
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.repository, "me/ops");
  EXPECT_EQ(r.ref, "production");
  EXPECT_EQ(r.inputs.at("text"),
            "me/media run 777.1 success: https://github.com/me/media/actions/runs/777");
}

TEST_F(DecideChainsTest, ConclusionMustBeListed) {
  run_.conclusion = "failure";
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].chain_name, "report");
  run_.conclusion = "cancelled";
  EXPECT_TRUE(DecideChains(*policy_, run_).empty());
}

TEST_F(DecideChainsTest, OnlyCompletedRunsOfTheNamedWorkflowInAllowedRepositories) {
  run_.status = "in_progress";
  EXPECT_TRUE(DecideChains(*policy_, run_).empty());
  run_.status = "completed";
  run_.workflow_path = ".github/workflows/transcribe_mac.yml";
  EXPECT_TRUE(DecideChains(*policy_, run_).empty());
  run_.workflow_path = ".github/workflows/transcribe_audio.yml";
  run_.repository = "someone/else";
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 1u);  // `report` is limited to me/media
  EXPECT_EQ(out[0].chain_name, "summarize");
}

TEST_F(DecideChainsTest, AnyConclusionAndTemplatedRef) {
  run_.workflow_path = ".github/workflows/cleanup.yml";
  run_.conclusion = "timed_out";
  run_.head_branch = "v2";
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ref, "release-v2");
  EXPECT_TRUE(out[0].inputs.empty());
}

TEST_F(DecideChainsTest, KeyCarriesTheRunAttempt) {
  run_.attempt = 2;
  EXPECT_EQ(DecideChains(*policy_, run_)[0].idempotency_key, "chain:summarize:777:2");
}

TEST_F(DecideChainsTest, MissingInputIsAnExplicitError) {
  run_.inputs = std::map<std::string, std::string>{{"backend", "local"}};
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status.code(), Status::Code::kNotFound);
  EXPECT_NE(out[0].status.message().find("dispatch.inputs.url"), std::string::npos)
      << out[0].status.message();
  EXPECT_TRUE(out[0].inputs.empty());
  EXPECT_EQ(out[0].idempotency_key, "chain:summarize:777:1");  // recorded as failed, once
  EXPECT_TRUE(out[1].status.ok());                             // `report` does not read inputs
}

TEST_F(DecideChainsTest, RunNotSubmittedByRelayqCannotFillInputs) {
  run_.inputs.reset();
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].status.ok());
  EXPECT_NE(out[0].status.message().find("inputs are unknown"), std::string::npos);
  EXPECT_TRUE(out[1].status.ok());
}

TEST_F(DecideChainsTest, EmptyRefIsAnError) {
  run_.head_branch.clear();
  auto out = DecideChains(*policy_, run_);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status.code(), Status::Code::kNotFound);
  EXPECT_TRUE(out[1].status.ok());  // `report` sets its own ref
}

TEST(IdempotencyKeyTest, Formats) {
  EXPECT_EQ(FallbackKey(123456789012, 1), "fallback:123456789012:1");
  EXPECT_EQ(ChainKey("summarize", 42, 3), "chain:summarize:42:3");
}

TEST(InputSizeBytesTest, ReadsSizeBytesThenSizeMb) {
  using Inputs = std::map<std::string, std::string>;
  struct Case {
    Inputs inputs;
    std::optional<int64_t> want;
  } cases[] = {
      {{}, std::nullopt},
      {{{"size_bytes", "1234"}}, 1234},
      {{{"size_mb", "2"}}, 2 * kBytesPerMb},
      {{{"size_mb", "0.5"}}, kBytesPerMb / 2},
      {{{"size_bytes", "10"}, {"size_mb", "99"}}, 10},
      {{{"size_bytes", "ten"}, {"size_mb", "1"}}, kBytesPerMb},
      {{{"size_bytes", "-1"}}, std::nullopt},
      {{{"size_mb", "-3"}}, std::nullopt},
      {{{"size_mb", "1e400"}}, std::nullopt},
      {{{"size_mb", "nan"}}, std::nullopt},
      {{{"size_mb", "12MB"}}, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(InputSizeBytes(c.inputs), c.want)
        << (c.inputs.empty() ? "" : c.inputs.begin()->first + "=" + c.inputs.begin()->second);
  }
}

}  // namespace
}  // namespace relayq::policy
