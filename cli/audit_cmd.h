// `relayq audit`: answers "what arrived, what ran where, what relayq did"
// from the store file, and its table and CSV renderings.
//
//   relayq audit jobs|runs|deliveries|actions|requests [--repo R] [--label L]
//       [--status S] [--since T] [--until T] [--limit N]
//       [--format table|json|csv] [--db PATH] [--config FILE]
//   relayq audit jobs --id N     one job's whole history
//   relayq audit requests --id N one request's story (as `relayq status`)
//   relayq audit waits [--since 30d] [--label L] [--by day|week]
//
// JSON items are exactly the API's (server/audit_json.h renders both); CSV has a
// header row of the documented field names; tables are for people (aligned,
// truncated cells, human times and durations). Exit codes: 0 ok, 1 the store
// could not be read, 2 usage (bad flag, bad time filter).
// Thread safety: the renderers are pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "store/query.h"

namespace relayq::cli {

// "2026-01-01 09:30:00" (UTC) for tables.
std::string HumanTime(int64_t ms);

// Text from GitHub as relayq may print it. Job names, labels, branches and
// titles come from workflow files that a fork's pull request controls, so
// control characters (C0 including newline and ESC, DEL, and the UTF-8 C1
// range, which a terminal may also read as CSI/OSC) are shown as \xHH (\n,
// \r, \t for those three) instead of being passed through: no escape or
// hyperlink sequence and no forged row reaches the terminal or the CSV. URLs
// are shown as scheme://host/path (signed links carry tokens in the query).
std::string SafeText(std::string_view raw);

// CSV (RFC 4180) of `records`: a header row of FieldNames(kind), then one
// row each. Lists (labels) are joined with ';'; unknown values are empty.
std::string CsvHeader(store::Kind kind);
std::string CsvRow(store::Kind kind, const store::Record& record);

// An aligned text table of `records` for a terminal. With `terminal_width`
// (columns; 0: unknown) the widest cells are cut further so that rows fit.
std::string Table(store::Kind kind, const std::vector<store::Record>& records,
                  size_t terminal_width = 0);

// A request's story (server::RequestStoryJson) for a person: a heading (the
// request, its outcome), then one line per step (StoryStepLine).
std::string StoryTable(const nlohmann::json& story);
// One step as a line: time (UTC), request (indented by depth), step, detail,
// run URL; text from GitHub made safe (SafeText).
std::string StoryStepLine(const nlohmann::json& step);
// "request 1: success (why)".
std::string StoryOutcomeLine(const nlohmann::json& story);

// A request's story (RequestStoryJson) as CSV: one row per step, the step's
// JSON fields as columns.
std::string StoryCsv(const nlohmann::json& story);

// A job's history as a table (one line per event, delivery and action,
// in time order) and as CSV (time,source,what,detail).
std::string HistoryTable(const store::JobHistory& history);
std::string HistoryCsv(const store::JobHistory& history);

// `relayq audit waits [--since 30d] [--until T] [--label L] [--by day|week]`:
// per label per period, jobs, waited, p50/p95/max wait and fallbacks
// (StoreReader::Waits). audit_waits.cc.
int RunAuditWaits(const server::Config& config, const store::WaitsQuery& q,
                  const std::string& format);

CommandRun RegisterAudit(CLI::App& app);

}  // namespace relayq::cli
