// routing_bench: how late relayq's fallbacks fire, and what the daemon costs
// while nothing is due.
//
//   routing_bench --relayq build-release/relayq [--jobs 10000] [--timeout 20]
//                 [--sync full|normal] [--connections 16]
//
// Starts a fake GitHub API (in this process) and the real `relayq serve`
// against it (github.write_interval 0: the fake has no secondary rate
// limits), queues --jobs jobs at once across two routes by delivering signed
// workflow_run + workflow_job webhooks, then
//   - measures relayq's CPU time while every fallback is scheduled and none
//     is due yet (it should sleep until the earliest deadline, not poll);
//   - waits for every fallback and reports, from the fake's clock, how late
//     each cancel (the fallback firing) and each fallback dispatch (the
//     fallback done) came after the job's deadline: p50, p99, max;
//   - measures CPU again once everything is done.
// Loopback only; bounded in time (gives up after 10 minutes).
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/time_format.h"
#include "handlers/signature.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/sqlite_reader.h"

namespace {

using namespace relayq;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr char kSecret[] = "bench-secret";
constexpr char kRepo[] = "octo/kit";

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Summarize(std::vector<int64_t> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return static_cast<double>(
        v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]);
  };
  p.p50 = at(0.5) / 1000.0;
  p.p99 = at(0.99) / 1000.0;
  p.max = static_cast<double>(v.back()) / 1000.0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string relayq_bin = "build-release/relayq", sync = "full";
  int jobs = 10000, timeout_s = 20, connections = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--relayq")
      relayq_bin = v;
    else if (k == "--jobs")
      jobs = std::stoi(v);
    else if (k == "--timeout")
      timeout_s = std::stoi(v);
    else if (k == "--sync")
      sync = v;
    else if (k == "--connections")
      connections = std::stoi(v);
    else {
      std::fprintf(stderr, "routing_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  char dir_template[] = "/tmp/relayq-routing-bench-XXXXXX";
  std::string dir = mkdtemp(dir_template);

  testing::FakeGitHubServer::Options fo;
  fo.threads = 32;
  // 10,000 fallbacks need ~40,000 calls, far past a real token's 5,000 an
  // hour: raise the fake's limit to measure relayq, not the limit (relayq
  // backs off correctly on a real one; see the github tests).
  fo.rate_limit = 1'000'000;
  auto fake = testing::FakeGitHubServer::Start(fo);
  if (!fake.ok()) {
    std::fprintf(stderr, "fake GitHub: %s\n", fake.status().ToString().c_str());
    return 1;
  }
  auto& gh = **fake;

  const std::string timeout = std::to_string(timeout_s) + "s";
  std::ofstream(dir + "/policy.yaml")
      << "routes:\n"
         "  transcribe:\n    match: { workflow: transcribe_mac.yml }\n    prefer: [macmini]\n"
         "    fallback: [rpi4]\n    queue_timeout: "
      << timeout
      << "\n"
         "    fallback_workflow: transcribe_rpi.yml\n    unknown_inputs: dispatch\n"
         "  encode:\n    match: { workflow: encode_mac.yml }\n    prefer: [macmini, heavy]\n"
         "    fallback: [rpi4]\n    queue_timeout: "
      << timeout
      << "\n"
         "    fallback_workflow: encode_rpi.yml\n    unknown_inputs: dispatch\n";
  std::ofstream(dir + "/relayq.yaml")
      << "store:\n  path: " << dir << "/relayq.db\n  synchronous: " << sync << "\npolicy: " << dir
      << "/policy.yaml\n"
      << "log:\n  level: warn\ngithub:\n  write_interval: 0s\n";

  int out_pipe[2];
  if (pipe(out_pipe) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    int err = open((dir + "/relayq.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, 2);
    std::string api = "RELAYQ_GITHUB_API_URL=" + gh.url();
    std::string secret = std::string("RELAYQ_WEBHOOK_SECRET=") + kSecret;
    char* envp[] = {api.data(), secret.data(), const_cast<char*>("GITHUB_TOKEN=bench-token"),
                    nullptr};
    std::string cfg = dir + "/relayq.yaml";
    char* args[] = {relayq_bin.data(),
                    const_cast<char*>("serve"),
                    const_cast<char*>("--config"),
                    cfg.data(),
                    const_cast<char*>("--listen"),
                    const_cast<char*>("127.0.0.1:0"),
                    const_cast<char*>("--admin-listen"),
                    const_cast<char*>("127.0.0.1:0"),
                    nullptr};
    execve(args[0], args, envp);
    _exit(127);
  }
  close(out_pipe[1]);
  std::string out;
  std::smatch m;
  static const std::regex kListening(R"(public=http://127\.0\.0\.1:(\d+))");
  char buf[512];
  ssize_t n;
  while (!std::regex_search(out, m, kListening) && (n = read(out_pipe[0], buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  if (!std::regex_search(out, m, kListening)) {
    std::fprintf(stderr, "relayq did not start; see %s/relayq.log\n", dir.c_str());
    return 1;
  }
  const int port = std::stoi(m[1]);

  // The fake knows every run and job, so cancels and job look-ups succeed.
  for (int i = 0; i < jobs; ++i) {
    testing::FakeRun run;
    run.id = 1'000'000 + i;
    run.repo = kRepo;
    run.workflow = i % 2 ? "encode_mac.yml" : "transcribe_mac.yml";
    gh.AddRun(run);
    testing::FakeJob job;
    job.id = 5'000'000 + i;
    job.repo = kRepo;
    job.run_id = run.id;
    job.labels = i % 2 ? std::vector<std::string>{"self-hosted", "macmini", "heavy"}
                       : std::vector<std::string>{"self-hosted", "macmini"};
    gh.AddJob(job);
  }

  // Queue every job "at once": deliver all of them as fast as relayq takes them.
  const auto t_start = SteadyClock::now();
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> senders;
  for (int c = 0; c < connections; ++c) {
    senders.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      const std::string now = FormatRfc3339(ToUnixMillis(Clock::Real().Now()));
      for (int i = next++; i < jobs; i = next++) {
        testing::RunSpec rs;
        rs.run_id = 1'000'000 + i;
        rs.repository = kRepo;
        rs.path =
            std::string(".github/workflows/") + (i % 2 ? "encode_mac.yml" : "transcribe_mac.yml");
        rs.created_at = rs.updated_at = now;
        testing::JobSpec js;
        js.job_id = 5'000'000 + i;
        js.run_id = rs.run_id;
        js.repository = kRepo;
        js.labels = i % 2 ? std::vector<std::string>{"self-hosted", "macmini", "heavy"}
                          : std::vector<std::string>{"self-hosted", "macmini"};
        js.created_at = FormatRfc3339(ToUnixMillis(Clock::Real().Now()));
        for (auto [event, body] :
             {std::pair<std::string, std::string>{"workflow_run", testing::WorkflowRunPayload(rs)},
              {"workflow_job", testing::WorkflowJobPayload(js)}}) {
          httplib::Headers h = {{"X-GitHub-Event", event},
                                {"X-GitHub-Delivery", event + "-" + std::to_string(i)},
                                {"X-Hub-Signature-256", handlers::SignBody(body, kSecret)}};
          auto res = client.Post("/webhook", h, body, "application/json");
          if (!res || res->status != 202) ++failures;
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  const double queue_s = std::chrono::duration<double>(SteadyClock::now() - t_start).count();

  // Idle: every fallback scheduled, none due yet.
  testing::SqliteReader db(dir + "/relayq.db");
  const int64_t first_due = db.Count("SELECT min(due_at) FROM actions WHERE kind = 'fallback'");
  const int64_t idle_window_ms =
      std::max<int64_t>(0, first_due - ToUnixMillis(Clock::Real().Now()) - 1500);
  const double cpu0 = CpuSeconds(pid);
  std::this_thread::sleep_for(milliseconds(idle_window_ms));
  const double idle_cpu = (CpuSeconds(pid) - cpu0) / std::max(0.001, idle_window_ms / 1000.0);

  // Every fallback done (cancel + dispatch), or give up after 10 minutes.
  const auto give_up = SteadyClock::now() + std::chrono::minutes(10);
  auto dispatched = [&] {
    return gh.CountCalls("POST", "transcribe_rpi.yml/dispatches") +
           gh.CountCalls("POST", "encode_rpi.yml/dispatches");
  };
  while (dispatched() < jobs && SteadyClock::now() < give_up)
    std::this_thread::sleep_for(milliseconds(200));

  std::map<int64_t, int64_t> due;  // run id -> due_at
  for (const auto& row : db.Rows("SELECT run_id, due_at FROM actions WHERE kind = 'fallback'")) {
    due[std::stoll(row[0])] = std::stoll(row[1]);
  }
  static const std::regex kRunPath(R"(/actions/runs/(\d+)/cancel)");
  std::vector<int64_t> cancel_late;
  for (const auto& call : gh.CallsTo("POST", "/cancel")) {
    std::smatch rm;
    if (std::regex_search(call.path, rm, kRunPath)) {
      auto it = due.find(std::stoll(rm[1]));
      if (it != due.end()) cancel_late.push_back(call.received_at_ms - it->second);
    }
  }
  std::vector<int64_t> done_late;
  for (const auto& row : db.Rows(
           "SELECT done_at - due_at FROM actions WHERE kind = 'fallback' AND status = 'done'")) {
    done_late.push_back(std::stoll(row[0]));
  }
  const double cpu1 = CpuSeconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const double after_cpu = (CpuSeconds(pid) - cpu1) / 5.0;

  const int64_t done =
      db.Count("SELECT count(*) FROM actions WHERE kind = 'fallback' AND status = 'done'");
  // GitHub calls per fallback (every call the fake saw while relayq ran:
  // checks, cancels, dispatches, runner listings, searches).
  std::map<std::string, int64_t> calls_by_kind;
  int64_t total_calls = 0;
  for (const auto& call : gh.calls()) {
    std::string kind = call.method + " ";
    if (call.path.find("/cancel") != std::string::npos)
      kind += "cancel";
    else if (call.path.find("/dispatches") != std::string::npos)
      kind += "dispatch";
    else if (call.path.find("/actions/jobs/") != std::string::npos)
      kind += "job";
    else if (call.path.find("/actions/runners") != std::string::npos)
      kind += "runners";
    else if (call.path.find("/actions/runs") != std::string::npos)
      kind += "runs";
    else
      kind += "other";
    ++calls_by_kind[kind];
    ++total_calls;
  }
  const auto stop_start = SteadyClock::now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const double stop_s = std::chrono::duration<double>(SteadyClock::now() - stop_start).count();

  Percentiles c = Summarize(cancel_late), d = Summarize(done_late);
  std::printf(
      "routing bench: %d jobs across 2 routes, queue_timeout %ds, synchronous=%s, %ld cores\n",
      jobs, timeout_s, sync.c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("queued in %.1f s (%d delivery failures)\n", queue_s, failures.load());
  std::printf("fallbacks done: %lld of %d\n", static_cast<long long>(done), jobs);
  std::printf("fired (cancel sent) after deadline: p50 %.3f s, p99 %.3f s, max %.3f s\n", c.p50,
              c.p99, c.max);
  std::printf("done (fallback dispatched) after deadline: p50 %.3f s, p99 %.3f s, max %.3f s\n",
              d.p50, d.p99, d.max);
  std::printf(
      "relayq CPU while nothing was due: %.2f%% of a core over %.1f s; after all were done: %.2f%% "
      "over 5 s\n",
      idle_cpu * 100, idle_window_ms / 1000.0, after_cpu * 100);
  std::printf("GitHub calls: %lld, %.2f per fallback (", static_cast<long long>(total_calls),
              jobs > 0 ? static_cast<double>(total_calls) / jobs : 0.0);
  for (const auto& [kind, n] : calls_by_kind)
    std::printf(" %s=%lld", kind.c_str(), static_cast<long long>(n));
  std::printf(" )\n");
  std::printf("stopped %.2f s after SIGTERM\n", stop_s);
  std::printf("store: %s\n", dir.c_str());
  return done == jobs ? 0 : 1;
}
