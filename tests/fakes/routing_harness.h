// RoutingHarness: the routing path as it runs in the daemon, in-process: the
// real store (SQLite in a temporary directory) with the real Router hooked
// in, the real ActionExecutor and HttpGitHubClient, against a
// FakeGitHubServer, on a FakeClock (the client's waits advance it through a
// FakeSleeper). Used by the routing regression tests and the routing soak.
//
// "Restarting" builds a new executor (and client) on the same store, as a
// new process would; the old one must be idle. Not thread-safe: one test
// thread drives it (the fake server answers on its own threads).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "github/http_github_client.h"
#include "handlers/action_executor.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "store/action_store.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"
#include "tests/fakes/routing_fixtures.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::testing {

// A route governing transcribe_mac.yml (macmini -> transcribe_rpi.yml after
// 5 minutes) and a chain summarize.yml after every successful
// transcribe_rpi.yml run.
inline constexpr char kRoutingHarnessPolicy[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 5m
    fallback_workflow: transcribe_rpi.yml
    unknown_inputs: dispatch
chains:
  - name: summarize
    after: { workflow: transcribe_rpi.yml, conclusion: success }
    dispatch:
      workflow: summarize.yml
      inputs: { source_run: "{{ run.id }}" }
)";

struct RoutingHarnessOptions {
  std::string policy = kRoutingHarnessPolicy;
  int busy_timeout_ms = 5000;
};

class RoutingHarness {
 public:
  using Options = RoutingHarnessOptions;

  // Check ok() before use; error() says what failed.
  explicit RoutingHarness(Options options = Options{}) : options_(std::move(options)) { Init(); }

 private:
  void Init() {
    auto parsed = policy::ParsePolicy(options_.policy, "policy.yaml");
    if (!parsed.ok()) return Failed("policy does not parse");
    policy_ = std::make_unique<handlers::PolicyHolder>(parsed.policy);
    router_ = std::make_unique<handlers::Router>(*policy_);
    store::StoreOptions o;
    o.path = path();
    auto s = store::Store::Open(o, clock_);
    if (!s.ok()) return Failed(s.status().ToString());
    store_ = std::move(*s);
    store_->SetRoutingHook(router_.get(), nullptr);
    store::StoreOptions ao = o;
    ao.busy_timeout_ms = options_.busy_timeout_ms;
    auto db = store::Database::Open(ao);
    if (!db.ok()) return Failed(db.status().ToString());
    auto a = (*db)->OpenActionStore();
    if (!a.ok()) return Failed(a.status().ToString());
    actions_ = std::move(*a);
    FakeGitHubServer::Options fo;
    fo.clock = &clock_;
    auto fake = FakeGitHubServer::Start(fo);
    if (!fake.ok()) return Failed(fake.status().ToString());
    github_ = std::move(*fake);
    Restart();
  }

 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // A new executor and client, as after a restart (owner "test-N"; the
  // client's User-Agent is "relayq-N" so the fake can tell incarnations apart).
  void Restart(handlers::ExecutorOptions eo = DefaultExecutorOptions()) {
    executor_.reset();
    client_.reset();
    ++incarnation_;
    github::ClientOptions co = FakeGitHubClientOptions(github_->url());
    co.read_timeout = std::chrono::milliseconds(5000);
    co.user_agent = "relayq-" + std::to_string(incarnation_);
    auto client = github::HttpGitHubClient::Create(co, clock_, sleeper_);
    if (!client.ok()) return Failed(client.status().ToString());
    client_ = std::move(*client);
    eo.owner = owner();
    executor_ = std::make_unique<handlers::ActionExecutor>(*actions_, *client_, *policy_, clock_,
                                                           metrics_, eo);
  }
  static handlers::ExecutorOptions DefaultExecutorOptions() {
    handlers::ExecutorOptions eo;
    eo.workers = 1;
    return eo;
  }

  std::string owner() const { return "test-" + std::to_string(incarnation_); }
  std::string user_agent() const { return "relayq-" + std::to_string(incarnation_); }
  int incarnation() const { return incarnation_; }
  std::string path() const { return dir_.File("relayq.db"); }
  int64_t Now() const { return ToUnixMillis(clock_.Now()); }

  void Record(const std::string& id, store::Delivery d) {
    d.id = id;
    d.received_at = Now();
    (void)store_->Ingest(std::move(d));
  }

  // A run of transcribe_mac.yml with queued macmini jobs, on the fake and
  // recorded from webhooks.
  void QueueJob(int64_t run_id, std::vector<int64_t> job_ids) {
    FakeRun run;
    run.id = run_id;
    run.workflow = "transcribe_mac.yml";
    run.inputs = {{"url", "https://example.com/a.mp3"}};
    github_->AddRun(run);
    RecordRun(run_id, ".github/workflows/transcribe_mac.yml", "queued", "");
    for (int64_t job_id : job_ids) {
      FakeJob job;
      job.id = job_id;
      job.run_id = run_id;
      job.labels = {"self-hosted", "macmini"};
      github_->AddJob(job);
      store::Delivery jd = QueuedJobDelivery("octo/kit", run_id, job_id, job.labels, Now());
      Record("job-" + std::to_string(job_id) + "-queued", jd);
    }
  }
  void QueueJob(int64_t run_id, int64_t job_id) { QueueJob(run_id, std::vector<int64_t>{job_id}); }

  void RecordRun(int64_t run_id, const std::string& path, const std::string& status,
                 const std::string& conclusion, const std::string& delivery_suffix = "") {
    store::Delivery rd = RunDelivery("octo/kit", run_id, path, status, conclusion, Now());
    Record("run-" + std::to_string(run_id) + "-" + status + delivery_suffix, rd);
  }

  std::string ActionStatus(const std::string& key) {
    auto a = actions_->GetActionByKey(key);
    return a.ok() && *a ? std::string(store::ActionStatusName((*a)->status)) : "";
  }
  nlohmann::json ActionResult(const std::string& key) {
    auto a = actions_->GetActionByKey(key);
    if (!a.ok() || !*a || !(*a)->result) return nlohmann::json::object();
    return nlohmann::json::parse(*(*a)->result, nullptr, false);
  }

  int RunsOf(const std::string& workflow) const {
    int n = 0;
    for (const auto& r : github_->runs()) n += r.workflow == workflow;
    return n;
  }

  // Runs `sql` on a connection of its own (test set-up: triggers, rewinds).
  bool Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path().c_str(), &db) != SQLITE_OK) return false;
    sqlite3_busy_timeout(db, 5000);
    const bool ok = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
  }

  FakeClock& clock() { return clock_; }
  FakeSleeper& sleeper() { return sleeper_; }
  FakeGitHubServer& github() { return *github_; }
  store::ActionStore& actions() { return *actions_; }
  store::Store& store() { return *store_; }
  handlers::ActionExecutor& executor() { return *executor_; }
  github::GitHubClient& client() { return *client_; }
  handlers::PolicyHolder& policy() { return *policy_; }
  MetricsRegistry& metrics() { return metrics_; }

 private:
  void Failed(std::string why) { error_ = std::move(why); }

  Options options_;
  std::string error_;
  TempDir dir_;
  FakeClock clock_;
  FakeSleeper sleeper_{&clock_};
  MetricsRegistry metrics_;
  int incarnation_ = 0;
  std::unique_ptr<handlers::PolicyHolder> policy_;
  std::unique_ptr<handlers::Router> router_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::ActionStore> actions_;
  std::unique_ptr<FakeGitHubServer> github_;
  std::unique_ptr<github::GitHubClient> client_;
  std::unique_ptr<handlers::ActionExecutor> executor_;
};

}  // namespace relayq::testing
