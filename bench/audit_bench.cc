// audit_bench: how fast the audit queries answer on a large store.
//
// Fills a store (schema built by store::MigrateFileTo, then direct inserts in
// one transaction with prepared statements) with N jobs (default 1,000,000)
// across 50 repositories and 10 runner labels over the last 90 days, with
// their runs, three job events and three deliveries per job (bodies already
// pruned) and one routing action per 100 jobs. Then it times the common
// questions through the real query layer (store::StoreReader), printing the
// median of several runs and the EXPLAIN QUERY PLAN of each:
//   1. jobs by label and status in the last 24 h (first page, and all pages)
//   2. one repository's last 100 jobs
//   3. one job's history (job, events, deliveries, actions)
//   4. p95 queue wait per label over 7 days (one label, and all labels)
//
//   build/bench/audit_bench [--jobs N] [--db PATH] [--keep] [--runs R]
// --keep reuses PATH when it already holds a filled store (no refill).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/migrations.h"
#include "store/query.h"

namespace {

using relayq::Clock;
using relayq::store::Kind;
using relayq::store::ListQuery;
using relayq::store::StoreReader;

constexpr int kRepos = 50;
const char* const kMachines[] = {"macmini", "rpi4", "rpi3"};
const char* const kCapabilities[] = {"audio", "ffmpeg", "heavy", "light", "overflow", "verylight"};
constexpr int64_t kDay = 24LL * 3600 * 1000;

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "audit_bench: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

struct Prepared {
  sqlite3* db;
  sqlite3_stmt* s = nullptr;
  Prepared(sqlite3* d, const char* sql) : db(d) {
    Check(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), db, sql);
  }
  ~Prepared() { sqlite3_finalize(s); }
  Prepared& I(int i, int64_t v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  Prepared& T(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Prepared& N(int i) {
    sqlite3_bind_null(s, i);
    return *this;
  }
  void Run() {
    Check(sqlite3_step(s), db, "insert");
    sqlite3_reset(s);
  }
};

void Exec(sqlite3* db, const char* sql) {
  Check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql);
}

std::string Repo(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "home-lab/repo-%02d", i);
  return buf;
}

// Fills `path` with `jobs` jobs ending at `now_ms`.
void Fill(const std::string& path, int64_t jobs, int64_t now_ms) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  if (auto s = relayq::store::MigrateFileTo(path, relayq::store::LatestSchemaVersion()); !s.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  Exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;");
  Exec(db, "BEGIN");
  Prepared job(
      db,
      "INSERT INTO jobs (id, run_id, run_attempt, repository, workflow_name, name, labels, "
      "status, conclusion, runner_name, queued_at, started_at, completed_at, wait_seconds, "
      "duration_seconds, updated_at) VALUES (?1,?2,1,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,"
      "?14,?15)");
  Prepared label(db, "INSERT INTO job_labels (label, job_id) VALUES (?1, ?2)");
  Prepared event(db,
                 "INSERT INTO job_events (job_id, delivery_id, action, status, conclusion, "
                 "runner_name, event_at, received_at, applied) VALUES (?1,?2,?3,?3,?4,?5,?6,?7,1)");
  Prepared delivery(db,
                    "INSERT INTO deliveries (id, event, action, repository, received_at, outcome, "
                    "body_size) VALUES (?1, 'workflow_job', ?2, ?3, ?4, 'accepted', 9000)");
  Prepared run(db,
               "INSERT INTO runs (id, attempt, repository, workflow_path, workflow_name, event, "
               "status, conclusion, created_at, updated_at) VALUES (?1, 1, ?2, ?3, ?4, "
               "'workflow_dispatch', 'completed', 'success', ?5, ?6)");
  Prepared action(db,
                  "INSERT INTO actions (kind, key, repository, status, attempts, reason, job_id, "
                  "run_id, run_attempt, created_at, updated_at, done_at) VALUES ('fallback', ?1, "
                  "?2, 'done', 1, 'queued past 5m on macmini', ?3, ?4, 1, ?5, ?5, ?6)");

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> repo_d(0, kRepos - 1);
  std::uniform_int_distribution<int> cap_d(0, 5);
  std::exponential_distribution<double> wait_d(1.0 / 45.0);  // mean 45 s
  std::exponential_distribution<double> run_d(1.0 / 300.0);  // mean 5 min
  const int64_t start = now_ms - 90 * kDay;
  const int64_t step = std::max<int64_t>(1, 90 * kDay / jobs);
  for (int64_t i = 0; i < jobs; ++i) {
    const int64_t id = 10'000'000 + i;
    const int64_t run_id = 50'000'000 + i / 2;
    const int repo_i = repo_d(rng);
    const std::string repo = Repo(repo_i);
    const int machine = static_cast<int>(i % 7 == 0 ? 0 : (i % 7 < 5 ? 1 : 2));
    std::vector<std::string> labels = {"self-hosted", kMachines[machine],
                                       kCapabilities[cap_d(rng)]};
    if (i % 3 == 0) labels.push_back(kCapabilities[(cap_d(rng) + 1) % 6]);
    std::sort(labels.begin() + 1, labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    std::string labels_json = "[";
    for (size_t k = 0; k < labels.size(); ++k) {
      labels_json += (k ? ",\"" : "\"") + labels[k] + "\"";
    }
    labels_json += "]";
    const int64_t queued =
        start + i * step + static_cast<int64_t>(rng() % static_cast<uint64_t>(step));
    const int64_t wait = static_cast<int64_t>(wait_d(rng) * (machine == 0 ? 4 : 1));
    const int64_t dur = static_cast<int64_t>(run_d(rng));
    const int64_t started = queued + wait * 1000;
    const int64_t completed = started + dur * 1000;
    const std::string runner = std::string(kMachines[machine]) + "-" + std::to_string(i % 4);
    const bool done = completed < now_ms;
    const bool running = !done && started < now_ms;
    const std::string workflow = machine == 0 ? "transcribe_mac" : "transcribe_rpi";
    job.I(1, id).I(2, run_id).T(3, repo).T(4, workflow).T(5, "transcribe").T(6, labels_json);
    job.T(7, done ? "completed" : running ? "in_progress" : "queued");
    if (done)
      job.T(8, i % 50 == 0 ? "failure" : "success");
    else
      job.N(8);
    if (done || running)
      job.T(9, runner).I(11, started).I(13, wait);
    else
      job.N(9).N(11).N(13);
    job.I(10, queued);
    if (done)
      job.I(12, completed).I(14, dur);
    else
      job.N(12).N(14);
    job.I(15, done ? completed : running ? started : queued);
    job.Run();
    for (const auto& l : labels) label.T(1, l).I(2, id).Run();
    const char* stages[] = {"queued", "in_progress", "completed"};
    const int64_t at[] = {queued, started, completed};
    for (int k = 0; k < 3; ++k) {
      if (at[k] > now_ms) break;
      std::string did = "d-" + std::to_string(id) + "-" + std::to_string(k);
      event.I(1, id).T(2, did).T(3, stages[k]);
      if (k == 2)
        event.T(4, i % 50 == 0 ? "failure" : "success");
      else
        event.N(4);
      if (k > 0)
        event.T(5, runner);
      else
        event.N(5);
      event.I(6, at[k]).I(7, at[k] + 300).Run();
      delivery.T(1, did).T(2, stages[k]).T(3, repo).I(4, at[k] + 300).Run();
    }
    if (i % 2 == 0) {
      run.I(1, run_id).T(2, repo).T(3, ".github/workflows/" + workflow + ".yml").T(4, workflow);
      run.I(5, queued - 2000).I(6, done ? completed : queued).Run();
    }
    if (i % 100 == 0) {
      action.T(1, "fallback:" + std::to_string(run_id) + ":1").T(2, repo).I(3, id).I(4, run_id);
      action.I(5, queued + 300000).I(6, queued + 301000).Run();
    }
    if ((i + 1) % 100000 == 0) {
      std::fprintf(stderr, "  ... %lld jobs\n", static_cast<long long>(i + 1));
    }
  }
  Exec(db, "COMMIT");
  // Leave it as relayq serve would: WAL mode.
  Exec(db, "PRAGMA journal_mode = WAL");
  sqlite3_close(db);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `f` `runs` times (after one warm-up) and returns the median in ms.
double TimeMs(int runs, const std::function<void()>& f) {
  Clock& clock = Clock::Real();
  f();
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    auto t0 = clock.Monotonic();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(clock.Monotonic() - t0).count());
  }
  return Median(ms);
}

void Report(const char* name, double ms, size_t rows,
            const relayq::Result<std::vector<std::string>>& plan) {
  std::printf("%-58s %9.2f ms  (%zu rows)  %s\n", name, ms, rows, ms < 50 ? "ok" : "OVER 50 ms");
  if (plan.ok()) {
    for (const auto& line : *plan) std::printf("      plan: %s\n", line.c_str());
  }
}

template <typename T>
T Must(relayq::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "audit_bench: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t jobs = 1'000'000;
  int runs = 7;
  bool keep = false;
  std::string path = "audit_bench.db";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--jobs" && i + 1 < argc)
      jobs = std::stoll(argv[++i]);
    else if (a == "--db" && i + 1 < argc)
      path = argv[++i];
    else if (a == "--runs" && i + 1 < argc)
      runs = std::stoi(argv[++i]);
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr, "usage: audit_bench [--jobs N] [--db PATH] [--keep] [--runs R]\n");
      return 2;
    }
  }
  const int64_t now = relayq::ToUnixMillis(Clock::Real().Now());
  if (!keep || !std::filesystem::exists(path)) {
    std::fprintf(stderr, "filling %s with %lld jobs...\n", path.c_str(),
                 static_cast<long long>(jobs));
    auto t0 = Clock::Real().Monotonic();
    Fill(path, jobs, now);
    std::fprintf(stderr, "filled in %.1f s (%.0f MB)\n",
                 std::chrono::duration<double>(Clock::Real().Monotonic() - t0).count(),
                 static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  }
  {
    // A kept store from an older relayq is upgraded in place, as serve would.
    auto t0 = Clock::Real().Monotonic();
    if (auto s = relayq::store::MigrateFileTo(path, relayq::store::LatestSchemaVersion());
        !s.ok()) {
      std::fprintf(stderr, "audit_bench: %s\n", s.ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "schema %d ready in %.1f s\n", relayq::store::LatestSchemaVersion(),
                 std::chrono::duration<double>(Clock::Real().Monotonic() - t0).count());
  }
  auto reader = Must(StoreReader::Open(path), "open");
  std::printf("store %s, median of %d runs each\n\n", path.c_str(), runs);

  size_t rows = 0;
  ListQuery by_label;
  by_label.kind = Kind::kJobs;
  by_label.label = "rpi4";
  by_label.status = "completed";
  by_label.since_ms = now - kDay;
  by_label.limit = 100;
  double ms = TimeMs(runs, [&] { rows = Must(reader->List(by_label), "by label").items.size(); });
  Report("1a. label=rpi4 status=completed since=24h (first 100)", ms, rows,
         reader->ExplainList(by_label));

  ListQuery all_pages = by_label;
  all_pages.limit = relayq::store::kMaxPageSize;
  ms = TimeMs(runs, [&] {
    rows = 0;
    ListQuery q = all_pages;
    for (;;) {
      auto page = Must(reader->List(q), "pages");
      rows += page.items.size();
      if (page.next.empty()) break;
      q.cursor = page.next;
    }
  });
  Report("1b. same, every page (1000 per page)", ms, rows, reader->ExplainList(all_pages));

  ListQuery repo;
  repo.kind = Kind::kJobs;
  repo.repo = Repo(7);
  repo.limit = 100;
  ms = TimeMs(runs, [&] { rows = Must(reader->List(repo), "repo").items.size(); });
  Report("2.  repo=home-lab/repo-07, last 100 jobs", ms, rows, reader->ExplainList(repo));

  // A job with a routing action: i % 100 == 0.
  const int64_t job_id = 10'000'000 + (jobs / 2) / 100 * 100;
  ms = TimeMs(runs, [&] {
    auto h = Must(reader->Job(job_id), "job");
    rows = 1 + h.events.size() + h.deliveries.size() + h.actions.size();
  });
  Report("3.  one job's history (job + events + deliveries + actions)", ms, rows,
         reader->ExplainJob());

  int64_t p95 = 0;
  ms = TimeMs(runs, [&] {
    auto w = Must(reader->WaitByLabel(now - 7 * kDay, now, std::string("macmini")), "wait");
    rows = w.empty() ? 0 : static_cast<size_t>(w[0].jobs);
    p95 = w.empty() ? 0 : w[0].p95_seconds;
  });
  Report("4a. p95 queue wait, label=macmini, 7 days", ms, rows, reader->ExplainWaitByLabel());
  std::printf("      p95 = %lld s over %zu jobs\n", static_cast<long long>(p95), rows);

  std::vector<relayq::store::LabelWait> waits;
  ms = TimeMs(runs, [&] {
    waits = Must(reader->WaitByLabel(now - 7 * kDay, now, std::nullopt), "waits");
    rows = waits.size();
  });
  Report("4b. p95 queue wait, every label, 7 days", ms, rows, reader->ExplainWaitAllLabels());
  for (const auto& w : waits) {
    std::printf("      %-12s jobs %7lld  p50 %4llds  p95 %4llds\n", w.label.c_str(),
                static_cast<long long>(w.jobs), static_cast<long long>(w.p50_seconds),
                static_cast<long long>(w.p95_seconds));
  }
  return 0;
}
