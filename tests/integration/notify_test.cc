// Notifications, whole process: the real relayq with a notify: section whose
// targets are a fake receiver (tests/fakes/fake_notify_receiver.h), and the
// fake GitHub API. Each event reaches each target once, through receiver
// failures (5xx, a dropped connection), within the rate limit; `relayq
// notify test` names each target's answer; a bad notify: section is refused
// with a clear message. Thresholds are config values, set to fractions of a
// second here.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/clock.h"
#include "common/time_format.h"
#include "tests/fakes/fake_notify_receiver.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";
constexpr char kHookToken[] = "hook-bearer-secret-1234";

class NotifyTest : public GitHubIntegrationTest {
 protected:
  void SetUp() override {
    GitHubIntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    auto receiver = FakeNotifyReceiver::Start();
    ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
    receiver_ = std::move(*receiver);
    std::ofstream(dir_.File("policy.yaml")) << "routes: {}\n";
  }

  std::map<std::string, std::string> NotifyEnv() const {
    auto env = GitHubEnv();
    env["HOOK_TOKEN"] = kHookToken;
    return env;
  }

  // A config whose notify: section has `notify_extra` (indented 2) and the
  // targets `targets` (YAML list items, indented 4).
  void WriteConfig(const std::string& notify_extra, const std::string& targets) {
    std::ofstream(dir_.File("config.yaml"), std::ios::trunc)
        << "github:\n  write_interval: 0\n  repositories: [" << kRepo << "]\n"
        << "notify:\n  check_interval: 100ms\n  retry_base: 200ms\n"
        << notify_extra << "  targets:\n"
        << targets;
  }

  std::string HookTarget(const std::string& events = "") const {
    return "    - name: hook\n      url: " + receiver_->url() +
           "/hook\n      token_env: HOOK_TOKEN\n" +
           (events.empty() ? "" : "      events: [" + events + "]\n");
  }
  std::string NtfyTarget(const std::string& events = "") const {
    return "    - name: phone\n      format: ntfy\n      url: " + receiver_->url() +
           "/relayq-topic\n      tags: [robot]\n" +
           (events.empty() ? "" : "      events: [" + events + "]\n");
  }

  void StartServe() {
    process_ = RelayqProcess::Start(
        {dir_.path(),
         {"--config", dir_.File("config.yaml"), "--policy", dir_.File("policy.yaml")},
         NotifyEnv()});
    ASSERT_NE(process_, nullptr);
  }

  // A queued job (no route governs it) queued `ago` before now.
  int DeliverQueuedJob(int64_t job_id, std::chrono::seconds ago) {
    JobSpec spec;
    spec.job_id = job_id;
    spec.run_id = 9000 + job_id;
    spec.repository = kRepo;
    spec.labels = {"self-hosted", "gpu"};
    spec.created_at = FormatRfc3339(ToUnixMillis(Clock::Real().Now()) - ago.count() * 1000);
    auto c = Client();
    return Deliver(*c, "workflow_job", "job-" + std::to_string(job_id), WorkflowJobPayload(spec));
  }

  // Accepted requests to `path` whose event (JSON webhook) is `event`.
  std::vector<nlohmann::json> WebhookBodies(const std::string& event) const {
    std::vector<nlohmann::json> out;
    for (const auto& r : receiver_->accepted()) {
      if (r.path != "/hook") continue;
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object() && j.value("event", "") == event) out.push_back(std::move(j));
    }
    return out;
  }
  std::vector<NotifyRequest> NtfyRequests() const {
    std::vector<NotifyRequest> out;
    for (auto& r : receiver_->accepted()) {
      if (r.path == "/relayq-topic") out.push_back(std::move(r));
    }
    return out;
  }

  std::string Metrics() const {
    httplib::Client admin("127.0.0.1", process_->admin_port());
    auto res = admin.Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminToken}});
    return res ? res->body : "";
  }

  // Several check passes (check_interval is 100 ms): what did not happen by
  // then would not happen later either.
  static void LetPassesRun() { std::this_thread::sleep_for(std::chrono::milliseconds(800)); }

  std::unique_ptr<FakeNotifyReceiver> receiver_;
};

TEST_F(NotifyTest, StuckJobReachesEachTargetOnceEvenAfterARestart) {
  WriteConfig("  job_stuck_after: 1s\n", HookTarget() + NtfyTarget());
  StartServe();
  ASSERT_EQ(DeliverQueuedJob(1, std::chrono::seconds(30)), 202);
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("job_stuck").size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return NtfyRequests().size() == 1; }));

  auto body = WebhookBodies("job_stuck")[0];
  EXPECT_EQ(body["ids"]["job_id"], "1");
  EXPECT_EQ(body["ids"]["repository"], kRepo);
  EXPECT_EQ(body["ids"]["labels"], "self-hosted,gpu");
  EXPECT_NE(body["title"].get<std::string>().find("job queued for"), std::string::npos);
  EXPECT_FALSE(body["time"].get<std::string>().empty());
  const NotifyRequest hook = receiver_->accepted()[0].path == "/hook" ? receiver_->accepted()[0]
                                                                      : receiver_->accepted()[1];
  EXPECT_EQ(hook.Header("Authorization"), std::string("Bearer ") + kHookToken);
  EXPECT_EQ(hook.Header("Content-Type"), "application/json");

  NotifyRequest phone = NtfyRequests()[0];
  EXPECT_NE(phone.Header("Title").find("job queued for"), std::string::npos);
  EXPECT_EQ(phone.Header("Priority"), "high");
  EXPECT_EQ(phone.Header("Tags"), "job_stuck,robot");
  EXPECT_EQ(phone.Header("Authorization"), "");
  EXPECT_NE(phone.body.find("Job 'transcribe' (id 1)"), std::string::npos);

  LetPassesRun();
  EXPECT_EQ(receiver_->requests().size(), 2u);
  // Durable: the queued notifications are in the outbox, done, and a
  // restarted daemon does not send them again.
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM actions WHERE kind = 'notify' AND status = 'done'"), 2);
  ASSERT_EQ(process_->Terminate(), 0);
  StartServe();
  LetPassesRun();
  EXPECT_EQ(receiver_->requests().size(), 2u);
  // The token never reaches the log.
  std::ifstream log(dir_.File("relayq.stderr.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(kHookToken), std::string::npos);
}

TEST_F(NotifyTest, WithoutGitHubCredentialsNotificationsStillGoOut) {
  WriteConfig("  job_stuck_after: 1s\n", HookTarget());
  auto env = NotifyEnv();
  env.erase("GITHUB_TOKEN");
  process_ = RelayqProcess::Start(
      {dir_.path(),
       {"--config", dir_.File("config.yaml"), "--policy", dir_.File("policy.yaml")},
       env});
  ASSERT_NE(process_, nullptr);
  ASSERT_EQ(DeliverQueuedJob(4, std::chrono::seconds(30)), 202);
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("job_stuck").size() == 1; }));
  EXPECT_EQ(github_->CountCalls("", ""), 0);  // the executor touched nothing else
}

TEST_F(NotifyTest, RetriedThroughServerErrorsAndADroppedConnection) {
  WriteConfig("  job_stuck_after: 1s\n", HookTarget());
  receiver_->DropNext(1);
  receiver_->FailNext(2, 503);
  StartServe();
  ASSERT_EQ(DeliverQueuedJob(2, std::chrono::seconds(30)), 202);
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("job_stuck").size() == 1; }));
  auto all = receiver_->requests();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].answered, 0);  // dropped
  EXPECT_EQ(all[1].answered, 503);
  EXPECT_EQ(all[2].answered, 503);
  EXPECT_EQ(all[3].answered, 200);
  for (const auto& r : all) EXPECT_EQ(r.body, all[0].body);  // the same notification each time
  LetPassesRun();
  EXPECT_EQ(receiver_->requests().size(), 4u);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT status || ':' || attempts || ':' || coalesce(last_error, '-') FROM "
                     "actions WHERE kind = 'notify'"),
            "done:3:-");
}

TEST_F(NotifyTest, TargetRefusingForGoodFailsTheNotificationWithoutRetrying) {
  WriteConfig("  job_stuck_after: 1s\n", HookTarget());
  receiver_->FailNext(5, 404, "no such topic");
  StartServe();
  ASSERT_EQ(DeliverQueuedJob(3, std::chrono::seconds(30)), 202);
  SqliteReader db(DbPath());
  ASSERT_TRUE(WaitFor(
      [&] { return db.Value("SELECT status FROM actions WHERE kind = 'notify'") == "failed"; }));
  EXPECT_EQ(db.Value("SELECT last_error FROM actions WHERE kind = 'notify'"),
            "target hook answered 404: no such topic");
  EXPECT_EQ(receiver_->requests().size(), 1u);
}

TEST_F(NotifyTest, RateLimitHoldsBackCountsAndSummarises) {
  WriteConfig("  job_stuck_after: 1s\n  rate_limit: { max: 1, per: 2s }\n", HookTarget());
  StartServe();
  for (int64_t id = 10; id < 13; ++id)
    ASSERT_EQ(DeliverQueuedJob(id, std::chrono::seconds(30)), 202);
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("job_stuck").size() >= 1; }));
  // Two held back, each counted once however many passes saw them.
  ASSERT_TRUE(WaitFor([&] {
    return Metrics().find("relayq_notifications_held_total{kind=\"job_stuck\"} 2") !=
           std::string::npos;
  })) << Metrics();
  // Once the window has room, the summary says what was held back.
  auto summary = [&]() -> std::optional<nlohmann::json> {
    for (auto& b : WebhookBodies("job_stuck")) {
      if (b.value("key", "").starts_with("held:")) return b;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(WaitFor([&] { return summary().has_value(); }));
  EXPECT_EQ((*summary())["title"], "relayq: 2 job_stuck notifications held back");
  EXPECT_EQ((*summary())["ids"]["held"], "2");
  EXPECT_EQ(WebhookBodies("job_stuck")[0]["key"].get<std::string>().rfind("job:", 0), 0u);
  // Still held back once each, however many passes saw them since.
  EXPECT_NE(Metrics().find("relayq_notifications_held_total{kind=\"job_stuck\"} 2"),
            std::string::npos);
}

TEST_F(NotifyTest, FailedActionIsNotifiedWithGitHubsAnswer) {
  WriteConfig("  job_stuck_after: 0\n", HookTarget("action_failed"));
  github_->SetKnownWorkflows({"transcribe_audio.yml"});
  StartServe();
  auto r = RunRelayq(dir_.path(),
                     {"dispatch", "missing.yml", "url=x", "--repo", kRepo, "--db", DbPath(),
                      "--config", dir_.File("config.yaml")},
                     NotifyEnv());
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("action_failed").size() == 1; })) << r.err;
  auto body = WebhookBodies("action_failed")[0];
  EXPECT_EQ(body["ids"]["action_kind"], "dispatch");
  EXPECT_EQ(body["ids"]["status"], "failed");
  EXPECT_NE(body["ids"]["last_error"].get<std::string>().find("404"), std::string::npos)
      << body.dump();
  EXPECT_NE(body["message"].get<std::string>().find("Last error:"), std::string::npos);
  LetPassesRun();
  EXPECT_EQ(receiver_->requests().size(), 1u);
}

TEST_F(NotifyTest, SignatureFailureBurstIsNotifiedOnce) {
  WriteConfig("  job_stuck_after: 0\n  signature_failures: { count: 3, window: 1m }\n",
              HookTarget());
  StartServe();
  auto c = Client();
  const std::string body = R"({"zen":"x"})";
  for (int i = 0; i < 3; ++i) {
    auto res = c->Post("/webhook", Headers("ping", "bad-" + std::to_string(i), body, "wrong"), body,
                       "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 401);
  }
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("signature_failures").size() == 1; })) << [&] {
    std::ifstream in(dir_.File("relayq.stderr.log"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  EXPECT_EQ(WebhookBodies("signature_failures")[0]["ids"]["failures"], "3");
  // More failures in the same burst: no second notification.
  for (int i = 3; i < 6; ++i) {
    auto res = c->Post("/webhook", Headers("ping", "bad-" + std::to_string(i), body, "wrong"), body,
                       "application/json");
    ASSERT_TRUE(res);
  }
  LetPassesRun();
  EXPECT_EQ(WebhookBodies("signature_failures").size(), 1u);
}

TEST_F(NotifyTest, RoutedLabelWithoutOnlineRunnerIsNotifiedOnce) {
  std::ofstream(dir_.File("policy.yaml"), std::ios::trunc)
      << "routes:\n  transcribe:\n    match: { workflow: transcribe_mac.yml }\n"
         "    prefer: [macmini]\n    fallback: [rpi4]\n    queue_timeout: 5m\n"
         "    fallback_workflow: transcribe_rpi.yml\n";
  FakeRunner mac;
  mac.repo = kRepo;
  mac.name = "macmini-1";
  mac.status = "offline";
  mac.labels = {"self-hosted", "macmini"};
  github_->AddRunner(mac);
  FakeRunner pi;
  pi.repo = kRepo;
  pi.name = "pi-1";
  pi.status = "online";
  pi.labels = {"self-hosted", "rpi4"};
  github_->AddRunner(pi);
  WriteConfig("  job_stuck_after: 0\n  runner_offline_after: 300ms\n", HookTarget());
  StartServe();
  ASSERT_TRUE(WaitFor([&] { return WebhookBodies("runner_offline").size() == 1; }));
  auto body = WebhookBodies("runner_offline")[0];
  EXPECT_EQ(body["ids"]["label"], "macmini");
  EXPECT_EQ(body["ids"]["routes"], "transcribe");
  LetPassesRun();
  EXPECT_EQ(WebhookBodies("runner_offline").size(), 1u);  // rpi4 is online: nothing
}

TEST_F(NotifyTest, NotifyTestNamesEachTargetsAnswer) {
  WriteConfig("", HookTarget() + NtfyTarget());
  auto good =
      RunRelayq(dir_.path(), {"notify", "test", "--config", dir_.File("config.yaml")}, NotifyEnv());
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("hook (webhook): accepted (HTTP 200)"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("phone (ntfy): accepted (HTTP 200)"), std::string::npos) << good.out;
  ASSERT_EQ(receiver_->accepted().size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(receiver_->accepted()[0].body)["event"], "test");

  receiver_->FailNext(1, 500, "upstream down");
  auto bad =
      RunRelayq(dir_.path(), {"notify", "test", "--config", dir_.File("config.yaml")}, NotifyEnv());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("hook (webhook): FAILED: target hook answered 500: upstream down"),
            std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("phone (ntfy): accepted"), std::string::npos) << bad.out;
  EXPECT_NE(bad.err.find("1 of 2 notify targets"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out.find(kHookToken), std::string::npos);

  // A target nobody listens on: no answer, named as such.
  std::ofstream(dir_.File("closed.yaml"))
      << "notify:\n  targets:\n    - name: gone\n      url: http://127.0.0.1:1/x\n"
         "      timeout: 2s\n";
  auto gone =
      RunRelayq(dir_.path(), {"notify", "test", "--config", dir_.File("closed.yaml")}, NotifyEnv());
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.out.find("gone (webhook): FAILED: target gone: no answer"), std::string::npos)
      << gone.out;

  std::ofstream(dir_.File("none.yaml")) << "log: { level: info }\n";
  auto none =
      RunRelayq(dir_.path(), {"notify", "test", "--config", dir_.File("none.yaml")}, NotifyEnv());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no notify targets are configured"), std::string::npos) << none.err;
}

TEST_F(NotifyTest, BadNotifyConfigIsRefusedWithAClearMessage) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n      events: [job_stuk]\n",
       ":5:16: notify.targets[a].events: unknown event 'job_stuk' (did you mean 'job_stuck'?)"},
      {"notify:\n  targets:\n    - name: a\n      url: ftp://h/x\n",
       "notify.targets[a].url: the url must start with http:// or https://"},
      {"notify:\n  targets:\n    - url: http://h/x\n", "notify.targets[0].name: every target "},
      {"notify:\n  targets:\n    - name: a\n", "notify.targets[a].url: every target needs a url"},
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n      token: abc\n",
       "secrets go in the environment or a 0600 file"},
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n      format: slack\n",
       "notify.targets[a].format: expected one of webhook, ntfy, got 'slack'"},
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n    - name: a\n      url: "
       "http://h/y\n",
       "'a' names two targets"},
      {"notify:\n  rate_limit: { max: 1, per: soon }\n", "notify.rate_limit.per:"},
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n      token_env: NOT_SET_VAR\n",
       "notify.targets[a].token_env: the variable NOT_SET_VAR is not set"},
      {"notify:\n  targets:\n    - name: a\n      url: http://h/x\n      headers: { Authorization: "
       "x }\n",
       "an Authorization header is a secret"},
  };
  for (const Case& c : cases) {
    std::ofstream(dir_.File("bad.yaml"), std::ios::trunc) << c.yaml;
    auto r =
        RunRelayq(dir_.path(), {"notify", "test", "--config", dir_.File("bad.yaml")}, NotifyEnv());
    EXPECT_EQ(r.exit_code, 1) << c.yaml;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.yaml << "\n" << r.err;
  }
  // serve refuses the same, before it listens.
  std::ofstream(dir_.File("bad.yaml"), std::ios::trunc) << cases[0].yaml;
  auto serve = RunRelayqWithin(dir_.path(),
                               {"serve", "--config", dir_.File("bad.yaml"), "--listen",
                                "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
                               NotifyEnv(), std::chrono::seconds(20));
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_NE(serve.err.find("unknown event 'job_stuk'"), std::string::npos) << serve.err;
}

}  // namespace
}  // namespace relayq::testing
