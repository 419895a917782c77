// FakeGitHubServer: a real HTTP server on 127.0.0.1 that plays GitHub's REST
// API for tests, in-process or for a relayq process started by a test
// (point RELAYQ_GITHUB_API_URL at url()).
//
// It keeps runs, jobs, runners, webhooks and deliveries in memory and serves
// the endpoints relayq uses: the repository (its default branch), workflow
// dispatch (creating a run), run cancel,
// run/job reads, run and runner lists (page/per_page pagination with a Link
// header), webhooks CRUD, deliveries (cursor pagination) and redelivery, App
// installation discovery and token exchange (the RS256 JWT is verified with
// OpenSSL against the configured public key). Every request is recorded.
// Knobs make it fail: the next N matching calls answer a given status and
// headers, or garbage instead of JSON, or every answer is delayed; it can
// act as an old GitHub Enterprise Server that rejects return_run_details.
//
// Answers follow GitHub's documented shapes closely enough for relayq, not
// completely. Thread safety: every method is thread-safe; handlers run on the
// server's own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace relayq::testing {

// One request as the fake received it.
struct RecordedCall {
  std::string method;
  std::string path;   // decoded, without the server's path prefix and query
  std::string query;  // raw, without '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int64_t received_at_ms = 0;  // the fake's clock when the call arrived (Unix ms)

  // The header's value, "" when absent; `name` in any case.
  std::string Header(std::string_view name) const;
};

struct FakeRun {
  int64_t id = 0;  // 0: assigned by AddRun
  std::string repo = "octo/kit";
  std::string workflow = "transcribe_audio.yml";  // file name
  std::string ref = "main";
  std::string
      display_title;  // defaults to the workflow file (+ " [relayq:ID]" with a relayq_id input)
  std::string event = "workflow_dispatch";
  std::string status = "queued";
  std::string conclusion;  // "" while not completed
  int64_t attempt = 1;
  std::map<std::string, std::string> inputs;
  int64_t created_at_unix = 0;  // 0: the fake's clock at creation
};

struct FakeJob {
  int64_t id = 0;  // 0: assigned
  std::string repo = "octo/kit";
  int64_t run_id = 0;
  int64_t attempt = 1;
  std::string name = "job";
  std::string workflow_name;
  std::string status = "queued";
  std::string conclusion;
  std::string runner_name;
  std::vector<std::string> labels;
};

struct FakeRunner {
  int64_t id = 0;  // 0: assigned
  std::string repo = "octo/kit";
  std::string name;
  std::string os = "Linux";
  std::string status = "online";
  bool busy = false;
  std::vector<std::string> labels;
};

struct FakeHook {
  int64_t id = 0;  // 0: assigned
  std::string repo = "octo/kit";
  std::string url;
  std::string content_type = "json";
  std::string secret;
  std::vector<std::string> events;
  bool active = true;
};

struct FakeDelivery {
  int64_t id = 0;  // 0: assigned (ids grow: a newer delivery has a larger id)
  int64_t hook_id = 0;
  std::string guid;  // 0-length: generated
  std::string event = "workflow_job";
  std::string action = "queued";
  int status_code = 502;
  std::string status = "failed to connect";
  bool redelivery = false;
  int64_t delivered_at_unix = 0;  // 0: the fake's clock
};

struct FakeRedelivery {
  std::string repo;
  int64_t hook_id = 0;
  int64_t delivery_id = 0;
};

// The claims of the last App JWT the fake accepted.
struct FakeJwtClaims {
  int64_t iat = 0;
  int64_t exp = 0;
  std::string iss;  // as text, whether it was sent as a number or a string
};

// "Answer the next `times` calls matching method and path with `status`."
struct FailureRule {
  std::string method;         // "" matches any
  std::string path_contains;  // substring of RecordedCall::path; "" matches any
  int times = 1;              // -1: forever
  int status = 500;
  std::map<std::string, std::string> headers;  // e.g. Retry-After, x-ratelimit-*
  std::string body;                            // default: {"message": "fake failure"}
  bool garbage = false;  // answer 200 with a body that is not JSON (status ignored)
  // Do the work first (GitHub acted: a dispatch created its run, a cancel
  // cancelled), then answer with the failure instead of the real answer.
  bool after_work = false;
  // Answer nothing usable: the connection is closed in the middle of the
  // answer, as a timeout or a dropped connection looks to the client.
  bool drop = false;
};

class FakeGitHubServer {
 public:
  struct Options {
    // Serve everything below this prefix, like GHES's "/api/v3". "" or "/x/y".
    std::string path_prefix;
    // Time for created_at, token expiry and JWT checks; null: Clock::Real().
    // Must outlive the server.
    const Clock* clock = nullptr;
    // Largest per_page honoured (GitHub: 100); lower it to test pagination.
    int max_per_page = 100;
    int threads = 16;
    // Requests allowed per hour, reported in x-ratelimit-* (GitHub gives a
    // token 5,000); benchmarks raise it to measure relayq, not the limit.
    int64_t rate_limit = 5000;
  };

  // Binds 127.0.0.1 on a free port and serves on a background thread; returns
  // once the server accepts connections. Unavailable if it cannot bind.
  static Result<std::unique_ptr<FakeGitHubServer>> Start(Options options);
  static Result<std::unique_ptr<FakeGitHubServer>> Start() { return Start(Options{}); }

  // Stops serving and joins the thread.
  ~FakeGitHubServer();
  FakeGitHubServer(const FakeGitHubServer&) = delete;
  FakeGitHubServer& operator=(const FakeGitHubServer&) = delete;

  // "http://127.0.0.1:PORT" followed by the path prefix.
  std::string url() const;
  int port() const;

  // ---- recorded calls ----
  std::vector<RecordedCall> calls() const;
  // Calls whose method equals `method` ("" any) and whose path contains `path_contains`.
  std::vector<RecordedCall> CallsTo(std::string_view method, std::string_view path_contains) const;
  int CountCalls(std::string_view method, std::string_view path_contains) const;
  void ClearCalls();

  // ---- failure knobs ----
  void AddFailure(FailureRule rule);
  void FailNext(std::string_view path_contains, int times, int status,
                std::map<std::string, std::string> headers = {}, std::string body = "");
  void GarbageNext(std::string_view path_contains, int times);
  void ClearFailures();
  // Every answer is held back by `d` (0 to stop).
  void SetDelay(std::chrono::milliseconds d);
  // Called with every call before it is handled (and before any failure
  // rule), on the server's thread with no lock held, so it may change the
  // fake's state: e.g. start a job just before a cancel arrives. Null clears.
  void SetCallHook(std::function<void(const RecordedCall&)> hook);

  // ---- behaviour knobs ----
  // Act as an older GHES: a dispatch carrying return_run_details answers
  // `status` (400 or 422) and creates nothing.
  void SetOldGhes(bool old_ghes, int status = 422);
  // Cancelling a completed run answers 409 always; with this, an in_progress one too.
  void SetCancelConflictWhenInProgress(bool conflict);
  // When set, dispatch of any other workflow file answers 404.
  void SetKnownWorkflows(std::set<std::string> workflows);
  // GET /repos/{repo} names `branch` as its default_branch (else "main").
  void SetDefaultBranch(const std::string& repo, std::string branch);
  // A dispatched run of `workflow` also gets one queued job with `labels`.
  void SetWorkflowJobLabels(const std::string& workflow, std::vector<std::string> labels);
  // With auth required, /repos/ calls need "Bearer <t>" with t added here or
  // an unexpired installation token the fake issued; else 401.
  void RequireAuth(bool required);
  void AddValidToken(std::string token);
  // Enables App auth: JWTs must verify against `public_key_pem` (PEM
  // SubjectPublicKeyInfo) with iss == app_id; tokens live `token_ttl`.
  // Every repository belongs to installation `installation_id`.
  void ConfigureApp(std::string app_id, std::string public_key_pem, int64_t installation_id,
                    std::chrono::seconds token_ttl = std::chrono::hours(1));

  // ---- state ----
  int64_t AddRun(FakeRun run);
  std::optional<FakeRun> GetRun(int64_t id) const;
  std::vector<FakeRun> runs() const;
  void SetRunStatus(int64_t id, std::string status, std::string conclusion = "");
  int64_t AddJob(FakeJob job);
  std::optional<FakeJob> GetJob(int64_t id) const;
  std::vector<FakeJob> jobs() const;
  void SetJobStatus(int64_t id, std::string status, std::string runner_name = "",
                    std::string conclusion = "");
  int64_t AddRunner(FakeRunner runner);
  void SetRunnerStatus(int64_t id, std::string status, bool busy);
  int64_t AddHook(FakeHook hook);
  std::vector<FakeHook> hooks() const;
  int64_t AddDelivery(FakeDelivery delivery);
  std::vector<FakeRedelivery> redeliveries() const;

  std::optional<FakeJwtClaims> last_jwt() const;
  int token_exchanges() const;
  std::vector<std::string> issued_tokens() const;

  struct State;  // defined in the .cc

 private:
  FakeGitHubServer();
  std::unique_ptr<State> state_;
};

// A fresh RSA key pair for App-auth tests (2048 bits, PEM).
struct TestRsaKeyPair {
  std::string private_key_pem;  // PKCS#8
  std::string public_key_pem;   // SubjectPublicKeyInfo
};
Result<TestRsaKeyPair> GenerateTestRsaKeyPair();

}  // namespace relayq::testing
