// Whole-process tests of submitting jobs from anywhere: `relayq dispatch
// --server` and POST /api/v1/dispatch against a running relayq and the fake
// GitHub API, and `relayq dispatch` on a local store (missing store, --init,
// GitHub unreachable with no daemon to send it later). Outcomes are read from
// the command's exit code and output, the API's answers, the fake's recorded
// calls and runs, and the store file.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";

class DispatchApiTest : public GitHubIntegrationTest {
 protected:
  void StartServe() {
    process_ = RelayqProcess::Start({dir_.path(), {}, GitHubEnv()});
    ASSERT_NE(process_, nullptr);
  }

  std::string ServerUrl() const {
    return "http://127.0.0.1:" + std::to_string(process_->admin_port());
  }

  // `relayq dispatch ARGS --repo octo/kit` run from another directory (the
  // "other machine": no store, no GitHub credentials) with `env`.
  CommandResult Remote(std::vector<std::string> args, std::map<std::string, std::string> env) {
    args.insert(args.begin(), "dispatch");
    args.insert(args.end(), {"--repo", kRepo});
    std::filesystem::create_directories(dir_.File("laptop"));
    return RunRelayq(dir_.File("laptop"), args, env);
  }
  std::map<std::string, std::string> LaptopEnv() const {
    return {{"PATH", "/usr/bin:/bin"},
            {"RELAYQ_ADMIN_TOKEN", kAdminToken},
            {"RELAYQ_SERVER", ServerUrl()},
            {"RELAYQ_CONFIG", ""}};
  }

  // POST /api/v1/dispatch with `body`; `headers` added to the bearer token.
  httplib::Result Post(const std::string& body, httplib::Headers headers = {},
                       const std::string& token = kAdminToken) {
    httplib::Client c("127.0.0.1", process_->admin_port());
    c.set_read_timeout(60, 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return c.Post("/api/v1/dispatch", headers, body, "application/json");
  }

  static nlohmann::json Json(const httplib::Result& res) {
    return res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  }

  std::string RequestColumn(int64_t id, const std::string& column) {
    SqliteReader db(DbPath());
    return db.Value("SELECT " + column +
                    " FROM dispatch_requests WHERE id = " + std::to_string(id));
  }

  // Runs GitHub created for `workflow` (one per accepted dispatch).
  int RunsOf(const std::string& workflow) const {
    int n = 0;
    for (const FakeRun& r : github_->runs()) n += r.workflow == workflow ? 1 : 0;
    return n;
  }
};

TEST_F(DispatchApiTest, RemoteDispatchIsSentOnTheDefaultBranchAndPrintsIdAndRunUrl) {
  github_->SetDefaultBranch(kRepo, "trunk");
  StartServe();
  // A bare workflow name, no --ref: transcribe_audio.yml on the default branch.
  auto r = Remote({"transcribe_audio", "url=https://example.com/a.mp3"}, LaptopEnv());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int64_t id = std::stoll(r.out);
  EXPECT_EQ(r.out, std::to_string(id) + "\n");
  EXPECT_NE(r.err.find("https://github.com/octo/kit/actions/runs/"), std::string::npos) << r.err;
  ASSERT_EQ(RunsOf("transcribe_audio.yml"), 1);
  const FakeRun run = github_->runs().front();
  EXPECT_EQ(run.ref, "trunk");
  EXPECT_EQ(run.inputs.at("url"), "https://example.com/a.mp3");
  EXPECT_EQ(run.inputs.at("relayq_id"), std::to_string(id));
  EXPECT_EQ(RequestColumn(id, "status"), "dispatched");
  EXPECT_EQ(RequestColumn(id, "ref"), "trunk");
  EXPECT_EQ(RequestColumn(id, "run_id"), std::to_string(run.id));
}

TEST_F(DispatchApiTest, GitHubDownAtSubmitAnswersQueuedAndTheDaemonSendsItWhenItReturns) {
  StartServe();
  github_->FailNext("/repos/", -1, 503);
  auto res = Post(R"({"repo":"octo/kit","workflow":"transcribe_audio.yml",
                      "inputs":{"url":"https://example.com/q.mp3","size_mb":3,"hq":true}})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  auto j = Json(res);
  EXPECT_EQ(j["status"], "queued") << res->body;
  EXPECT_TRUE(j["last_error"].is_string()) << res->body;
  EXPECT_TRUE(j["last_tried_at"].is_string()) << res->body;
  EXPECT_TRUE(j["next_try_at"].is_string()) << res->body;
  EXPECT_TRUE(j["ref"].is_null()) << res->body;  // the default branch, learnt when sent
  EXPECT_EQ(j["inputs"]["size_mb"], "3");
  EXPECT_EQ(j["inputs"]["hq"], "true");
  const int64_t api_id = j["id"].get<int64_t>();

  auto r = Remote({"transcribe_audio.yml", "url=https://example.com/r.mp3"}, LaptopEnv());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("will send it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("last tried"), std::string::npos) << r.err;
  const int64_t cli_id = std::stoll(r.out);
  EXPECT_EQ(RequestColumn(cli_id, "status"), "pending");
  EXPECT_EQ(RunsOf("transcribe_audio.yml"), 0);

  // GitHub comes back: the daemon's executor sends both, once each.
  github_->ClearFailures();
  ASSERT_TRUE(WaitFor(
      [&] {
        return RequestColumn(api_id, "status") == "dispatched" &&
               RequestColumn(cli_id, "status") == "dispatched";
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(RunsOf("transcribe_audio.yml"), 2);
  EXPECT_EQ(RequestColumn(api_id, "ref"), "main");
}

TEST_F(DispatchApiTest, MissingOrWrongTokenIs401AndTheCommandExits1) {
  StartServe();
  auto res = Post(R"({"repo":"octo/kit","workflow":"a.yml"})", {}, /*token=*/"");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = Post(R"({"repo":"octo/kit","workflow":"a.yml"})", {}, "wrong-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);

  auto env = LaptopEnv();
  env.erase("RELAYQ_ADMIN_TOKEN");
  auto r = Remote({"transcribe_audio.yml", "url=u"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("admin token"), std::string::npos) << r.err;
  env["RELAYQ_ADMIN_TOKEN"] = "wrong-token";
  r = Remote({"transcribe_audio.yml", "url=u"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("wrong-token"), std::string::npos) << r.err;  // never echoed
  EXPECT_EQ(RunsOf("transcribe_audio.yml"), 0);
}

TEST_F(DispatchApiTest, UnreachableServerExits1WithOneClearLine) {
  StartServe();
  auto env = LaptopEnv();
  const std::string url = ServerUrl();
  process_->Terminate();
  auto r = Remote({"transcribe_audio.yml", "url=u", "--server", url}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("nothing submitted: cannot connect to 127.0.0.1"), std::string::npos)
      << r.err;
}

TEST_F(DispatchApiTest, BadRequestsAnswer400WithTheReasonAndRecordNothing) {
  StartServe();
  std::string many = R"({"repo":"octo/kit","workflow":"a.yml","inputs":{)";
  for (int i = 0; i < 26; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  const std::pair<std::string, std::string> cases[] = {
      {"{not json", "not JSON"},
      {"[1,2]", "JSON object"},
      {R"({"repo":"octo/kit"})", "missing field 'workflow'"},
      {R"({"workflow":"a.yml"})", "missing field 'repo'"},
      {R"({"repo":"octo/kit","workflow":"a.yml","branch":"x"})", "unknown field 'branch'"},
      {R"({"repo":"octo","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"octo/kit/x","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"octo/kit","workflow":7})", "'workflow' must be a string"},
      {R"({"repo":"octo/kit","workflow":"a.yml","inputs":[1]})", "inputs must be an object"},
      {R"({"repo":"octo/kit","workflow":"a.yml","inputs":{"u":{"x":1}}})",
       "must be a string, a number or a boolean"},
      {R"({"repo":"octo/kit","workflow":"a.yml","inputs":{"relayq_id":"9"}})", "reserved"},
      {many, "at most 25"},
  };
  for (const auto& [body, reason] : cases) {
    auto res = Post(body);
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, 400) << body << " -> " << res->body;
    EXPECT_NE(Json(res).value("error", "").find(reason), std::string::npos)
        << body << " -> " << res->body;
  }
  auto bad_key = Post(R"({"repo":"octo/kit","workflow":"a.yml"})", {{"Idempotency-Key", "a b"}});
  ASSERT_TRUE(bad_key);
  EXPECT_EQ(bad_key->status, 400) << bad_key->body;
  // The CLI refuses the reserved input itself, before sending: a usage error.
  auto env = LaptopEnv();
  auto r = RunRelayq(dir_.path(),
                     {"dispatch", "a.yml", "relayq_id=3", "--repo", kRepo, "--server", ServerUrl()},
                     env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM dispatch_requests"), 0);
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 0);
}

TEST_F(DispatchApiTest, UnknownWorkflowIs422AndTheRequestIsRecordedFailed) {
  github_->SetKnownWorkflows({"transcribe_audio.yml"});
  StartServe();
  auto res = Post(R"({"repo":"octo/kit","workflow":"nope.yml","ref":"main"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  auto j = Json(res);
  EXPECT_NE(j.value("error", "").find("unknown workflow"), std::string::npos) << res->body;
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(RequestColumn(j["id"].get<int64_t>(), "status"), "failed");

  auto r = Remote({"nope", "--ref", "main"}, LaptopEnv());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown workflow: GitHub has no workflow nope.yml"), std::string::npos)
      << r.err;
}

TEST_F(DispatchApiTest, RepeatedIdempotencyKeyDispatchesOnce) {
  StartServe();
  const std::string body =
      R"({"repo":"octo/kit","workflow":"transcribe_audio.yml","ref":"main","inputs":{"url":"u"}})";
  auto first = Post(body, {{"Idempotency-Key", "key-1"}});
  auto again = Post(body, {{"Idempotency-Key", "key-1"}});
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->status, 202) << first->body;
  EXPECT_EQ(again->status, 202) << again->body;
  EXPECT_EQ(Json(first)["id"], Json(again)["id"]);
  EXPECT_EQ(Json(again)["status"], "dispatched");
  EXPECT_EQ(Json(again)["run_id"], Json(first)["run_id"]);
  EXPECT_EQ(RunsOf("transcribe_audio.yml"), 1);
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 1);
  // The same key for another request is a conflict, not a second dispatch.
  auto other =
      Post(R"({"repo":"octo/kit","workflow":"transcribe_audio.yml","inputs":{"url":"other"}})",
           {{"Idempotency-Key", "key-1"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 409) << other->body;
  EXPECT_EQ(RunsOf("transcribe_audio.yml"), 1);
}

TEST_F(DispatchApiTest, BodyOverSixtyFourKiBIs413) {
  StartServe();
  auto padded = [](size_t size) {
    std::string head = R"({"repo":"octo/kit","workflow":"a.yml","inputs":{"pad":")";
    std::string tail = "\"}}";
    return head + std::string(size - head.size() - tail.size(), 'x') + tail;
  };
  auto at_limit = Post(padded(64 * 1024), {}, kAdminToken);
  ASSERT_TRUE(at_limit);
  EXPECT_NE(at_limit->status, 413);
  auto over = Post(padded(64 * 1024 + 1), {}, kAdminToken);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 413);
}

TEST_F(DispatchApiTest, DaemonWithoutGitHubCredentialsRefusesWith503AndRecordsNothing) {
  process_ = RelayqProcess::Start({dir_.path(), {}, Env()});
  ASSERT_NE(process_, nullptr);
  auto res = Post(R"({"repo":"octo/kit","workflow":"a.yml"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_NE(Json(res).value("error", "").find("no GitHub credentials"), std::string::npos);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM dispatch_requests"), 0);
}

TEST_F(DispatchApiTest, LocalDispatchWithoutAStoreExits1AndInitCreatesIt) {
  auto env = GitHubEnv();
  auto r = RunRelayq(dir_.path(), {"dispatch", "a.yml", "--repo", kRepo}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no store at relayq.db"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(DbPath()));
  r = RunRelayq(dir_.path(), {"dispatch", "a.yml", "--repo", kRepo, "--init"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(DbPath()));
  EXPECT_EQ(RequestColumn(std::stoll(r.out), "status"), "dispatched");
  EXPECT_NE(r.err.find("https://github.com/octo/kit/actions/runs/"), std::string::npos) << r.err;
}

TEST_F(DispatchApiTest, LocalDispatchWithGitHubDownAndNoDaemonFailsAndIsNeverSentLater) {
  auto env = GitHubEnv();
  github_->FailNext("/dispatches", -1, 503);
  auto r = RunRelayq(dir_.path(), {"dispatch", "a.yml", "--repo", kRepo, "--ref", "main", "--init"},
                     env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no relayq serves"), std::string::npos) << r.err;
  const int64_t id = std::stoll(r.out);
  EXPECT_EQ(RequestColumn(id, "status"), "failed");
  SqliteReader db(DbPath());
  EXPECT_EQ(
      db.Value("SELECT status FROM actions WHERE key = 'dispatch:" + std::to_string(id) + "'"),
      "failed");
  // A later serve with GitHub back does not send it by surprise.
  github_->ClearFailures();
  github_->ClearCalls();
  StartServe();
  auto health = httplib::Client("127.0.0.1", process_->admin_port()).Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 0);
  EXPECT_EQ(RequestColumn(id, "status"), "failed");
}

}  // namespace
}  // namespace relayq::testing
