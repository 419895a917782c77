// SqliteStoreReader: the StoreReader implementation (see query.h).
//
// SQL text is assembled only from the constant fragments below, selected by
// which filters are present; every user-supplied value is a bound parameter
// with a fixed number (?1 repo, ?2 status, ?3 label, ?4 since, ?5 until,
// ?6 cursor time, ?7 cursor row id, ?8 limit). Each distinct statement is
// prepared once per connection and cached.
//
// Keyset pagination and NULL times: jobs and runs may lack their time (a
// job seen without a creation time). Such rows sort after every dated row
// (as "oldest"), so a listing runs in two phases: dated rows by (time DESC,
// rowid DESC), then undated rows by rowid DESC. A cursor records which phase
// it stopped in. Time filters exclude undated rows, so phase two runs only
// without them.
#include "store/query.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/strings.h"
#include "store/connection.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/model.h"
#include "store/query_internal.h"
#include "store/rows.h"
#include "store/sqlite_util.h"

namespace relayq::store {

const Field* Record::Get(std::string_view name) const {
  for (const Field& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace {

constexpr std::string_view kKindNames[] = {"jobs", "runs", "deliveries", "actions", "requests"};

// How to read one kind. The first two selected columns are always the sort
// time and the row id (the keyset); the record's columns follow.
struct KindSpec {
  const char* table;
  const char* time_col;
  const char* rowid_col;
  const char* status_col;  // null: no status filter
  bool has_label;
  bool time_nullable;
  std::string columns;  // after "<time>, <rowid>, "
};

// SQL for a value of an action's stored JSON `column` (result or payload);
// null when the column does not hold valid JSON.
std::string ActionJson(std::string_view column, std::string_view key) {
  return "CASE WHEN json_valid(t." + std::string(column) + ") THEN json_extract(t." +
         std::string(column) + ", '$." + std::string(key) + "') END";
}

// The record columns of an action, after the stored ones: what the action
// led to, read from its progress (result), its payload and the request it
// dispatched. Tries count the final one of a finished action, which the
// store writes without counting (attempts counts retried tries), and a done
// action shows no error: an earlier try's error is history, not the outcome.
std::string ActionColumns() {
  const std::string request = "coalesce(" + ActionJson("result", "request_id") +
                              ", CASE WHEN t.kind = 'dispatch' THEN " +
                              ActionJson("payload", "request_id") + " END)";
  const std::string run = "coalesce(" + ActionJson("result", "run_id") +
                          ", (SELECT q.run_id FROM dispatch_requests q WHERE q.id = " + request +
                          "))";
  return "t.id, t.kind, t.key, t.status, "
         "t.attempts + (t.status IN ('done', 'failed', 'aborted') AND t.result IS NOT NULL), "
         "CASE WHEN t.status = 'done' THEN NULL ELSE t.last_error END, t.created_at, t.done_at, "
         "t.reason, t.repository, t.job_id, t.run_id, t.run_attempt, t.due_at, "
         "t.next_attempt_at, t.updated_at, "
         "coalesce(" +
         ActionJson("result", "target_workflow") + ", " + ActionJson("payload", "workflow") +
         ", (SELECT q.workflow FROM dispatch_requests q WHERE q.id = " + request + ")), " + run +
         ", coalesce(" + ActionJson("result", "html_url") +
         ", (SELECT u.html_url FROM runs u WHERE u.id = " + run +
         " ORDER BY u.attempt DESC LIMIT 1)), " + request + ", " +
         ActionJson("result", "decided_at") + ", " + ActionJson("result", "decision");
}

// The record columns of a dispatch request. Its run's URL comes from the
// dispatch action's answer (GitHub's return_run_details), else from the run's
// own webhooks.
std::string RequestColumns() {
  return "t.id, t.repository, t.workflow, t.ref, t.inputs, t.status, t.run_id, "
         "coalesce((SELECT " +
         std::string(
             "CASE WHEN json_valid(a.result) THEN json_extract(a.result, '$.html_url') END "
             "FROM actions a WHERE a.key = 'dispatch:' || t.id), "
             "(SELECT u.html_url FROM runs u WHERE u.id = t.run_id "
             "ORDER BY u.attempt DESC LIMIT 1)), ") +
         "t.parent_id, t.fallback_count, t.created_at, t.updated_at, t.last_error";
}

const KindSpec& Spec(Kind k) {
  static const KindSpec kSpecs[] = {
      {"jobs", "t.queued_at", "t.id", "t.status", true, true,
       "t.id, t.run_id, t.run_attempt, t.repository, t.workflow_name, t.name, t.labels, "
       "t.status, t.conclusion, t.runner_name, t.queued_at, t.started_at, t.completed_at, "
       "t.wait_seconds, t.duration_seconds, t.runner_group, t.updated_at"},
      {"runs", "t.created_at", "t.rowid", "t.status", false, true,
       "t.id, t.attempt, t.repository, t.workflow_path, t.workflow_name, t.display_title, "
       "t.event, t.status, t.conclusion, t.created_at, t.updated_at, t.html_url, "
       "t.head_branch, t.head_sha, t.run_started_at"},
      {"deliveries", "t.received_at", "t.seq", "t.outcome", false, false,
       "t.id, t.event, t.action, t.repository, t.received_at, t.outcome, t.reason, t.hook_id, "
       "t.content_type, t.body_size, t.body IS NOT NULL"},
      {"actions", "t.created_at", "t.id", "t.status", false, false, ActionColumns()},
      // Few rows (one per dispatch): listed without an index on created_at.
      {"dispatch_requests", "t.created_at", "t.id", "t.status", false, false, RequestColumns()},
  };
  return kSpecs[static_cast<int>(k)];
}

const std::vector<std::string>& Names(Kind k) {
  static const std::vector<std::string> kJobs = {
      "id",           "run_id",     "run_attempt",  "repository",   "workflow_name",
      "name",         "labels",     "status",       "conclusion",   "runner_name",
      "queued_at",    "started_at", "completed_at", "wait_seconds", "duration_seconds",
      "runner_group", "updated_at"};
  static const std::vector<std::string> kRuns = {
      "id",          "attempt",  "repository",    "workflow_path", "workflow_name", "display_title",
      "event",       "status",   "conclusion",    "created_at",    "updated_at",    "html_url",
      "head_branch", "head_sha", "run_started_at"};
  static const std::vector<std::string> kDeliveries = {
      "id",     "event",   "action",       "repository", "received_at", "outcome",
      "reason", "hook_id", "content_type", "body_size",  "body_stored"};
  static const std::vector<std::string> kActions = {"id",
                                                    "kind",
                                                    "key",
                                                    "status",
                                                    "attempts",
                                                    "last_error",
                                                    "created_at",
                                                    "done_at",
                                                    "reason",
                                                    "repository",
                                                    "job_id",
                                                    "run_id",
                                                    "run_attempt",
                                                    "due_at",
                                                    "next_attempt_at",
                                                    "updated_at",
                                                    "target_workflow",
                                                    "result_run_id",
                                                    "result_run_url",
                                                    "request_id",
                                                    "decided_at",
                                                    "decision"};
  static const std::vector<std::string> kRequests = {
      "id",      "repository", "workflow",       "ref",        "inputs",     "status",    "run_id",
      "run_url", "parent_id",  "fallback_count", "created_at", "updated_at", "last_error"};
  switch (k) {
    case Kind::kJobs:
      return kJobs;
    case Kind::kRuns:
      return kRuns;
    case Kind::kDeliveries:
      return kDeliveries;
    case Kind::kActions:
      return kActions;
    case Kind::kRequests:
      return kRequests;
  }
  return kJobs;
}

// The labels of a stored JSON array. The store writes plain labels as
// ["a","b"]; anything with an escape goes through the JSON parser.
void EachLabel(const std::string& text, const std::function<void(std::string_view)>& f) {
  if (text.find('\\') != std::string::npos) {
    for (const auto& l : ParseLabels(text)) f(l);
    return;
  }
  size_t i = 0;
  for (;;) {
    size_t open = text.find('"', i);
    if (open == std::string::npos) return;
    size_t close = text.find('"', open + 1);
    if (close == std::string::npos) return;
    f(std::string_view(text).substr(open + 1, close - open - 1));
    i = close + 1;
  }
}

using T = Field::Type;

Field IntField(std::string name, const Stmt& s, int col, T type = T::kInt) {
  Field f;
  f.name = std::move(name);
  if (s.IsNull(col)) return f;
  f.type = type;
  f.i = s.Int(col);
  return f;
}

Field TextField(std::string name, const Stmt& s, int col) {
  Field f;
  f.name = std::move(name);
  if (s.IsNull(col)) return f;
  f.type = T::kText;
  f.s = s.Text(col);
  return f;
}

// Reads the record columns of `kind` starting at column `first`.
Record ReadRecord(Kind kind, const Stmt& s, int first) {
  const std::vector<std::string>& n = Names(kind);
  Record r;
  r.fields.reserve(n.size());
  auto col = [&](size_t i) { return first + static_cast<int>(i); };
  // Per kind, the type of each column in Names order.
  static const std::vector<T> kJobTypes = {T::kInt,  T::kInt,  T::kInt,  T::kText,    T::kText,
                                           T::kText, T::kList, T::kText, T::kText,    T::kText,
                                           T::kTime, T::kTime, T::kTime, T::kSeconds, T::kSeconds,
                                           T::kText, T::kTime};
  static const std::vector<T> kRunTypes = {T::kInt,  T::kInt,  T::kText, T::kText, T::kText,
                                           T::kText, T::kText, T::kText, T::kText, T::kTime,
                                           T::kTime, T::kText, T::kText, T::kText, T::kTime};
  static const std::vector<T> kDeliveryTypes = {T::kText, T::kText, T::kText, T::kText,
                                                T::kTime, T::kText, T::kText, T::kInt,
                                                T::kText, T::kInt,  T::kBool};
  static const std::vector<T> kActionTypes = {
      T::kInt,  T::kText, T::kText, T::kText, T::kInt,  T::kText, T::kTime, T::kTime,
      T::kText, T::kText, T::kInt,  T::kInt,  T::kInt,  T::kTime, T::kTime, T::kTime,
      T::kText, T::kInt,  T::kText, T::kInt,  T::kTime, T::kText};
  static const std::vector<T> kRequestTypes = {T::kInt,  T::kText, T::kText, T::kText, T::kJson,
                                               T::kText, T::kInt,  T::kText, T::kInt,  T::kInt,
                                               T::kTime, T::kTime, T::kText};
  const std::vector<T>* types = &kJobTypes;
  if (kind == Kind::kRuns) types = &kRunTypes;
  if (kind == Kind::kDeliveries) types = &kDeliveryTypes;
  if (kind == Kind::kActions) types = &kActionTypes;
  if (kind == Kind::kRequests) types = &kRequestTypes;
  for (size_t i = 0; i < n.size(); ++i) {
    T t = (*types)[i];
    if (t == T::kText || t == T::kJson) {
      r.fields.push_back(TextField(n[i], s, col(i)));
      if (t == T::kJson && r.fields.back().type == T::kText) r.fields.back().type = T::kJson;
    } else if (t == T::kList) {
      Field f;
      f.name = n[i];
      f.type = T::kList;
      EachLabel(s.Text(col(i)), [&f](std::string_view l) { f.list.emplace_back(l); });
      r.fields.push_back(std::move(f));
    } else {
      r.fields.push_back(IntField(n[i], s, col(i), t));
    }
  }
  return r;
}

// Cursor: hex of "<kind letter>|<time ms or n>|<rowid>".
struct CursorPos {
  bool dated = true;  // false: in the undated phase
  int64_t time = 0;
  int64_t rowid = 0;
};

std::string EncodeCursor(Kind kind, const CursorPos& c) {
  std::string raw(1, KindName(kind)[0]);
  raw += "|";
  raw += c.dated ? std::to_string(c.time) : "n";
  raw += "|" + std::to_string(c.rowid);
  return HexEncode(raw);
}

bool ParseInt64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

Result<CursorPos> DecodeCursor(Kind kind, std::string_view hex) {
  auto bad = Status::InvalidArgument("cursor is not valid (use the 'next' value of a page)");
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 128) return bad;
  std::string raw;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) return bad;
    raw += static_cast<char>(hi * 16 + lo);
  }
  size_t a = raw.find('|'), b = raw.rfind('|');
  if (a != 1 || b == a) return bad;
  if (raw[0] != KindName(kind)[0]) {
    return Status::InvalidArgument("cursor belongs to another kind of listing");
  }
  CursorPos c;
  std::string_view t = std::string_view(raw).substr(a + 1, b - a - 1);
  if (t == "n") {
    c.dated = false;
  } else if (!ParseInt64(t, c.time)) {
    return bad;
  }
  if (!ParseInt64(std::string_view(raw).substr(b + 1), c.rowid)) return bad;
  return c;
}

class SqliteStoreReader final : public StoreReader {
 public:
  explicit SqliteStoreReader(Db db) : db_(std::move(db)) {}
  ~SqliteStoreReader() override {
    stmts_.clear();  // statements before the connection
  }

  Result<Page> List(const ListQuery& q) override;
  Result<JobHistory> Job(int64_t id) override;
  Result<std::vector<LabelQueue>> QueuedByLabel() override;
  Result<std::vector<RunnerSeen>> RunnersSince(int64_t since_ms, int limit) override;
  Result<std::vector<LabelWait>> WaitByLabel(int64_t since_ms, int64_t until_ms,
                                             const std::optional<std::string>& label) override;
  Result<std::vector<Record>> Waits(const WaitsQuery& q) override;
  Result<std::vector<CountBy>> OpenJobsByStatus() override;
  Result<std::vector<CountBy>> CompletedJobsSince(int64_t since_ms) override;
  Result<ActionDetail> Action(int64_t id) override;
  Result<RequestStory> Request(int64_t id) override;
  Result<std::vector<CountBy>> ActionsByKindAndStatus() override;
  Result<PendingActions> Pending() override;
  Result<int64_t> MaxJobEventSeq() override;
  Result<std::vector<WaitObservation>> WaitsKnownBetween(int64_t after_seq,
                                                         int64_t upto_seq) override;
  Result<std::vector<std::string>> ExplainList(const ListQuery& q) override;
  Result<std::vector<std::string>> ExplainJob() override;
  Result<std::vector<std::string>> ExplainWaitByLabel() override;
  Result<std::vector<std::string>> ExplainWaitAllLabels() override;

 private:
  // The cached statement for `sql`, reset and unbound.
  Result<Stmt*> Get(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      RELAYQ_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db_.get(), sql));
      it = stmts_.emplace(sql, std::move(s)).first;
    }
    it->second.Reset();
    return &it->second;
  }

  Status Validate(const ListQuery& q) const;
  std::string ListSql(const ListQuery& q, bool dated, bool with_cursor) const;
  void BindList(Stmt& s, const ListQuery& q, const CursorPos* c, int64_t limit) const;
  Result<std::vector<CountBy>> Counts(const std::string& sql, int keys,
                                      std::optional<int64_t> bind1 = std::nullopt);
  Result<std::vector<std::string>> Explain(const std::string& sql,
                                           const std::function<void(Stmt&)>& bind);

  friend class ReaderStoryRows;

  Db db_;
  std::map<std::string, Stmt> stmts_;
};

// GitHub's conclusions of a completed job or run. A job's or run's status
// filter takes these too, since tables show the conclusion in place of
// "completed" (`--status success` then means status completed, conclusion
// success).
const std::vector<std::string>& Conclusions() {
  static const std::vector<std::string> k = {"success", "failure",   "cancelled",
                                             "skipped", "timed_out", "action_required",
                                             "neutral", "stale",     "startup_failure"};
  return k;
}

bool IsConclusion(const std::string& v) {
  const auto& c = Conclusions();
  return std::find(c.begin(), c.end(), v) != c.end();
}

std::vector<std::string> StatusValuesOf(Kind kind) {
  std::vector<std::string> v;
  switch (kind) {
    case Kind::kJobs:
      v = {"queued", "waiting", "in_progress", "completed"};
      break;
    case Kind::kRuns:
      v = {"requested", "queued", "waiting", "pending", "in_progress", "completed"};
      break;
    case Kind::kDeliveries:
      for (Outcome o : {Outcome::kAccepted, Outcome::kPing, Outcome::kIgnored, Outcome::kRefused,
                        Outcome::kUndecodable}) {
        v.emplace_back(OutcomeName(o));
      }
      return v;
    case Kind::kActions:
      for (ActionStatus a : {ActionStatus::kScheduled, ActionStatus::kPending,
                             ActionStatus::kRunning, ActionStatus::kDone, ActionStatus::kFailed,
                             ActionStatus::kAborted, ActionStatus::kRefused}) {
        v.emplace_back(ActionStatusName(a));
      }
      return v;
    case Kind::kRequests:
      for (RequestStatus r :
           {RequestStatus::kPending, RequestStatus::kDispatched, RequestStatus::kFailed}) {
        v.emplace_back(RequestStatusName(r));
      }
      return v;
  }
  v.insert(v.end(), Conclusions().begin(), Conclusions().end());
  return v;
}

Status SqliteStoreReader::Validate(const ListQuery& q) const {
  if (q.status) {
    std::vector<std::string> valid = StatusValuesOf(q.kind);
    if (std::find(valid.begin(), valid.end(), *q.status) == valid.end()) {
      std::string list;
      for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
      return Status::InvalidArgument("unknown status '" + q.status->substr(0, 64) + "' for " +
                                     std::string(KindName(q.kind)) + " (valid: " + list + ")");
    }
  }
  if (q.limit < 1 || q.limit > kMaxPageSize) {
    return Status::InvalidArgument("limit must be from 1 to " + std::to_string(kMaxPageSize));
  }
  if (q.label && !Spec(q.kind).has_label) {
    return Status::InvalidArgument("the label filter applies to jobs only");
  }
  if (q.since_ms && q.until_ms && *q.since_ms > *q.until_ms) {
    return Status::InvalidArgument("since is after until");
  }
  return Status::Ok();
}

std::string SqliteStoreReader::ListSql(const ListQuery& q, bool dated, bool with_cursor) const {
  const KindSpec& k = Spec(q.kind);
  std::string time = k.time_col;
  std::string sql =
      "SELECT " + time + ", " + k.rowid_col + ", " + k.columns + " FROM " + k.table + " t WHERE ";
  sql += dated ? time + " IS NOT NULL" : time + " IS NULL";
  if (q.repo) sql += " AND t.repository = ?1";
  if (q.status) {
    // A conclusion filters completed jobs/runs on their conclusion.
    bool conclusion = (q.kind == Kind::kJobs || q.kind == Kind::kRuns) && IsConclusion(*q.status);
    sql += conclusion ? std::string(" AND t.status = 'completed' AND t.conclusion = ?2")
                      : std::string(" AND ") + k.status_col + " = ?2";
  }
  if (q.label) {
    sql += " AND EXISTS (SELECT 1 FROM job_labels l WHERE l.label = ?3 AND l.job_id = t.id)";
  }
  if (q.since_ms) sql += " AND " + time + " >= ?4";
  if (q.until_ms) sql += " AND " + time + " < ?5";
  if (with_cursor) {
    if (dated) {
      sql += " AND " + time + " <= ?6 AND (" + time + " < ?6 OR " + k.rowid_col + " < ?7)";
    } else {
      sql += std::string(" AND ") + k.rowid_col + " < ?7";
    }
  }
  sql += dated ? " ORDER BY " + time + " DESC, " + k.rowid_col + " DESC"
               : std::string(" ORDER BY ") + k.rowid_col + " DESC";
  sql += " LIMIT ?8";
  return sql;
}

void SqliteStoreReader::BindList(Stmt& s, const ListQuery& q, const CursorPos* c,
                                 int64_t limit) const {
  if (q.repo) s.Bind(1, std::string_view(*q.repo));
  if (q.status) s.Bind(2, std::string_view(*q.status));
  if (q.label) s.Bind(3, std::string_view(*q.label));
  if (q.since_ms) s.Bind(4, *q.since_ms);
  if (q.until_ms) s.Bind(5, *q.until_ms);
  if (c != nullptr) {
    if (c->dated) s.Bind(6, c->time);
    s.Bind(7, c->rowid);
  }
  s.Bind(8, limit);
}

Result<Page> SqliteStoreReader::List(const ListQuery& q) {
  RELAYQ_RETURN_IF_ERROR(Validate(q));
  std::optional<CursorPos> cursor;
  if (!q.cursor.empty()) {
    RELAYQ_ASSIGN_OR_RETURN(cursor, DecodeCursor(q.kind, q.cursor));
  }
  const KindSpec& k = Spec(q.kind);
  const bool undated_possible = k.time_nullable && !q.since_ms && !q.until_ms;
  const int64_t want = q.limit + 1;  // one more tells whether a next page exists

  struct Row {
    CursorPos pos;
    Record rec;
  };
  std::vector<Row> rows;
  auto run = [&](bool dated, const CursorPos* c) -> Status {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(ListSql(q, dated, c != nullptr)));
    BindList(*s, q, c, want - static_cast<int64_t>(rows.size()));
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      Row r;
      r.pos.dated = dated;
      r.pos.time = s->Int(0);
      r.pos.rowid = s->Int(1);
      r.rec = ReadRecord(q.kind, *s, 2);
      rows.push_back(std::move(r));
    }
    s->Reset();
    return Status::Ok();
  };

  if (!cursor || cursor->dated) {
    RELAYQ_RETURN_IF_ERROR(run(true, cursor ? &*cursor : nullptr));
  }
  if (undated_possible && static_cast<int64_t>(rows.size()) < want) {
    const CursorPos* c = (cursor && !cursor->dated) ? &*cursor : nullptr;
    RELAYQ_RETURN_IF_ERROR(run(false, c));
  }
  Page page;
  if (static_cast<int64_t>(rows.size()) > q.limit) {
    rows.resize(static_cast<size_t>(q.limit));
    page.next = EncodeCursor(q.kind, rows.back().pos);
  }
  page.items.reserve(rows.size());
  for (Row& r : rows) page.items.push_back(std::move(r.rec));
  return page;
}

constexpr char kJobEventsSql[] =
    "SELECT seq, delivery_id, action, status, conclusion, runner_name, event_at, received_at, "
    "applied FROM job_events WHERE job_id = ?1 ORDER BY seq";
constexpr char kJobDeliveriesSql[] =
    "SELECT t.received_at, t.seq, t.id, t.event, t.action, t.repository, t.received_at, "
    "t.outcome, t.reason, t.hook_id, t.content_type, t.body_size, t.body IS NOT NULL "
    "FROM deliveries t WHERE t.id IN (SELECT delivery_id FROM job_events WHERE job_id = ?1) "
    "ORDER BY t.received_at, t.seq";
std::string JobActionsSql() {
  return "SELECT t.created_at, t.id, " + Spec(Kind::kActions).columns +
         " FROM actions t "
         "WHERE t.job_id = ?1 OR (t.run_id = ?2 AND (t.run_attempt IS NULL OR t.run_attempt = "
         "?3)) ORDER BY t.created_at, t.id";
}

std::string ActionByIdSql() {
  return "SELECT t.created_at, t.id, " + Spec(Kind::kActions).columns +
         ", t.payload, t.result FROM actions t WHERE t.id = ?1";
}

std::string JobByIdSql() {
  return std::string("SELECT t.queued_at, t.id, ") + Spec(Kind::kJobs).columns +
         " FROM jobs t WHERE t.id = ?1";
}

Result<JobHistory> SqliteStoreReader::Job(int64_t id) {
  JobHistory h;
  int64_t run_id = 0, run_attempt = 0;
  {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(JobByIdSql()));
    s->Bind(1, id);
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return Status::NotFound("no job with id " + std::to_string(id));
    h.job = ReadRecord(Kind::kJobs, *s, 2);
    run_id = s->Int(3);
    run_attempt = s->Int(4);
    s->Reset();
  }
  {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(kJobEventsSql));
    s->Bind(1, id);
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      Record r;
      r.fields.push_back(IntField("seq", *s, 0));
      r.fields.push_back(TextField("delivery_id", *s, 1));
      r.fields.push_back(TextField("action", *s, 2));
      r.fields.push_back(TextField("status", *s, 3));
      r.fields.push_back(TextField("conclusion", *s, 4));
      r.fields.push_back(TextField("runner_name", *s, 5));
      r.fields.push_back(IntField("event_at", *s, 6, T::kTime));
      r.fields.push_back(IntField("received_at", *s, 7, T::kTime));
      r.fields.push_back(IntField("applied", *s, 8, T::kBool));
      h.events.push_back(std::move(r));
    }
    s->Reset();
  }
  {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(kJobDeliveriesSql));
    s->Bind(1, id);
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      h.deliveries.push_back(ReadRecord(Kind::kDeliveries, *s, 2));
    }
    s->Reset();
  }
  {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(JobActionsSql()));
    s->Bind(1, id).Bind(2, run_id).Bind(3, run_attempt);
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      h.actions.push_back(ReadRecord(Kind::kActions, *s, 2));
    }
    s->Reset();
  }
  return h;
}

Result<ActionDetail> SqliteStoreReader::Action(int64_t id) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(ActionByIdSql()));
  s->Bind(1, id);
  RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return Status::NotFound("no action " + std::to_string(id));
  ActionDetail d;
  d.action = ReadRecord(Kind::kActions, *s, 2);
  const int extra = 2 + static_cast<int>(Names(Kind::kActions).size());
  d.payload = s->Text(extra);
  if (!s->IsNull(extra + 1)) d.result = s->Text(extra + 1);
  s->Reset();
  RELAYQ_ASSIGN_OR_RETURN(Stmt * has, Get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                          "name = 'action_events'"));
  RELAYQ_ASSIGN_OR_RETURN(bool has_history, has->Step());
  has->Reset();
  if (!has_history) return d;
  RELAYQ_ASSIGN_OR_RETURN(Stmt * h, Get("SELECT at, what, who, reason, from_status, to_status "
                                        "FROM action_events WHERE action_id = ?1 ORDER BY seq"));
  h->Bind(1, id);
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool more, h->Step());
    if (!more) break;
    Record e;
    e.fields.push_back(IntField("at", *h, 0, T::kTime));
    int col = 1;
    for (const char* name : {"what", "who", "reason", "from_status", "to_status"}) {
      e.fields.push_back(TextField(name, *h, col++));
    }
    d.history.push_back(std::move(e));
  }
  h->Reset();
  return d;
}

// The number of columns in a plain column list (rows.h's k*Columns).
int ColumnCount(std::string_view columns) {
  return 1 + static_cast<int>(std::count(columns.begin(), columns.end(), ','));
}

// The story's reads (query_internal.h) on this reader's cached statements.
// Each row is read once as the typed value (rows.h, from column 0) and as
// its list record (the columns that follow).
class ReaderStoryRows final : public StoryRows {
 public:
  explicit ReaderStoryRows(SqliteStoreReader& reader) : reader_(reader) {}

  Result<std::optional<StoryRow<DispatchRequest>>> Request(int64_t id) override {
    RELAYQ_ASSIGN_OR_RETURN(
        auto rows,
        Read<DispatchRequest>(
            std::string("SELECT ") + kRequestColumns + ", " + Spec(Kind::kRequests).columns +
                " FROM dispatch_requests t WHERE t.id = ?1",
            Kind::kRequests, &RequestFromRow, kRequestColumns, [id](Stmt& s) { s.Bind(1, id); }));
    if (rows.empty()) return std::optional<StoryRow<DispatchRequest>>();
    return std::optional<StoryRow<DispatchRequest>>(std::move(rows.front()));
  }

  Result<std::vector<StoryRow<RunState>>> Runs(int64_t run_id) override {
    return Read<RunState>(std::string("SELECT ") + kRunColumns + ", " + Spec(Kind::kRuns).columns +
                              " FROM runs t WHERE t.id = ?1 ORDER BY t.attempt",
                          Kind::kRuns, &RunFromRow, kRunColumns,
                          [run_id](Stmt& s) { s.Bind(1, run_id); });
  }

  Result<std::vector<JobState>> Jobs(int64_t run_id) override {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, reader_.Get(std::string("SELECT ") + kJobColumns +
                                                  " FROM jobs WHERE run_id = ?1 "
                                                  "ORDER BY run_attempt, queued_at, id"));
    s->Bind(1, run_id);
    std::vector<JobState> out;
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(JobFromRow(*s));
    }
    s->Reset();
    return out;
  }

  Result<std::vector<StoryRow<ActionRecord>>> ActionsOfRun(int64_t run_id) override {
    return Actions("t.run_id = ?1 ORDER BY t.created_at, t.id",
                   [run_id](Stmt& s) { s.Bind(1, run_id); });
  }

  Result<std::optional<StoryRow<ActionRecord>>> ActionByKey(const std::string& key) override {
    RELAYQ_ASSIGN_OR_RETURN(
        auto rows, Actions("t.key = ?1", [&key](Stmt& s) { s.Bind(1, std::string_view(key)); }));
    if (rows.empty()) return std::optional<StoryRow<ActionRecord>>();
    return std::optional<StoryRow<ActionRecord>>(std::move(rows.front()));
  }

 private:
  Result<std::vector<StoryRow<ActionRecord>>> Actions(const std::string& where,
                                                      const std::function<void(Stmt&)>& bind) {
    return Read<ActionRecord>(std::string("SELECT ") + kActionColumns + ", " +
                                  Spec(Kind::kActions).columns + " FROM actions t WHERE " + where,
                              Kind::kActions, &ActionFromRow, kActionColumns, bind);
  }

  template <typename T>
  Result<std::vector<StoryRow<T>>> Read(const std::string& sql, Kind kind,
                                        T (*from_row)(const Stmt&), const char* typed_columns,
                                        const std::function<void(Stmt&)>& bind) {
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, reader_.Get(sql));
    bind(*s);
    std::vector<StoryRow<T>> out;
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back({from_row(*s), ReadRecord(kind, *s, ColumnCount(typed_columns))});
    }
    s->Reset();
    return out;
  }

  SqliteStoreReader& reader_;
};

Result<RequestStory> SqliteStoreReader::Request(int64_t id) {
  ReaderStoryRows rows(*this);
  return TellRequestStory(rows, id);
}

Result<std::vector<LabelQueue>> SqliteStoreReader::QueuedByLabel() {
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s,
                          Get("SELECT l.label, count(*), min(j.queued_at) FROM jobs j "
                              "JOIN job_labels l ON l.job_id = j.id WHERE j.status = 'queued' "
                              "GROUP BY l.label ORDER BY l.label"));
  std::vector<LabelQueue> out;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back({s->Text(0), s->Int(1), s->OptInt(2)});
  }
  s->Reset();
  return out;
}

Result<std::vector<RunnerSeen>> SqliteStoreReader::RunnersSince(int64_t since_ms, int limit) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s,
                          Get("SELECT runner_name, status, repository, workflow_name, name, "
                              "coalesce(max(completed_at, started_at), started_at, updated_at) "
                              "FROM jobs WHERE queued_at >= ?1 AND runner_name IS NOT NULL"));
  s->Bind(1, since_ms);
  std::map<std::string, RunnerSeen> by_name;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    RunnerSeen& r = by_name[s->Text(0)];
    r.runner_name = s->Text(0);
    ++r.jobs;
    if (s->Text(1) == "in_progress") ++r.busy;
    int64_t seen = s->Int(5);
    if (seen >= r.last_seen) {
      r.last_seen = seen;
      r.last_status = s->Text(1);
      r.last_repository = s->Text(2);
      r.last_workflow = s->Text(3);
      r.last_job = s->Text(4);
    }
  }
  s->Reset();
  std::vector<RunnerSeen> out;
  for (auto& [_, r] : by_name) out.push_back(std::move(r));
  std::sort(out.begin(), out.end(),
            [](const RunnerSeen& a, const RunnerSeen& b) { return a.last_seen > b.last_seen; });
  if (limit >= 0 && out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  return out;
}

// Nearest-rank percentile of sorted values: the ceil(percent * n / 100)-th
// smallest, in integers (a floating-point product such as 0.95 * 20 may land
// just above 19 and pick the 20th).
int64_t Percentile(const std::vector<int64_t>& sorted, int percent) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  size_t rank = (static_cast<size_t>(percent) * n + 99) / 100;
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

constexpr char kWaitForLabelSql[] =
    "SELECT wait_seconds FROM jobs WHERE queued_at >= ?1 AND queued_at < ?2 "
    "AND wait_seconds IS NOT NULL AND instr(labels, ?3) > 0";
constexpr char kWaitAllLabelsSql[] =
    "SELECT labels, wait_seconds FROM jobs WHERE queued_at >= ?1 AND queued_at < ?2 "
    "AND wait_seconds IS NOT NULL";

Result<std::vector<LabelWait>> SqliteStoreReader::WaitByLabel(
    int64_t since_ms, int64_t until_ms, const std::optional<std::string>& label) {
  auto summarize = [](const std::string& l, std::vector<int64_t>& waits) {
    std::sort(waits.begin(), waits.end());
    return LabelWait{l, static_cast<int64_t>(waits.size()), Percentile(waits, 50),
                     Percentile(waits, 95), waits.back()};
  };
  std::vector<LabelWait> out;
  if (!label) {
    // Every label in one pass over the window (one index range scan),
    // rather than one scan per label.
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(kWaitAllLabelsSql));
    s->Bind(1, since_ms).Bind(2, until_ms);
    std::map<std::string, std::vector<int64_t>, std::less<>> by_label;
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      const int64_t wait = s->Int(1);
      EachLabel(s->Text(0), [&](std::string_view l) {
        auto it = by_label.find(l);
        if (it == by_label.end())
          it = by_label.emplace(std::string(l), std::vector<int64_t>()).first;
        it->second.push_back(wait);
      });
    }
    s->Reset();
    for (auto& [l, waits] : by_label) out.push_back(summarize(l, waits));
    return out;
  }
  for (const std::string& l : {*label}) {
    // Labels are stored as a JSON array of strings; the label's own JSON
    // form (quotes included) matches exactly one element, and runner labels
    // cannot contain quotes, so a substring test on the stored text is exact
    // and avoids a join per job.
    std::string quoted = DumpJson(nlohmann::json(l));
    RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(kWaitForLabelSql));
    s->Bind(1, since_ms).Bind(2, until_ms).Bind(3, std::string_view(quoted));
    std::vector<int64_t> waits;
    for (;;) {
      RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      waits.push_back(s->Int(0));
    }
    s->Reset();
    if (!waits.empty()) out.push_back(summarize(l, waits));
  }
  return out;
}

constexpr char kWaitsSql[] =
    "SELECT j.queued_at, j.labels, j.wait_seconds, EXISTS (SELECT 1 FROM actions a WHERE "
    "a.job_id = j.id AND a.kind = 'fallback' AND a.status = 'done') FROM jobs j "
    "WHERE j.queued_at >= ?1 AND j.queued_at < ?2";

Result<std::vector<Record>> SqliteStoreReader::Waits(const WaitsQuery& q) {
  constexpr int64_t kDayMs = 24 * 3600 * 1000LL;
  // The first instant of the period holding `ms`: a UTC day, or the ISO week
  // (Monday); day 0 of Unix time was a Thursday.
  auto period_of = [&q](int64_t ms) {
    int64_t day = ms >= 0 ? ms / kDayMs : (ms - kDayMs + 1) / kDayMs;
    if (q.by == WaitsQuery::By::kWeek) day -= ((day + 3) % 7 + 7) % 7;
    return day * kDayMs;
  };
  struct Bucket {
    int64_t jobs = 0, fallbacks = 0;
    std::vector<int64_t> waits;
  };
  std::map<std::pair<std::string, int64_t>, Bucket> buckets;
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(kWaitsSql));
  s->Bind(1, q.since_ms).Bind(2, q.until_ms);
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    const int64_t period = period_of(s->Int(0));
    const std::optional<int64_t> wait = s->OptInt(2);
    const bool fell_back = s->Int(3) != 0;
    EachLabel(s->Text(1), [&](std::string_view l) {
      if (q.label && l != *q.label) return;
      Bucket& b = buckets[{std::string(l), period}];
      ++b.jobs;
      if (fell_back) ++b.fallbacks;
      if (wait) b.waits.push_back(*wait);
    });
  }
  s->Reset();
  std::vector<Record> out;
  for (auto& [key, b] : buckets) {
    std::sort(b.waits.begin(), b.waits.end());
    Record r;
    auto add = [&r](const char* name, Field::Type type, int64_t v) {
      Field f;
      f.name = name;
      f.type = type;
      f.i = v;
      r.fields.push_back(std::move(f));
    };
    Field label;
    label.name = "label";
    label.type = Field::Type::kText;
    label.s = key.first;
    r.fields.push_back(std::move(label));
    add("period_start", Field::Type::kTime, key.second);
    add("jobs", Field::Type::kInt, b.jobs);
    add("waited", Field::Type::kInt, static_cast<int64_t>(b.waits.size()));
    const bool any = !b.waits.empty();
    const Field::Type secs = any ? Field::Type::kSeconds : Field::Type::kNull;
    add("p50_seconds", secs, any ? Percentile(b.waits, 50) : 0);
    add("p95_seconds", secs, any ? Percentile(b.waits, 95) : 0);
    add("max_seconds", secs, any ? b.waits.back() : 0);
    add("fallbacks", Field::Type::kInt, b.fallbacks);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<CountBy>> SqliteStoreReader::Counts(const std::string& sql, int keys,
                                                       std::optional<int64_t> bind1) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get(sql));
  if (bind1) s->Bind(1, *bind1);
  std::vector<CountBy> out;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    CountBy c;
    for (int i = 0; i < keys; ++i) c.keys.push_back(s->Text(i));
    c.count = s->Int(keys);
    out.push_back(std::move(c));
  }
  s->Reset();
  return out;
}

Result<std::vector<CountBy>> SqliteStoreReader::OpenJobsByStatus() {
  return Counts(
      "SELECT status, count(*) FROM jobs "
      "WHERE status IN ('queued', 'waiting', 'in_progress') GROUP BY status",
      1);
}

Result<std::vector<CountBy>> SqliteStoreReader::CompletedJobsSince(int64_t since_ms) {
  return Counts(
      "SELECT coalesce(conclusion, 'unknown'), count(*) FROM jobs "
      "WHERE status = 'completed' AND queued_at >= ?1 GROUP BY 1",
      1, since_ms);
}

Result<std::vector<CountBy>> SqliteStoreReader::ActionsByKindAndStatus() {
  return Counts("SELECT kind, status, count(*) FROM actions GROUP BY kind, status", 2);
}

Result<StoreReader::PendingActions> SqliteStoreReader::Pending() {
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt * s, Get("SELECT status, count(*), min(coalesce(due_at, created_at)) FROM actions "
                    "WHERE status IN ('scheduled', 'pending', 'running') GROUP BY status"));
  PendingActions p;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (ParseActionStatus(s->Text(0)) == ActionStatus::kScheduled) {
      p.scheduled = s->Int(1);
      continue;
    }
    p.pending += s->Int(1);
    if (std::optional<int64_t> due = s->OptInt(2); due && (!p.oldest_due || *due < *p.oldest_due)) {
      p.oldest_due = due;
    }
  }
  s->Reset();
  return p;
}

Result<int64_t> SqliteStoreReader::MaxJobEventSeq() {
  RELAYQ_ASSIGN_OR_RETURN(Stmt * s, Get("SELECT coalesce(max(seq), 0) FROM job_events"));
  RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
  int64_t v = row ? s->Int(0) : 0;
  s->Reset();
  return v;
}

Result<std::vector<WaitObservation>> SqliteStoreReader::WaitsKnownBetween(int64_t after_seq,
                                                                          int64_t upto_seq) {
  // A job's wait is known from its first applied in_progress or completed
  // event (queued_at comes with every event; started_at with those two).
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt * s,
      Get("SELECT j.wait_seconds, j.labels FROM jobs j WHERE j.id IN ("
          "SELECT e.job_id FROM job_events e WHERE e.seq > ?1 AND e.seq <= ?2 AND e.applied = 1 "
          "AND e.status IN ('in_progress', 'completed')) AND j.wait_seconds IS NOT NULL "
          "AND NOT EXISTS (SELECT 1 FROM job_events p WHERE p.job_id = j.id AND p.seq <= ?1 "
          "AND p.applied = 1 AND p.status IN ('in_progress', 'completed'))"));
  s->Bind(1, after_seq).Bind(2, upto_seq);
  std::vector<WaitObservation> out;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back({s->Int(0), ParseLabels(s->Text(1))});
  }
  s->Reset();
  return out;
}

Result<std::vector<std::string>> SqliteStoreReader::Explain(
    const std::string& sql, const std::function<void(Stmt&)>& bind) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db_.get(), "EXPLAIN QUERY PLAN " + sql));
  bind(s);
  std::vector<std::string> out;
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(s.Text(3));
  }
  return out;
}

Result<std::vector<std::string>> SqliteStoreReader::ExplainList(const ListQuery& q) {
  RELAYQ_RETURN_IF_ERROR(Validate(q));
  std::optional<CursorPos> cursor;
  if (!q.cursor.empty()) {
    RELAYQ_ASSIGN_OR_RETURN(cursor, DecodeCursor(q.kind, q.cursor));
  }
  bool dated = !cursor || cursor->dated;
  return Explain(ListSql(q, dated, cursor.has_value()),
                 [&](Stmt& s) { BindList(s, q, cursor ? &*cursor : nullptr, q.limit + 1); });
}

Result<std::vector<std::string>> SqliteStoreReader::ExplainJob() {
  std::vector<std::string> all;
  for (const std::string& sql : {JobByIdSql(), std::string(kJobEventsSql),
                                 std::string(kJobDeliveriesSql), JobActionsSql()}) {
    RELAYQ_ASSIGN_OR_RETURN(std::vector<std::string> plan,
                            Explain(sql, [](Stmt& s) { s.Bind(1, int64_t{1}); }));
    all.insert(all.end(), plan.begin(), plan.end());
  }
  return all;
}

Result<std::vector<std::string>> SqliteStoreReader::ExplainWaitByLabel() {
  return Explain(kWaitForLabelSql, [](Stmt& s) {
    s.Bind(1, int64_t{0}).Bind(2, int64_t{1}).Bind(3, std::string_view("\"x\""));
  });
}

Result<std::vector<std::string>> SqliteStoreReader::ExplainWaitAllLabels() {
  return Explain(kWaitAllLabelsSql, [](Stmt& s) { s.Bind(1, int64_t{0}).Bind(2, int64_t{1}); });
}

}  // namespace

Result<Kind> ParseKind(std::string_view text) {
  for (int i = 0; i < static_cast<int>(std::size(kKindNames)); ++i) {
    if (text == kKindNames[i]) return static_cast<Kind>(i);
  }
  return Status::InvalidArgument("unknown kind '" + std::string(text.substr(0, 64)) +
                                 "' (use jobs, runs, deliveries, actions or requests)");
}

Result<WaitsQuery::By> ParseWaitsBy(std::string_view text) {
  if (text == "day") return WaitsQuery::By::kDay;
  if (text == "week") return WaitsQuery::By::kWeek;
  return Status::InvalidArgument("by must be day or week, got '" + std::string(text.substr(0, 32)) +
                                 "'");
}

const std::vector<std::string>& WaitsFieldNames() {
  static const std::vector<std::string> kNames = {"label",       "period_start", "jobs",
                                                  "waited",      "p50_seconds",  "p95_seconds",
                                                  "max_seconds", "fallbacks"};
  return kNames;
}

std::string_view KindName(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

const std::vector<std::string>& FieldNames(Kind kind) { return Names(kind); }

Result<std::unique_ptr<StoreReader>> Database::OpenReader() const {
  const std::string& path = options_.path;
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(options_, Access::kReadOnly));
  auto not_store = [&](const Status& s) {
    return Status::InvalidArgument(path + " is not a relayq store (" + s.message() + ")");
  };
  auto version = SchemaVersion(db.get());
  if (!version.ok()) return not_store(version.status());
  const int v = *version;
  if (v == 0) return Status::InvalidArgument(path + " is not a relayq store (no schema)");
  if (v > LatestSchemaVersion()) {
    return Status::InvalidArgument(path + " was written by a newer relayq (schema " +
                                   std::to_string(v) + "); upgrade relayq");
  }
  if (v < 3) {
    return Status::InvalidArgument(path + " has an older schema (" + std::to_string(v) +
                                   "); start relayq serve once to upgrade it");
  }
  return std::unique_ptr<StoreReader>(new SqliteStoreReader(std::move(db)));
}

Result<std::unique_ptr<StoreReader>> StoreReader::Open(const std::string& path,
                                                       int busy_timeout_ms) {
  StoreOptions options;
  options.path = path;
  options.busy_timeout_ms = busy_timeout_ms;
  auto db = Database::Open(options);
  if (!db.ok()) {
    if (db.status().code() != Status::Code::kNotFound) return db.status();
    return Status::NotFound("no store at " + path + " (use --db PATH or the config's store.path)");
  }
  return (*db)->OpenReader();
}

std::vector<std::string> StatusValues(Kind kind) { return StatusValuesOf(kind); }

}  // namespace relayq::store
