#include "cli/audit_cmd.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/clock.h"
#include "common/redact.h"
#include "common/table.h"
#include "common/time_format.h"
#include "server/audit_json.h"

namespace relayq::cli {

using store::Field;
using store::Kind;
using store::Record;

std::string HumanTime(int64_t ms) {
  std::string t = FormatRfc3339(ms);
  if (t.size() >= 19) {
    t[10] = ' ';
    t.resize(19);
  }
  return t;
}

namespace {

std::string Joined(const std::vector<std::string>& list, std::string_view sep,
                   std::string_view skip = "") {
  std::string out;
  for (const auto& s : list) {
    if (!skip.empty() && s == skip) continue;
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

std::string SafeText(std::string_view raw) {
  std::string in = RedactUrlsIn(raw);
  std::string out;
  out.reserve(in.size());
  auto hex = [&out](unsigned char c) {
    static constexpr char kDigits[] = "0123456789abcdef";
    out += "\\x";
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  };
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      hex(c);
    } else if (c == 0xC2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(in[i + 1]) <= 0x9F) {
      hex(static_cast<unsigned char>(in[++i]));  // U+0080..U+009F
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

std::vector<std::string> SafeList(const std::vector<std::string>& list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& s : list) out.push_back(SafeText(s));
  return out;
}

// A cell as a person reads it.
std::string HumanCell(const Field* f) {
  if (f == nullptr) return "";
  switch (f->type) {
    case Field::Type::kNull:
      return "-";
    case Field::Type::kInt:
      return std::to_string(f->i);
    case Field::Type::kText:
      return f->s.empty() ? "-" : SafeText(f->s);
    case Field::Type::kTime:
      return HumanTime(f->i);
    case Field::Type::kSeconds:
      return FormatDuration(std::chrono::seconds(f->i));
    case Field::Type::kList:
      return Joined(SafeList(f->list), ",", "self-hosted");
    case Field::Type::kBool:
      return f->i != 0 ? "yes" : "no";
    case Field::Type::kJson:
      return f->s.empty() || f->s == "{}" ? "-" : SafeText(f->s);
  }
  return "";
}

std::string CsvCell(const Field& f) {
  std::string v;
  switch (f.type) {
    case Field::Type::kNull:
      break;
    case Field::Type::kInt:
    case Field::Type::kSeconds:
      v = std::to_string(f.i);
      break;
    case Field::Type::kText:
    case Field::Type::kJson:
      v = SafeText(f.s);
      break;
    case Field::Type::kTime:
      v = FormatRfc3339(f.i);
      break;
    case Field::Type::kList:
      v = Joined(SafeList(f.list), ";");
      break;
    case Field::Type::kBool:
      v = f.i != 0 ? "true" : "false";
      break;
  }
  // A spreadsheet runs a cell that starts with = + - @ as a formula; text
  // from GitHub (job names, labels) gets a leading ' so it stays text.
  if ((f.type == Field::Type::kText || f.type == Field::Type::kList ||
       f.type == Field::Type::kJson) &&
      !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// Truncates to `width` display columns (UTF-8 aware enough for tables:
// continuation bytes do not count).
std::string Fit(const std::string& s, size_t width) {
  size_t cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (cols == width) break;
    ++cols;
  }
  if (i >= s.size()) return s;
  // Replace the last column with an ellipsis.
  std::string out = s.substr(0, i);
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty()) out.pop_back();
  return out + "\u2026";
}

size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

struct Column {
  const char* title;
  size_t max_width;
  std::function<std::string(const Record&)> cell;
};

std::function<std::string(const Record&)> FieldCell(const char* name) {
  return [name](const Record& r) { return HumanCell(r.Get(name)); };
}

std::vector<Column> TableColumns(Kind kind) {
  switch (kind) {
    case Kind::kJobs:
      return {{"ID", 12, FieldCell("id")},
              {"REPOSITORY", 24, FieldCell("repository")},
              {"WORKFLOW / JOB", 30,
               [](const Record& r) {
                 return HumanCell(r.Get("workflow_name")) + " / " + HumanCell(r.Get("name"));
               }},
              {"LABELS", 22, FieldCell("labels")},
              {"STATUS", 12,
               [](const Record& r) {
                 const Field* c = r.Get("conclusion");
                 return c && c->type == Field::Type::kText ? SafeText(c->s)
                                                           : HumanCell(r.Get("status"));
               }},
              {"RUNNER", 16, FieldCell("runner_name")},
              {"QUEUED (UTC)", 19, FieldCell("queued_at")},
              {"WAIT", 8, FieldCell("wait_seconds")},
              {"RAN", 8, FieldCell("duration_seconds")}};
    case Kind::kRuns:
      return {{"ID", 12, FieldCell("id")},
              {"ATT", 3, FieldCell("attempt")},
              {"REPOSITORY", 24, FieldCell("repository")},
              {"WORKFLOW", 22, FieldCell("workflow_name")},
              {"EVENT", 17, FieldCell("event")},
              {"STATUS", 12,
               [](const Record& r) {
                 const Field* c = r.Get("conclusion");
                 return c && c->type == Field::Type::kText ? SafeText(c->s)
                                                           : HumanCell(r.Get("status"));
               }},
              {"CREATED (UTC)", 19, FieldCell("created_at")},
              {"TITLE", 32, FieldCell("display_title")}};
    case Kind::kDeliveries:
      return {{"RECEIVED (UTC)", 19, FieldCell("received_at")},
              {"EVENT", 14, FieldCell("event")},
              {"ACTION", 11, FieldCell("action")},
              {"REPOSITORY", 24, FieldCell("repository")},
              {"OUTCOME", 11, FieldCell("outcome")},
              {"ID", 36, FieldCell("id")},
              {"REASON", 30, FieldCell("reason")}};
    case Kind::kActions:
      return {{"ID", 8, FieldCell("id")},
              {"KIND", 9, FieldCell("kind")},
              {"STATUS", 9, FieldCell("status")},
              {"TRIES", 5, FieldCell("attempts")},
              {"REPOSITORY", 24, FieldCell("repository")},
              {"CREATED (UTC)", 19, FieldCell("created_at")},
              {"DONE (UTC)", 19, FieldCell("done_at")},
              {"KEY", 28, FieldCell("key")},
              {"WHY / LAST ERROR", 40,
               [](const Record& r) {
                 const Field* e = r.Get("last_error");
                 std::string why = HumanCell(r.Get("reason"));
                 if (e && e->type == Field::Type::kText && !e->s.empty()) why += " / " + e->s;
                 return why;
               }},
              {"RESULT", 40, [](const Record& r) {
                 // What it led to: the workflow dispatched and its run.
                 const Field* w = r.Get("target_workflow");
                 const Field* run = r.Get("result_run_id");
                 std::string out = w && w->type == Field::Type::kText ? SafeText(w->s) : "";
                 if (run && run->type == Field::Type::kInt) {
                   out += (out.empty() ? "run " : " run ") + std::to_string(run->i);
                 }
                 return out.empty() ? std::string("-") : out;
               }}};
    case Kind::kRequests:
      return {{"ID", 8, FieldCell("id")},
              {"REPOSITORY", 24, FieldCell("repository")},
              {"WORKFLOW", 24, FieldCell("workflow")},
              {"REF", 12, FieldCell("ref")},
              {"STATUS", 10, FieldCell("status")},
              {"PARENT", 6, FieldCell("parent_id")},
              {"CREATED (UTC)", 19, FieldCell("created_at")},
              {"RUN", 12, FieldCell("run_id")},
              {"RUN URL", 60, FieldCell("run_url")},
              {"INPUTS", 40, FieldCell("inputs")}};
  }
  return {};
}

// A one-line description of each history entry, with its time.
struct TimelineEntry {
  std::optional<int64_t> time;
  int order = 0;
  std::string source, what, detail;
};

std::vector<TimelineEntry> Timeline(const store::JobHistory& h) {
  std::vector<TimelineEntry> out;
  auto text = [](const Record& r, const char* name) {
    const Field* f = r.Get(name);
    return f && f->type == Field::Type::kText ? f->s : std::string();
  };
  auto time = [](const Record& r, const char* name) -> std::optional<int64_t> {
    const Field* f = r.Get(name);
    if (f && f->type == Field::Type::kTime) return f->i;
    return std::nullopt;
  };
  for (const Record& d : h.deliveries) {
    std::string detail = "outcome " + text(d, "outcome");
    if (!text(d, "reason").empty()) detail += " (" + text(d, "reason") + ")";
    out.push_back({time(d, "received_at"), 0, "delivery",
                   text(d, "event") + "/" + text(d, "action") + " " + text(d, "id"), detail});
  }
  for (const Record& e : h.events) {
    const Field* applied = e.Get("applied");
    std::string what = text(e, "status");
    if (!text(e, "conclusion").empty()) what += " (" + text(e, "conclusion") + ")";
    std::string detail;
    if (!text(e, "runner_name").empty()) detail = "runner " + text(e, "runner_name") + "; ";
    if (auto at = time(e, "event_at")) detail += "GitHub time " + HumanTime(*at) + "; ";
    detail += applied && applied->i ? "applied" : "no change (already known)";
    out.push_back({time(e, "received_at"), 1, "event", what, detail});
  }
  for (const Record& a : h.actions) {
    std::string detail = text(a, "reason");
    if (!text(a, "last_error").empty()) detail += "; last error: " + text(a, "last_error");
    out.push_back({time(a, "created_at"), 2, "action",
                   text(a, "kind") + " " + text(a, "status") + " " + text(a, "key"), detail});
    if (auto done = time(a, "done_at")) {
      out.push_back({done, 2, "action", text(a, "kind") + " finished: " + text(a, "status"), ""});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const TimelineEntry& a, const TimelineEntry& b) {
    if (a.time.value_or(0) != b.time.value_or(0)) return a.time.value_or(0) < b.time.value_or(0);
    return a.order < b.order;
  });
  return out;
}

int Usage(const std::string& message) {
  std::cerr << "relayq: " << message << "\n";
  return 2;
}

}  // namespace

std::string CsvHeader(Kind kind) {
  std::string out;
  for (const auto& n : store::FieldNames(kind)) out += (out.empty() ? "" : ",") + n;
  return out + "\r\n";
}

std::string CsvRow(Kind, const Record& record) {
  std::string out;
  for (size_t i = 0; i < record.fields.size(); ++i) {
    if (i > 0) out += ",";
    out += CsvCell(record.fields[i]);
  }
  return out + "\r\n";
}

std::string Table(Kind kind, const std::vector<Record>& records, size_t terminal_width) {
  std::vector<Column> cols = TableColumns(kind);
  std::vector<const char*> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(records.size());
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) width[c] = Columns(titles[c]);
  for (const Record& r : records) {
    std::vector<std::string> row;
    for (size_t c = 0; c < cols.size(); ++c) {
      row.push_back(Fit(cols[c].cell(r), cols[c].max_width));
      width[c] = std::max(width[c], Columns(row.back()));
    }
    rows.push_back(std::move(row));
  }
  // Narrow the widest column, one column at a time, until the rows fit the
  // terminal (two spaces between columns); no column gets narrower than 5
  // (titles are cut too), so a very narrow terminal wraps rather than losing
  // columns.
  if (terminal_width > 0 && !cols.empty()) {
    auto total = [&] {
      size_t t = 2 * (cols.size() - 1);
      for (size_t w : width) t += w;
      return t;
    };
    while (total() > terminal_width) {
      size_t widest = cols.size();
      for (size_t c = 0; c < cols.size(); ++c) {
        if (width[c] > 5 && (widest == cols.size() || width[c] > width[widest])) widest = c;
      }
      if (widest == cols.size()) break;
      --width[widest];
    }
    for (auto& row : rows) {
      for (size_t c = 0; c < cols.size(); ++c) row[c] = Fit(row[c], width[c]);
    }
  }
  std::vector<std::string> fitted;
  for (size_t c = 0; c < cols.size(); ++c) fitted.push_back(Fit(titles[c], width[c]));
  for (size_t c = 0; c < cols.size(); ++c) titles[c] = fitted[c].c_str();
  return RenderTable({titles.begin(), titles.end()}, rows);
}

// The width of the terminal on stdout: the tty's size, else $COLUMNS, else 0
// (unknown: no narrowing).
size_t TerminalWidth() {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c != nullptr) {
    char* end = nullptr;
    long v = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && v > 0 && v < 10000) return static_cast<size_t>(v);
  }
  return 0;
}

// The table's rows for a pipe: one line per record, cells separated by tabs,
// never cut, no header and no padding (as gh prints lists into a pipe), so
// `cut -f`, `sort` and `awk -F'\t'` work on them. SafeText keeps tabs and
// newlines inside a cell escaped.
std::string TabSeparated(Kind kind, const std::vector<Record>& records) {
  std::vector<Column> cols = TableColumns(kind);
  std::string out;
  for (const Record& r : records) {
    for (size_t c = 0; c < cols.size(); ++c) {
      if (c > 0) out += '\t';
      out += cols[c].cell(r);
    }
    out += '\n';
  }
  return out;
}

// "name:   value" lines, one per field, nothing cut.
std::string FieldLines(const Record& r) {
  std::string out;
  for (const Field& f : r.fields) {
    std::string v = HumanCell(&f);
    if (f.type == Field::Type::kList) v = Joined(SafeList(f.list), ", ");
    out += f.name + ":" + std::string(f.name.size() < 17 ? 17 - f.name.size() : 1, ' ') + v + "\n";
  }
  return out;
}

std::string HistoryTable(const store::JobHistory& h) {
  std::string out = FieldLines(h.job);
  const server::RoutingDecision routing = server::RoutingDecisionOf(h);
  out += "routing:          " + SafeText(routing.decision) +
         (routing.action_id ? " (action " + std::to_string(*routing.action_id) + ")" : "") + "\n";
  if (!routing.why.empty()) out += "routing why:      " + SafeText(routing.why) + "\n";
  out += "\n";
  std::vector<std::vector<std::string>> rows;
  for (const TimelineEntry& e : Timeline(h)) {
    rows.push_back({e.time ? HumanTime(*e.time) : "-", SafeText(e.source),
                    Fit(SafeText(e.what), 60), Fit(SafeText(e.detail), 70)});
  }
  return out + RenderTable({"TIME (UTC)", "SOURCE", "WHAT", "DETAIL"}, rows);
}

std::string HistoryCsv(const store::JobHistory& h) {
  std::string out = "time,source,what,detail\r\n";
  for (const TimelineEntry& e : Timeline(h)) {
    Field t, s, w, d;
    if (e.time) {
      t.type = Field::Type::kTime;
      t.i = *e.time;
    }
    s.type = w.type = d.type = Field::Type::kText;
    s.s = e.source;
    w.s = e.what;
    d.s = e.detail;
    out += CsvCell(t) + "," + CsvCell(s) + "," + CsvCell(w) + "," + CsvCell(d) + "\r\n";
  }
  return out;
}

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? std::to_string(it->get<int64_t>()) : "";
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string StoryStepLine(const nlohmann::json& step) {
  std::string at = Str(step, "at");
  if (auto ms = ParseRfc3339(at); ms.ok()) at = HumanTime(*ms);
  int depth = step.value("depth", 0);
  std::string who = std::string(static_cast<size_t>(std::min(depth, 8)) * 2, ' ') + "request " +
                    Num(step, "request_id");
  std::string line = Pad(at.empty() ? "-" : at, 19) + "  " + Pad(who, 14) + "  " +
                     Pad(SafeText(Str(step, "step")), 16) + "  " + SafeText(Str(step, "detail"));
  const std::string url = Str(step, "run_url");
  if (!url.empty()) line += "  " + SafeText(url);
  return line;
}

std::string StoryOutcomeLine(const nlohmann::json& story) {
  std::string why = Str(story, "outcome_why");
  std::string outcome = Str(story, "outcome");
  if (outcome == "in_progress") outcome = "in progress";
  return "request " + Num(story, "id") + ": " + outcome +
         (why.empty() ? "" : " (" + SafeText(why) + ")");
}

std::string StoryTable(const nlohmann::json& story) {
  std::string out = "request " + Num(story, "id") + ": " + SafeText(Str(story, "workflow")) +
                    " on " + SafeText(Str(story, "ref")) + " of " +
                    SafeText(Str(story, "repository")) + "\n";
  out += StoryOutcomeLine(story) + "\n\n";
  out += Pad("TIME (UTC)", 19) + "  " + Pad("REQUEST", 14) + "  " + Pad("STEP", 16) +
         "  DETAIL  RUN URL\n";
  auto steps = story.find("steps");
  if (steps != story.end() && steps->is_array()) {
    for (const auto& step : *steps) out += StoryStepLine(step) + "\n";
  }
  return out;
}

std::string StoryCsv(const nlohmann::json& story) {
  static const char* const kColumns[] = {"at",     "request_id", "depth",          "step",
                                         "detail", "run_id",     "run_attempt",    "run_url",
                                         "job_id", "action_id",  "new_request_id", "conclusion"};
  std::string out;
  for (const char* c : kColumns) out += (out.empty() ? "" : ",") + std::string(c);
  out += "\r\n";
  const auto steps = story.find("steps");
  if (steps == story.end() || !steps->is_array()) return out;
  for (const auto& step : *steps) {
    std::string line;
    for (const char* c : kColumns) {
      Field f;
      auto v = step.find(c);
      if (v != step.end() && v->is_number_integer()) {
        f.type = Field::Type::kInt;
        f.i = v->get<int64_t>();
      } else if (v != step.end() && v->is_string()) {
        f.type = Field::Type::kText;
        f.s = v->get<std::string>();
      }
      line += (c == kColumns[0] ? "" : ",") + CsvCell(f);
    }
    out += line + "\r\n";
  }
  return out;
}

std::string ActionDetailTable(const store::ActionDetail& d) {
  std::string out = FieldLines(d.action);
  // The stored JSON, one key a line: the progress is the action's history
  // (stage, sends, run, outcome) as the executor saved it.
  auto json_lines = [&out](const char* title, const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    out += std::string("\n") + title + ":\n";
    if (!j.is_object()) {
      out += "  " + SafeText(text) + "\n";
      return;
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
      out += "  " + SafeText(it.key()) + ": " + SafeText(v) + "\n";
    }
  };
  json_lines("payload", d.payload);
  if (d.result) {
    json_lines("progress", *d.result);
  } else {
    out += "\nprogress:\n  - (not tried yet)\n";
  }
  if (!d.history.empty()) {
    out += "\noperator history:\n";
    for (const store::Record& e : d.history) {
      auto text = [&e](const char* name) {
        const Field* f = e.Get(name);
        return f != nullptr && f->type == Field::Type::kText ? SafeText(f->s) : std::string();
      };
      const Field* at = e.Get("at");
      out += "  " + (at != nullptr ? FormatRfc3339(at->i) : std::string("?")) + " " + text("what") +
             " by " + text("who") + " (" + text("from_status") + " -> " + text("to_status") + ")" +
             (text("reason").empty() ? "" : ": " + text("reason")) + "\n";
    }
  }
  return out;
}

CommandRun RegisterAudit(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string kind, repo, label, status, since, until, format = "table", by;
    int64_t limit = -1;  // -1: not given (tables 30, json/csv all)
    int64_t id = 0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "audit", "Query the record: what arrived, what ran where, what relayq did");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("kind", f->kind, "jobs, runs, deliveries, actions, requests or waits")
      ->required()
      ->check(CLI::IsMember({"jobs", "runs", "deliveries", "actions", "requests", "waits"}));
  cmd->add_option("--by", f->by, "With waits: day (default) or week")
      ->check(CLI::IsMember({"day", "week"}));
  cmd->add_option("--repo", f->repo, "Only this repository (OWNER/NAME)");
  cmd->add_option("--label", f->label, "Only jobs that asked for this runner label");
  cmd->add_option("--status", f->status,
                  "Only this status (jobs, runs, actions, requests) or outcome (deliveries)");
  cmd->add_option("--since", f->since,
                  "Only items at or after T: RFC 3339, or a duration back from now (24h, 7d)");
  cmd->add_option("--until", f->until, "Only items before T (same forms as --since)");
  cmd->add_option("--limit", f->limit,
                  "At most N items, newest first (default: 30 in a table, all in json/csv; "
                  "0: all)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            bool digits = !v.empty() && v.size() <= 12 &&
                          v.find_first_not_of("0123456789") == std::string::npos;
            return digits
                       ? std::string()
                       : "--limit must be a whole number, 0 or more, got '" + v.substr(0, 32) + "'";
          },
          "N", "whole number"));
  cmd->add_option("--format", f->format, "table (default), json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->add_option("--id", f->id,
                  "With jobs: one job's whole history and routing decision; with actions: one "
                  "action with its progress; with requests: one request's story")
      ->check(CLI::PositiveNumber);

  return [f]() -> int {
    if (f->kind == "waits") {
      if (!f->repo.empty() || !f->status.empty() || f->id != 0 || f->limit != -1) {
        return Usage("waits takes --since, --until, --label, --by and --format");
      }
      store::WaitsQuery w;
      const WallTime now = Clock::Real().Now();
      w.since_ms = ToUnixMillis(now) - 30 * 24 * 3600 * 1000LL;
      w.until_ms = ToUnixMillis(now) + 1;
      for (auto [text, out] : {std::pair{&f->since, &w.since_ms}, {&f->until, &w.until_ms}}) {
        if (text->empty()) continue;
        auto t = ParseTimeFilter(*text, now);
        if (!t.ok())
          return Usage((out == &w.since_ms ? "--since: " : "--until: ") + t.status().message());
        *out = *t;
      }
      if (!f->label.empty()) w.label = f->label;
      if (f->by == "week") w.by = store::WaitsQuery::By::kWeek;
      auto config = LoadCommandConfig(f->common);
      if (!config.ok()) return FailWith(config.status());
      return RunAuditWaits(*config, w, f->format);
    }
    if (!f->by.empty()) return Usage("--by applies to waits only");
    auto kind = store::ParseKind(f->kind);
    if (!kind.ok()) return Usage(kind.status().message());
    store::ListQuery q;
    q.kind = *kind;
    if (!f->repo.empty()) q.repo = f->repo;
    if (!f->label.empty()) {
      if (q.kind != Kind::kJobs) return Usage("--label applies to jobs only");
      q.label = f->label;
    }
    if (!f->status.empty()) q.status = f->status;
    const WallTime now = Clock::Real().Now();
    if (!f->since.empty()) {
      auto t = ParseTimeFilter(f->since, now);
      if (!t.ok()) return Usage("--since: " + t.status().message());
      q.since_ms = *t;
    }
    if (!f->until.empty()) {
      auto t = ParseTimeFilter(f->until, now);
      if (!t.ok()) return Usage("--until: " + t.status().message());
      q.until_ms = *t;
    }
    if (q.since_ms && q.until_ms && *q.since_ms > *q.until_ms) {
      return Usage("--since is after --until");
    }
    if (f->id != 0 && q.kind != Kind::kJobs && q.kind != Kind::kActions &&
        q.kind != Kind::kRequests) {
      return Usage("--id applies to jobs, actions and requests only");
    }

    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    auto reader = store::StoreReader::Open(config->db_path);
    if (!reader.ok()) return FailWith(reader.status());

    if (f->id != 0 && q.kind == Kind::kRequests) {
      auto story = (*reader)->Request(f->id);
      if (!story.ok()) return FailWith(story.status());
      const nlohmann::json j = server::RequestStoryJson(*story);
      if (f->format == "json") {
        std::cout << j.dump(2) << "\n";
      } else if (f->format == "csv") {
        std::cout << StoryCsv(j);
      } else {
        std::cout << StoryTable(j);
      }
      std::cout.flush();
      return std::cout.good() ? 0 : 1;
    }
    if (f->id != 0 && q.kind == Kind::kActions) {
      auto d = (*reader)->Action(f->id);
      if (!d.ok()) return FailWith(d.status());
      if (f->format == "json") {
        std::cout << server::ActionDetailJson(*d).dump(2) << "\n";
      } else if (f->format == "csv") {
        std::cout << CsvHeader(q.kind) << CsvRow(q.kind, d->action);
      } else {
        std::cout << ActionDetailTable(*d);
      }
      std::cout.flush();
      return std::cout.good() ? 0 : 1;
    }
    if (f->id != 0) {
      auto h = (*reader)->Job(f->id);
      if (!h.ok()) return FailWith(h.status());
      if (f->format == "json") {
        std::cout << server::JobHistoryJson(*h).dump(2) << "\n";
      } else if (f->format == "csv") {
        std::cout << HistoryCsv(*h);
      } else {
        std::cout << HistoryTable(*h);
      }
      return 0;
    }

    // Page through the keyset so memory stays bounded for json and csv,
    // which stream; a table needs every row for its widths.
    // A table shows the newest kTableDefaultLimit unless --limit says
    // otherwise, and says when more exist (it fetches one row more to know).
    constexpr int64_t kTableDefaultLimit = 30;
    const bool table = f->format == "table";
    const int64_t shown = f->limit >= 0 ? f->limit : (table ? kTableDefaultLimit : 0);
    int64_t left = shown > 0 ? shown + (table ? 1 : 0) : -1;
    std::vector<Record> table_rows;
    bool first = true;
    if (f->format == "json") std::cout << "[";
    if (f->format == "csv") std::cout << CsvHeader(q.kind);
    for (;;) {
      q.limit = static_cast<int>(left < 0 ? store::kMaxPageSize
                                          : std::min<int64_t>(left, store::kMaxPageSize));
      if (q.limit == 0) break;
      auto page = (*reader)->List(q);
      if (!page.ok()) {
        if (f->format == "json") std::cout << "]\n";
        std::cout.flush();
        if (page.status().code() == Status::Code::kInvalidArgument) {
          return Usage(page.status().message());
        }
        return FailWith(page.status());
      }
      for (Record& r : page->items) {
        if (f->format == "json") {
          std::cout << (first ? "\n" : ",\n") << server::RecordJson(r).dump();
        } else if (f->format == "csv") {
          std::cout << CsvRow(q.kind, r);
        } else {
          table_rows.push_back(std::move(r));
        }
        first = false;
      }
      if (left > 0) left -= static_cast<int64_t>(page->items.size());
      if (page->next.empty() || left == 0) break;
      q.cursor = page->next;
    }
    if (f->format == "json") std::cout << (first ? "]\n" : "\n]\n");
    if (table) {
      bool more = shown > 0 && static_cast<int64_t>(table_rows.size()) > shown;
      if (more) table_rows.resize(static_cast<size_t>(shown));
      if (table_rows.empty()) {
        std::cout << "no " << store::KindName(q.kind) << " match\n";
      } else if (::isatty(STDOUT_FILENO)) {
        std::cout << Table(q.kind, table_rows, TerminalWidth());
      } else {
        std::cout << TabSeparated(q.kind, table_rows);
      }
      if (more) {
        std::cout.flush();
        std::cerr << "showing the newest " << shown << " " << store::KindName(q.kind)
                  << "; more exist (--limit N, or --limit 0 for all)\n";
      }
    }
    std::cout.flush();
    return std::cout.good() ? 0 : 1;
  };
}

}  // namespace relayq::cli
