#include "tests/fakes/routing_soak.h"

#include <atomic>
#include <mutex>
#include <random>
#include <set>

#include "tests/fakes/routing_harness.h"

namespace relayq::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kRun = 100;
constexpr int64_t kJob = 1000;

}  // namespace

void SoakResult::Add(const SoakResult& r) {
  fallbacks_cancelled += r.fallbacks_cancelled;
  replacements += r.replacements;
  aborted_started += r.aborted_started;
  started_between += r.started_between;
  successful_runs += r.successful_runs;
  chain_runs += r.chain_runs;
  restarts += r.restarts;
  clock_steps += r.clock_steps;
  github_calls += r.github_calls;
  for (const auto& [k, v] : r.faults) faults[k] += v;
}

SoakResult RunRoutingSoakScenario(uint64_t seed) {
  SoakResult out;
  RoutingHarness h;
  if (!h.ok()) {
    out.ok = false;
    out.failure = "harness: " + h.error();
    return out;
  }
  std::mt19937_64 rng(seed);
  std::mutex mu;  // guards rng (after set-up), out.faults and the kill state below
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const double fault_rate = 0.05 + 0.25 * std::uniform_real_distribution<double>(0, 1)(rng);
  const double kill_rate = chance(0.5) ? 0.04 : 0.0;
  const double step_rate = chance(0.5) ? 0.05 : 0.0;
  std::set<std::string> dead_agents;  // User-Agents of killed incarnations
  bool killed = false;
  int kills_left = 3;

  h.QueueJob(kRun, kJob);
  h.clock().Advance(seconds(5 * 60));

  auto add_fault = [&](const RecordedCall& call, const std::string& kind, int status, bool after,
                       bool drop, std::map<std::string, std::string> headers = {}) {
    FailureRule r;
    r.method = call.method;
    r.path_contains = call.path;
    r.status = status;
    r.after_work = after;
    r.drop = drop;
    r.headers = std::move(headers);
    h.github().AddFailure(r);
    out.faults[kind]++;
  };

  h.github().SetCallHook([&](const RecordedCall& call) {
    std::lock_guard lock(mu);
    out.github_calls++;
    const bool post = call.method == "POST";
    if (dead_agents.count(call.Header("user-agent"))) {
      add_fault(call, "dead process", 0, false, true);
      return;
    }
    if (step_rate > 0 && chance(step_rate)) {
      const int64_t step_s = static_cast<int64_t>(pick(4 * 3600)) - 2 * 3600;
      h.clock().SetWall(h.clock().Now() + seconds(step_s));
      out.clock_steps++;
    }
    if (post && call.path.ends_with("/cancel") && chance(0.2)) {
      auto job = h.github().GetJob(kJob);
      if (job && job->status == "queued") {
        h.github().SetJobStatus(kJob, "in_progress", "macmini-1");
        out.started_between++;
      }
    }
    if (!post && call.path.ends_with("/actions/jobs/" + std::to_string(kJob)) && chance(0.03)) {
      h.github().SetJobStatus(kJob, "in_progress", "macmini-1");
    }
    if (kill_rate > 0 && kills_left > 0 && chance(kill_rate)) {
      // SIGKILL: this call either reached GitHub or not, and nothing this
      // incarnation does afterwards is seen.
      --kills_left;
      killed = true;
      dead_agents.insert(call.Header("user-agent"));
      const std::string owner = "test-" + std::to_string(h.incarnation());
      h.Sql("CREATE TRIGGER IF NOT EXISTS dead_" + std::to_string(h.incarnation()) +
            " BEFORE UPDATE ON actions WHEN OLD.claimed_by LIKE '" + owner +
            "#%' AND (NEW.claimed_by IS NULL OR NEW.claimed_by = OLD.claimed_by) "
            "BEGIN SELECT RAISE(IGNORE); END;");
      add_fault(call, "killed", 0, chance(0.5), true);
      return;
    }
    if (!chance(fault_rate)) return;
    const std::string retry_after = std::to_string(1 + pick(120));
    if (post) {
      switch (pick(5)) {
        case 0:
          return add_fault(call, "timeout after the work", 0, true, true);
        case 1:
          return add_fault(call, "timeout before the work", 0, false, true);
        case 2:
          return add_fault(call, "5xx after the work", 502, true, false);
        case 3:
          return add_fault(call, "5xx before the work", 500, false, false);
        default:
          return add_fault(call, "429 Retry-After", 429, false, false,
                           {{"Retry-After", retry_after}});
      }
    }
    switch (pick(4)) {
      case 0:
        return add_fault(call, "GET 5xx", 502, false, false);
      case 1:
        return add_fault(call, "GET timeout", 0, false, true);
      case 2:
        return add_fault(call, "403 Retry-After", 403, false, false,
                         {{"Retry-After", retry_after}, {"x-ratelimit-remaining", "0"}});
      default:
        return add_fault(call, "429 Retry-After", 429, false, false,
                         {{"Retry-After", retry_after}});
    }
  });

  std::set<int64_t> completed;
  bool settled = false;
  for (int round = 0; round < 400; ++round) {
    h.executor().RunDue();
    bool restart = false;
    {
      std::lock_guard lock(mu);
      restart = killed;
      killed = false;
    }
    if (restart) {
      h.Restart();
      out.restarts++;
      // The dead claims expire one lease later.
      h.clock().Advance(seconds(61));
      continue;
    }
    // Replacement runs succeed; their completion is delivered (sometimes twice).
    for (const FakeRun& r : h.github().runs()) {
      if (r.workflow != "transcribe_rpi.yml" || completed.count(r.id)) continue;
      completed.insert(r.id);
      h.github().SetRunStatus(r.id, "completed", "success");
      h.RecordRun(r.id, ".github/workflows/transcribe_rpi.yml", "completed", "success");
      bool twice;
      {
        std::lock_guard lock(mu);
        twice = chance(0.3);
      }
      if (twice)
        h.RecordRun(r.id, ".github/workflows/transcribe_rpi.yml", "completed", "success", "-again");
    }
    auto next = h.actions().NextDueTime();
    if (!next.ok()) continue;
    if (!*next) {
      settled = true;
      break;
    }
    int64_t jitter;
    {
      std::lock_guard lock(mu);
      jitter = pick(3000);
    }
    const int64_t wait = std::max<int64_t>(0, **next - h.Now()) + jitter;
    h.clock().Advance(milliseconds(wait));
  }
  h.github().SetCallHook(nullptr);

  // ---- invariants ----
  auto original = h.github().GetRun(kRun);
  out.fallbacks_cancelled = original && original->conclusion == "cancelled" ? 1 : 0;
  out.replacements = h.RunsOf("transcribe_rpi.yml");
  std::map<std::string, int> chains_for;  // source_run -> summarize runs
  for (const FakeRun& r : h.github().runs()) {
    if (r.workflow != "summarize.yml") continue;
    out.chain_runs++;
    auto it = r.inputs.find("source_run");
    chains_for[it == r.inputs.end() ? "?" : it->second]++;
  }
  for (const FakeRun& r : h.github().runs()) {
    if (r.workflow == "transcribe_rpi.yml" && r.conclusion == "success") out.successful_runs++;
  }
  const std::string fallback_status = h.ActionStatus("fallback:100:1");
  if (fallback_status == "aborted") out.aborted_started = 1;

  std::string why;
  if (!settled) why += "did not settle in 400 rounds (fallback " + fallback_status + "); ";
  if (out.fallbacks_cancelled == 1 && out.replacements != 1) {
    why += "run cancelled but " + std::to_string(out.replacements) + " replacement runs; ";
  }
  if (out.fallbacks_cancelled == 0 && out.replacements != 0) {
    why += "run not cancelled but " + std::to_string(out.replacements) + " replacement runs; ";
  }
  for (const FakeRun& r : h.github().runs()) {
    if (r.workflow != "transcribe_rpi.yml" || r.conclusion != "success") continue;
    const int n = chains_for[std::to_string(r.id)];
    if (n != 1)
      why +=
          "successful run " + std::to_string(r.id) + " chained " + std::to_string(n) + " times; ";
  }
  if (out.chain_runs != out.successful_runs) {
    why += std::to_string(out.chain_runs) + " chain runs for " +
           std::to_string(out.successful_runs) + " successful runs; ";
  }
  if (fallback_status == "running" || fallback_status == "failed") {
    why += "fallback:100:1 left " + fallback_status + "; ";
  }
  // Every other action (chains) too.
  for (const FakeRun& r : h.github().runs()) {
    if (r.workflow != "transcribe_rpi.yml") continue;
    const std::string key = "chain:summarize:" + std::to_string(r.id) + ":1";
    const std::string s = h.ActionStatus(key);
    if (s == "running" || s == "failed") why += key + " left " + s + "; ";
  }
  if (!why.empty()) {
    out.ok = false;
    out.failure = why;
  }
  return out;
}

}  // namespace relayq::testing
