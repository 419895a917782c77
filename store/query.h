// StoreReader: the one read-only query layer over a relayq store, shared by
// `relayq audit` and the admin API (and the dashboard and store metrics).
//
// It opens the SQLite file read-only, so it can never create, migrate or
// change a store, and it is safe while `relayq serve` writes: the store runs
// in WAL mode, so a reader sees the last committed state and never blocks
// the writer (a busy timeout covers the short moments a checkpoint or
// recovery holds a lock).
//
// Items come back as Records: ordered (name, typed value) lists whose field
// names are the external contract of PRODUCT.md (`id`, `queued_at`,
// `wait_seconds`, ...). Renderers (JSON, CSV, tables) work from the types
// alone, so the CLI and the API cannot drift apart.
//
// Lists are newest first, ordered by each kind's own time (a job's
// queued_at, a run's created_at, a delivery's received_at, an action's or a
// dispatch request's created_at) and then by row id. Pagination is keyset-based on that
// (time, id) pair: a cursor names the last item returned, so rows that arrive
// between pages neither shift nor repeat items. Filter values are only ever
// bound as SQL parameters; the SQL text is chosen from fixed fragments.
//
// Thread safety: a StoreReader is one SQLite connection and belongs to one
// thread at a time; open one per thread (or pool them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace relayq::store {

// One field of an item. The type tells renderers how to show the value.
struct Field {
  enum class Type {
    kNull,     // unknown / not applicable: JSON null, empty CSV cell
    kInt,      // a whole number (ids, attempts)
    kText,     // a string
    kTime,     // Unix ms in `i`; shown as RFC 3339 UTC
    kSeconds,  // a duration in whole seconds in `i`
    kList,     // a list of strings (a job's labels)
    kBool,     // 0 or 1 in `i`
    kJson,     // a JSON text in `s` (a request's inputs): JSON shows the value
  };
  std::string name;
  Type type = Type::kNull;
  int64_t i = 0;
  std::string s;
  std::vector<std::string> list;
};

// One item: fields in contract order.
struct Record {
  std::vector<Field> fields;

  // The field called `name`, or null when the record has none.
  const Field* Get(std::string_view name) const;
};

enum class Kind { kJobs, kRuns, kDeliveries, kActions, kRequests };

// "jobs" -> kJobs, ...; InvalidArgument naming the accepted kinds otherwise.
Result<Kind> ParseKind(std::string_view text);
std::string_view KindName(Kind kind);

// The field names each kind's records carry, in order (CSV header, table).
const std::vector<std::string>& FieldNames(Kind kind);

// What to list. Unset filters do not restrict.
struct ListQuery {
  Kind kind = Kind::kJobs;
  std::optional<std::string> repo;    // exact owner/name
  std::optional<std::string> label;   // jobs only: jobs carrying this label
  std::optional<std::string> status;  // jobs/runs/actions/requests: status; deliveries: outcome
  std::optional<int64_t> since_ms;    // item time >= since (inclusive)
  std::optional<int64_t> until_ms;    // item time <  until (exclusive)
  int limit = 100;                    // 1..kMaxPageSize items per page
  std::string cursor;                 // empty: the first (newest) page
};

inline constexpr int kMaxPageSize = 1000;
// The most requests one story follows (a chain that loops is cut there).
inline constexpr int kMaxStoryRequests = 50;

// The values a list's status filter accepts for `kind`: a job's or run's
// status or GitHub conclusion, a delivery's outcome, an action's status.
// StoreReader::List refuses any other value with InvalidArgument naming them
// (the CLI's exit 2, the API's 400).
std::vector<std::string> StatusValues(Kind kind);

struct Page {
  std::vector<Record> items;
  // The cursor of the next page; empty when this page is the last.
  std::string next;
};

// One job and everything that happened to it.
struct JobHistory {
  Record job;
  std::vector<Record> events;      // job_events, oldest first: each state it passed
  std::vector<Record> deliveries;  // each delivery that touched it, oldest first
  std::vector<Record> actions;     // routing actions on the job or its run, oldest first
};

// One routing action as stored: its list record (the fields of an
// `actions` item) and the JSON texts behind it.
struct ActionDetail {
  Record action;
  std::string payload;                // what it was asked to do (JSON object)
  std::optional<std::string> result;  // its progress and outcome (JSON), once tried
  // What operators asked of it (`relayq actions retry|cancel`), oldest
  // first: `at`, `what` (retry, cancel), `who`, `reason`, `from_status`,
  // `to_status`. Empty on a store older than the operator controls.
  std::vector<Record> history;
};

// Where a dispatch request stands, all things considered: its own run, the
// fallback that replaced it, the chained requests that followed it.
enum class RequestOutcome {
  kInProgress,  // something is still to happen (a send, a run, a fallback, a chain)
  kSuccess,     // the last run of the chain ended in success
  kFailure,     // a run failed, GitHub refused a dispatch, a chain could not be sent
  kCancelled,   // a run was cancelled (and no fallback replaced it)
};
// "in_progress", "success", "failure", "cancelled".
std::string_view RequestOutcomeName(RequestOutcome o);

// One step of a request's story (RequestStory::steps).
struct StoryStep {
  std::optional<int64_t> at;  // Unix ms; null when the store has no time for it
  int64_t request_id = 0;     // the request the step belongs to
  int depth = 0;              // 0: the request asked for; 1: one it led to; ...
  // submitted, dispatched, queued (not sent yet), dispatch_failed,
  // run_requested (a re-run attempt), job_queued, job_started, job_finished,
  // run_finished, fallback_planned, fallback, fallback_aborted,
  // fallback_refused, fallback_failed, chained, chain_pending, chain_failed.
  std::string step;
  std::string detail;  // one line a person reads: why, where, what GitHub said
  std::optional<int64_t> run_id;
  std::optional<int64_t> run_attempt;
  std::optional<std::string> run_url;
  std::optional<int64_t> job_id;
  std::optional<int64_t> action_id;
  std::optional<int64_t> new_request_id;  // fallback/chained: the request it created
  std::optional<std::string> conclusion;  // job_finished, run_finished
};

// One dispatch request and everything it led to.
struct RequestStory {
  Record request;  // the `requests` item asked for
  RequestOutcome outcome = RequestOutcome::kInProgress;
  std::string outcome_why;  // what decided the outcome, in words
  // Every step of the request and of the requests it led to (fallbacks,
  // chains, recursively), oldest first.
  std::vector<StoryStep> steps;
  std::vector<Record> requests;  // this request, then those it led to, as reached
  std::vector<Record> runs;      // their runs, every attempt
  std::vector<Record> actions;   // the routing actions on them, oldest first
};

// Queued-now summary of one label (dashboard, metrics).
struct LabelQueue {
  std::string label;
  int64_t queued = 0;                    // jobs queued or waiting now
  std::optional<int64_t> oldest_queued;  // Unix ms of the oldest of them
};

// A runner and what it ran recently (dashboard).
struct RunnerSeen {
  std::string runner_name;
  int64_t last_seen = 0;  // Unix ms: latest start or completion seen
  int64_t jobs = 0;       // jobs it took in the window
  int64_t busy = 0;       // of which in progress now
  std::string last_repository, last_workflow, last_job, last_status;
};

// Queue-wait distribution of one label over a window (bench, dashboard).
struct LabelWait {
  std::string label;
  int64_t jobs = 0;  // jobs with a known wait
  int64_t p50_seconds = 0;
  int64_t p95_seconds = 0;
  int64_t max_seconds = 0;
};

// `relayq audit waits` and GET /api/v1/waits: queue waits per label per
// period.
struct WaitsQuery {
  enum class By { kDay, kWeek };
  int64_t since_ms = 0;              // jobs queued at or after
  int64_t until_ms = 0;              // and before
  std::optional<std::string> label;  // unset: every label
  By by = By::kDay;
};
// "day" / "week"; InvalidArgument naming them otherwise.
Result<WaitsQuery::By> ParseWaitsBy(std::string_view text);

// The field names of a waits row, in order: label, period_start (the
// period's first instant: 00:00 UTC of the day, or of the ISO week's
// Monday), jobs (jobs queued in the period that asked for the label),
// waited (of which the wait is known: they started), p50_seconds,
// p95_seconds, max_seconds (over the waited ones; null when none), and
// fallbacks (of the jobs, those a fallback was carried out for: a done
// fallback action).
const std::vector<std::string>& WaitsFieldNames();

// Counts for store gauges (metrics).
struct CountBy {
  std::vector<std::string> keys;  // the grouping values, e.g. {kind, status}
  int64_t count = 0;
};

// A job whose wait became known (it started) in a range of job events.
struct WaitObservation {
  int64_t wait_seconds = 0;
  std::vector<std::string> labels;
};

class StoreReader {
 public:
  // Shorthand for Database::Open({path, busy_timeout_ms}) then OpenReader():
  // opens the store at `path` read-only. NotFound when the file does not
  // exist (it is never created); InvalidArgument when the file is not a
  // relayq store or is from a newer relayq; IoError when unreadable.
  static Result<std::unique_ptr<StoreReader>> Open(const std::string& path,
                                                   int busy_timeout_ms = 5000);
  virtual ~StoreReader() = default;

  // One page of `q`. InvalidArgument for a filter that does not apply to
  // the kind (label on runs), a limit out of 1..kMaxPageSize, or a cursor
  // that is malformed or belongs to another kind.
  virtual Result<Page> List(const ListQuery& q) = 0;

  // One job with its full history; NotFound for an unknown id.
  virtual Result<JobHistory> Job(int64_t id) = 0;

  // One action with its payload and stored progress; NotFound ("no action
  // N") for an unknown id.
  virtual Result<ActionDetail> Action(int64_t id) = 0;

  // One dispatch request's story: how it was submitted and sent, its runs
  // and jobs, the fallbacks and chains it led to and their requests (at most
  // kMaxStoryRequests of them), with its outcome. NotFound ("no request N")
  // for an unknown id.
  virtual Result<RequestStory> Request(int64_t id) = 0;

  // Per label: jobs queued (or waiting) now and the oldest queue time.
  virtual Result<std::vector<LabelQueue>> QueuedByLabel() = 0;

  // Runners that started or finished a job queued at or after `since_ms`,
  // most recently seen first, at most `limit`.
  virtual Result<std::vector<RunnerSeen>> RunnersSince(int64_t since_ms, int limit) = 0;

  // Queue-wait percentiles per label for jobs queued in [since_ms, until_ms)
  // (all labels when `label` is unset).
  virtual Result<std::vector<LabelWait>> WaitByLabel(int64_t since_ms, int64_t until_ms,
                                                     const std::optional<std::string>& label) = 0;

  // Queue waits per label and period for jobs queued in [since, until):
  // one Record (WaitsFieldNames) per label and period that has jobs, by
  // label then period. Percentiles are nearest-rank over the exact waits
  // (whole seconds): p = the smallest wait w such that at least p% of the
  // waits are <= w, i.e. the ceil(p * n / 100)-th smallest, computed in
  // integers; so p50 of {1, 2, 3, 4} is 2 and p95 of 20 waits is the 19th.
  virtual Result<std::vector<Record>> Waits(const WaitsQuery& q) = 0;

  // Jobs per status for the statuses that are not final (queued, waiting,
  // in_progress): cheap, through the status index.
  virtual Result<std::vector<CountBy>> OpenJobsByStatus() = 0;
  // Completed jobs queued at or after `since_ms`, by conclusion.
  virtual Result<std::vector<CountBy>> CompletedJobsSince(int64_t since_ms) = 0;
  // Routing actions by {kind, status}.
  virtual Result<std::vector<CountBy>> ActionsByKindAndStatus() = 0;
  // Actions waiting for their time (scheduled), due and not yet done
  // (pending or running), and the time (Unix ms) the oldest due one became
  // due (nullopt when none is).
  struct PendingActions {
    int64_t scheduled = 0;
    int64_t pending = 0;
    std::optional<int64_t> oldest_due;
  };
  virtual Result<PendingActions> Pending() = 0;

  // The highest job_events sequence number (0 for none).
  virtual Result<int64_t> MaxJobEventSeq() = 0;
  // Jobs that first started (their wait became known) in job events
  // (after_seq, upto_seq]: each such job once, with its wait and labels.
  virtual Result<std::vector<WaitObservation>> WaitsKnownBetween(int64_t after_seq,
                                                                 int64_t upto_seq) = 0;

  // EXPLAIN QUERY PLAN of the statement List(q) runs, one line per step
  // (bench and docs).
  virtual Result<std::vector<std::string>> ExplainList(const ListQuery& q) = 0;
  virtual Result<std::vector<std::string>> ExplainJob() = 0;
  virtual Result<std::vector<std::string>> ExplainWaitByLabel() = 0;    // one label
  virtual Result<std::vector<std::string>> ExplainWaitAllLabels() = 0;  // every label
};

}  // namespace relayq::store
