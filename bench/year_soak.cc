// year_soak: a busy homelab's year, unattended, in compressed time. Drives
// webhook deliveries through the real store writer (group commit, lifecycle,
// body compression) with the real Router as its routing hook, on a fake
// clock, and does what the daemon's other loops do: carries out due routing
// actions (the executor's claim and finish, without GitHub) and runs the
// daily prune of store.retention and store.history (store::PruneBodies,
// store::PruneHistory, then store::ReclaimFreePages, as server::DailyPrune
// does). Prints every --report-every days (30, a "month"): the store's size
// on disk (db + wal), rows per table, RSS, open file descriptors, how long
// the README's audit queries take through store::StoreReader, and the
// longest write transaction the day's prune took.
//
//   year_soak [--days N] [--jobs-per-day N] [--retention DAYS] [--history DAYS]
//             [--dir DIR] [--sync full|normal] [--seed N] [--report-every DAYS]
//
// Defaults: 90 days (long enough to pass a 30-day retention twice; about 10
// minutes on this project's shared 2-core machine; the full year,
// `year_soak --days 365`, takes about four times as long), 2,000 jobs a day
// across 5 repositories, retention 30 days (0: never prune), history 400
// days (the daemon's default; 0: keep every record),
// synchronous=normal (the soak measures growth, not durability; `full`, the
// daemon's default, only adds flushes).
//
// Each job is one run of transcribe_mac.yml (the routing harness's policy,
// tests/fakes/routing_harness.h): queued on macmini, then in most cases
// started within minutes and completed; 2% of deliveries are redelivered
// (the same delivery id again), 3% of runs are rerun an hour later (attempt
// 2), 8% wait past the 5-minute queue timeout and fall back to
// transcribe_rpi.yml on rpi4, whose success chains summarize.yml. Bodies
// are real payloads (tests/fakes/github_payloads.h) with their ids, commit
// sha and times varied per delivery.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "common/time_format.h"
#include "handlers/policy_holder.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "store/action_store.h"
#include "store/database.h"
#include "store/maintenance.h"
#include "store/query.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/routing_fixtures.h"
#include "tests/fakes/routing_harness.h"

namespace relayq {
namespace {

using std::chrono::milliseconds;
// How often the simulated executor claims due actions (the daemon's wakes at
// each due time; a fallback is carried out at most this late).
constexpr int64_t kExecutorTick = 5 * 60 * 1000;
constexpr int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;

struct Options {
  int days = 90;
  int jobs_per_day = 2000;
  int retention_days = 30;
  int history_days = 400;
  int report_every = 30;  // days between report lines
  std::string dir;
  store::StoreOptions::Sync sync = store::StoreOptions::Sync::kNormal;
  uint64_t seed = 1;
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "year_soak: " << what << "\n";
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(*r);
}

double ResidentMiB() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long total = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &total, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20) : 0;
}

int OpenFds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n - 1;  // the directory iterator's own descriptor
}

double FileMiB(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<double>(size) / (1 << 20);
}

// Rows per table, read on a connection of its own (a bench's witness; the
// daemon never counts whole tables).
std::vector<std::pair<std::string, int64_t>> RowsPerTable(const std::string& path) {
  sqlite3* db = nullptr;
  std::vector<std::pair<std::string, int64_t>> out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_busy_timeout(db, 5000);
  std::vector<std::string> tables;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' ORDER BY name",
                     -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  for (const auto& t : tables) {
    sqlite3_prepare_v2(db, ("SELECT count(*) FROM \"" + t + "\"").c_str(), -1, &s, nullptr);
    if (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(t, sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

// The simulated homelab: a time-ordered queue of things that happen, the
// store they happen to, and the executor's part (claim due actions, finish
// them, and for a fallback or chain start the run it dispatched).
class Homelab {
 public:
  Homelab(const Options& o, testing::FakeClock& clock, store::Store& store,
          store::ActionStore& actions)
      : o_(o), clock_(clock), store_(store), actions_(actions), rng_(o.seed) {
    testing::JobSpec js;
    for (const char* a : {"queued", "in_progress", "completed"}) {
      js.action = a;
      if (js.action != "queued") js.runner_name = "mac-mini-1";
      if (js.action == "completed") js.conclusion = "success";
      job_body_[a] = testing::WorkflowJobPayload(js);
    }
    testing::RunSpec rs;
    run_body_ = testing::WorkflowRunPayload(rs);
  }

  // Schedules one day's jobs, starting at `day_start` (Unix ms).
  void PlanDay(int64_t day_start) {
    if (next_exec_ == 0) next_exec_ = day_start;
    const int64_t spacing = kDay / std::max(1, o_.jobs_per_day);
    for (int i = 0; i < o_.jobs_per_day; ++i) {
      const int64_t t = day_start + i * spacing + Uniform(0, spacing - 1);
      const std::string repo = "homelab/repo" + std::to_string(i % 5);
      At(t, [this, repo] { MacJob(repo, next_run_++, 1); });
    }
  }

  // Runs everything due up to `until`, advancing the clock; the executor
  // looks for due actions every kExecutorTick of simulated time.
  void RunUntil(int64_t until) {
    while (!events_.empty() && events_.top().t <= until) {
      Event e = events_.top();
      events_.pop();
      while (next_exec_ <= e.t) {
        AdvanceTo(next_exec_);
        // The writer first: the executor's claim would otherwise wait on its
        // lock in SQLite's busy handler (real sleeps), as in the daemon.
        Drain();
        Execute();
        next_exec_ += kExecutorTick;
      }
      AdvanceTo(e.t);
      e.fn();
    }
    AdvanceTo(until);
  }

  // Waits until every delivery handed to the store is committed.
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

  int64_t deliveries() const { return deliveries_; }
  int64_t Now() const { return ToUnixMillis(clock_.Now()); }

 private:
  struct Event {
    int64_t t;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void At(int64_t t, std::function<void()> fn) { events_.push({t, seq_++, std::move(fn)}); }
  void AdvanceTo(int64_t t) {
    const int64_t now = Now();
    if (t > now) clock_.Advance(milliseconds(t - now));
  }

  void Send(store::Delivery d, const std::string& id) {
    d.id = id;
    d.received_at = Now();
    d.content_type = "application/json";
    const bool redeliver = Chance(0.02);
    for (int copy = 0; copy < (redeliver ? 2 : 1); ++copy) {
      {
        std::lock_guard lock(mu_);
        ++in_flight_;
      }
      ++deliveries_;
      store_.IngestAsync(d, [this](Result<store::IngestResult> r) {
        if (!r.ok()) Die("ingest: " + r.status().ToString());
        std::lock_guard lock(mu_);
        if (--in_flight_ == 0) cv_.notify_all();
      });
    }
  }

  // `tmpl` with what differs between real deliveries put in: the run's and
  // job's ids, a commit sha per run and the time (each as long as the
  // template's), so bodies compress as real ones do rather than to nothing.
  std::string Vary(const std::string& tmpl, int64_t run, int64_t job) {
    std::string sha = Sha(run);
    std::string ts = FormatRfc3339(Now());
    ts.resize(std::min<size_t>(ts.size(), 19));
    ts += "Z";
    std::string out = tmpl;
    ReplaceAll(out, "f4f01fe7a5e3c6a0b3d1e2c9a8b7f6e5d4c3b2a1", sha);
    ReplaceAll(out, "11185212", std::to_string(run));
    if (job != 0) ReplaceAll(out, "29679449", std::to_string(job));
    for (const char* t : {"2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z", "2026-01-01T00:05:00Z"}) {
      ReplaceAll(out, t, ts);
    }
    return out;
  }
  static void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  static std::string Sha(int64_t run) {
    std::mt19937_64 r(static_cast<uint64_t>(run));
    char hex[41];
    for (int i = 0; i < 40; ++i) hex[i] = "0123456789abcdef"[r() & 15];
    hex[40] = '\0';
    return hex;
  }

  // A workflow_run delivery of a run created at `created` (GitHub's
  // created_at: every delivery of the run carries it).
  void Run(const std::string& repo, int64_t run, int attempt, const std::string& workflow,
           const std::string& status, const std::string& conclusion, int64_t created) {
    store::Delivery d =
        testing::RunDelivery(repo, run, ".github/workflows/" + workflow, status, conclusion, Now());
    d.run->attempt = attempt;
    d.run->created_at = created;
    d.action = d.run->action;
    d.body = Vary(run_body_, run, 0);
    Send(std::move(d), "run-" + std::to_string(run) + "-" + std::to_string(attempt) + "-" + status);
  }

  void Job(const std::string& repo, int64_t run, int attempt, int64_t job, const std::string& label,
           const std::string& action, const std::string& conclusion, int64_t created) {
    store::Delivery d = testing::QueuedJobDelivery(repo, run, job, {"self-hosted", label}, created);
    d.job->run_attempt = attempt;
    d.job->action = d.job->status = action;
    d.action = action;
    if (action != "queued") {
      d.job->runner_name = label + "-1";
      d.job->started_at = Now();
    }
    if (action == "completed") {
      d.job->conclusion = conclusion;
      d.job->completed_at = Now();
    }
    d.body = Vary(job_body_[action], run, job);
    Send(std::move(d), "job-" + std::to_string(job) + "-" + action);
  }

  // A job on `label` that is queued now, starts after `wait` and runs for
  // `duration`, with its run around it.
  void Lifecycle(const std::string& repo, int64_t run, int attempt, const std::string& workflow,
                 const std::string& label, int64_t wait, int64_t duration) {
    const int64_t job = next_job_++;
    const int64_t created = Now();
    Run(repo, run, attempt, workflow, "requested", "", created);
    Job(repo, run, attempt, job, label, "queued", "", created);
    At(created + wait, [=, this] {
      Job(repo, run, attempt, job, label, "in_progress", "", created);
      Run(repo, run, attempt, workflow, "in_progress", "", created);
    });
    At(created + wait + duration, [=, this] {
      Job(repo, run, attempt, job, label, "completed", "success", created);
      Run(repo, run, attempt, workflow, "completed", "success", created);
    });
  }

  void MacJob(const std::string& repo, int64_t run, int attempt) {
    if (attempt == 1 && Chance(0.08)) {
      // Stuck: nobody takes it; the fallback (due after 5 minutes) cancels
      // the run and dispatches transcribe_rpi.yml.
      const int64_t job = next_job_++;
      const int64_t created = Now();
      Run(repo, run, attempt, "transcribe_mac.yml", "requested", "", created);
      Job(repo, run, attempt, job, "macmini", "queued", "", created);
      stuck_[run] = {repo, job, created};
      return;
    }
    Lifecycle(repo, run, attempt, "transcribe_mac.yml", "macmini", Uniform(5, 240) * kSecond,
              Uniform(60, 900) * kSecond);
    if (attempt == 1 && Chance(0.03)) {
      At(Now() + kHour + Uniform(0, kHour), [=, this] { MacJob(repo, run, 2); });
    }
  }

  // The executor's part: every due action is claimed and finished.
  void Execute() {
    const int64_t now = Now();
    auto claimed = Must(actions_.ClaimDue(now, "year-soak", now + kMinute, 100), "claim");
    for (const auto& c : claimed) {
      const store::ActionRecord& a = c.action;
      if (a.kind == store::ActionKind::kFallback && a.run_id) {
        auto it = stuck_.find(*a.run_id);
        if (it != stuck_.end()) {
          const Stuck stuck = it->second;
          stuck_.erase(it);
          const int64_t run = *a.run_id;
          Job(stuck.repo, run, 1, stuck.job, "macmini", "completed", "cancelled", stuck.created);
          Run(stuck.repo, run, 1, "transcribe_mac.yml", "completed", "cancelled", stuck.created);
          const int64_t rpi = next_run_++;
          At(now + 10 * kSecond, [=, this] {
            Lifecycle(stuck.repo, rpi, 1, "transcribe_rpi.yml", "rpi4", Uniform(2, 30) * kSecond,
                      Uniform(300, 1800) * kSecond);
          });
        }
      } else if (a.kind == store::ActionKind::kChain) {
        const int64_t run = next_run_++;
        const std::string repo = a.repository;
        At(now + 10 * kSecond, [=, this] {
          Lifecycle(repo, run, 1, "summarize.yml", "rpi4", Uniform(2, 30) * kSecond,
                    Uniform(30, 120) * kSecond);
        });
      }
      Status s = actions_.Finish(c.claim, store::ActionStatus::kDone, "{}", std::nullopt, now);
      if (!s.ok()) Die("finish: " + s.ToString());
    }
  }

  const Options& o_;
  testing::FakeClock& clock_;
  store::Store& store_;
  store::ActionStore& actions_;
  std::mt19937_64 rng_;
  std::map<std::string, std::string> job_body_;
  std::string run_body_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  int64_t next_exec_ = 0;
  int64_t next_run_ = 10'000'000, next_job_ = 50'000'000;
  int64_t deliveries_ = 0;
  // Runs whose Mac job nobody takes, until their fallback.
  struct Stuck {
    std::string repo;
    int64_t job = 0;
    int64_t created = 0;  // of the run and its job
  };
  std::map<int64_t, Stuck> stuck_;  // by run id
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t in_flight_ = 0;  // guarded by mu_
};

// The README's audit examples (README "relayq audit"), each timed once on a
// fresh reader, first page of 100.
struct AuditTimes {
  double label_queued, since_24h, undecodable_7d, failed_actions, one_job;
};

double TimeMs(const std::function<void()>& f) {
  const MonoTime start = Clock::Real().Monotonic();
  f();
  return std::chrono::duration<double, std::milli>(Clock::Real().Monotonic() - start).count();
}

AuditTimes TimeAudit(const std::string& path, int64_t now, int64_t a_job) {
  auto reader = Must(store::StoreReader::Open(path), "reader");
  AuditTimes t{};
  auto list = [&](store::ListQuery q) {
    return TimeMs([&] { (void)Must(reader->List(q), "audit list"); });
  };
  store::ListQuery q;
  q.label = "macmini";
  q.status = "queued";
  t.label_queued = list(q);
  q = {};
  q.since_ms = now - kDay;
  t.since_24h = list(q);
  q = {};
  q.kind = store::Kind::kDeliveries;
  q.status = "undecodable";
  q.since_ms = now - 7 * kDay;
  t.undecodable_7d = list(q);
  q = {};
  q.kind = store::Kind::kActions;
  q.status = "failed";
  t.failed_actions = list(q);
  t.one_job = TimeMs([&] { (void)reader->Job(a_job); });
  return t;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--days") {
      o.days = std::atoi(next().c_str());
    } else if (a == "--jobs-per-day") {
      o.jobs_per_day = std::atoi(next().c_str());
    } else if (a == "--retention") {
      o.retention_days = std::atoi(next().c_str());
    } else if (a == "--history") {
      o.history_days = std::atoi(next().c_str());
    } else if (a == "--report-every") {
      o.report_every = std::atoi(next().c_str());
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--seed") {
      o.seed = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--sync") {
      const std::string v = next();
      if (v != "full" && v != "normal") Die("--sync is full or normal");
      o.sync = v == "full" ? store::StoreOptions::Sync::kFull : store::StoreOptions::Sync::kNormal;
    } else {
      std::cerr << "usage: year_soak [--days N] [--jobs-per-day N] [--retention DAYS] [--history "
                   "DAYS] [--dir DIR] [--sync full|normal] [--seed N] [--report-every DAYS]\n";
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  if (o.days < 1 || o.jobs_per_day < 1 || o.retention_days < 0 || o.history_days < 0 ||
      o.report_every < 1) {
    Die("bad option value");
  }
  return o;
}

int Main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::string dir = o.dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/year_soak.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
  }
  const std::string path = dir + "/relayq.db";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");

  testing::FakeClock clock;
  auto parsed = policy::ParsePolicy(testing::kRoutingHarnessPolicy, "policy.yaml");
  if (!parsed.ok()) Die("policy does not parse");
  handlers::PolicyHolder policy(parsed.policy);
  handlers::Router router(policy);
  store::StoreOptions so;
  so.path = path;
  so.synchronous = o.sync;
  auto db = Must(store::Database::Open(so, store::Database::Mode::kCreate), "open");
  if (Status s = db->Migrate(); !s.ok()) Die("migrate: " + s.ToString());
  auto store = Must(db->OpenWriter(clock), "writer");
  store->SetRoutingHook(&router, nullptr);
  auto actions = Must(db->OpenActionStore(), "action store");

  std::printf(
      "year_soak: %d days, %d jobs/day, 5 repos, retention %d days, history %d days, "
      "synchronous=%s, %s\n",
      o.days, o.jobs_per_day, o.retention_days, o.history_days,
      o.sync == store::StoreOptions::Sync::kFull ? "full" : "normal", path.c_str());
  std::printf(
      "%5s %9s %8s %8s %6s %4s  %-s  | audit ms: label+queued, since 24h, undecodable 7d, "
      "failed actions, one job | longest prune batch ms (table)\n",
      "day", "db MiB", "wal MiB", "RSS MiB", "fds", "", "rows");

  Homelab lab(o, clock, *store, *actions);
  const int64_t start = ToUnixMillis(clock.Now());
  const MonoTime wall_start = Clock::Real().Monotonic();
  int64_t bodies_dropped = 0, records_deleted = 0;
  double longest_batch_ms = 0;  // since the last report
  std::string longest_batch_table;
  for (int day = 0; day < o.days; ++day) {
    const int64_t day_start = start + day * kDay;
    lab.PlanDay(day_start);
    lab.RunUntil(day_start + kDay);
    lab.Drain();
    // The daemon's daily prune, on its own connection as DailyPrune does.
    auto pdb = Must(store::Database::Open(so), "prune open");
    bool freed = false;
    if (o.retention_days > 0) {
      auto pr = Must(store::PruneBodies(*pdb, lab.Now() - o.retention_days * kDay), "prune");
      bodies_dropped += pr.bodies_dropped;
      freed = pr.bodies_dropped > 0;
    }
    if (o.history_days > 0) {
      auto hr = Must(store::PruneHistory(*pdb, lab.Now() - o.history_days * kDay), "history prune");
      records_deleted += hr.total();
      freed = freed || hr.total() > 0;
      if (hr.longest_batch_us / 1000.0 > longest_batch_ms) {
        longest_batch_ms = hr.longest_batch_us / 1000.0;
        longest_batch_table = hr.longest_batch_table;
      }
    }
    if (freed) (void)Must(store::ReclaimFreePages(*pdb), "reclaim");
    const bool month_end = (day + 1) % o.report_every == 0 || day + 1 == o.days;
    if (!month_end) continue;
    auto rows = RowsPerTable(path);
    AuditTimes at = TimeAudit(path, lab.Now(), 50'000'000 + (day + 1) * o.jobs_per_day / 2);
    std::string row_text;
    for (const auto& [t, n] : rows) row_text += t + "=" + std::to_string(n) + " ";
    std::printf("%5d %9.1f %8.1f %8.1f %6d %4s  %s | %.2f %.2f %.2f %.2f %.2f | %.1f %s\n", day + 1,
                FileMiB(path), FileMiB(path + "-wal"), ResidentMiB(), OpenFds(), "",
                row_text.c_str(), at.label_queued, at.since_24h, at.undecodable_7d,
                at.failed_actions, at.one_job, longest_batch_ms, longest_batch_table.c_str());
    longest_batch_ms = 0;
    longest_batch_table.clear();
    std::fflush(stdout);
  }
  store->Close();
  const double secs = std::chrono::duration<double>(Clock::Real().Monotonic() - wall_start).count();
  std::printf("done: %" PRId64 " deliveries in %.0f s (%.0f/s); %" PRId64 " bodies pruned, %" PRId64
              " records deleted; store %.1f MiB + wal %.1f MiB\n",
              lab.deliveries(), secs, lab.deliveries() / secs, bodies_dropped, records_deleted,
              FileMiB(path), FileMiB(path + "-wal"));
  if (o.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace relayq

int main(int argc, char** argv) { return relayq::Main(argc, argv); }
