// `relayq audit waits`: queue time per label per day or week (see
// audit_cmd.h). The rows are StoreReader::Waits's; JSON items are the
// API's (GET /api/v1/waits), CSV has the documented field names.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/audit_cmd.h"
#include "common/table.h"
#include "common/time_format.h"
#include "server/audit_json.h"

namespace relayq::cli {

namespace {

std::string Cell(const store::Record& r, const char* name, bool date_only = false) {
  const store::Field* f = r.Get(name);
  if (f == nullptr) return "";
  switch (f->type) {
    case store::Field::Type::kNull:
      return "-";
    case store::Field::Type::kText:
      return f->s;
    case store::Field::Type::kTime: {
      std::string t = FormatRfc3339(f->i);
      return date_only ? t.substr(0, 10) : t;
    }
    case store::Field::Type::kSeconds:
      return FormatDuration(std::chrono::seconds(f->i));
    default:
      return std::to_string(f->i);
  }
}

}  // namespace

int RunAuditWaits(const server::Config& config, const store::WaitsQuery& q,
                  const std::string& format) {
  auto reader = store::StoreReader::Open(config.db_path);
  if (!reader.ok()) return FailWith(reader.status());
  auto rows = (*reader)->Waits(q);
  if (!rows.ok()) return FailWith(rows.status());
  if (format == "json") {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : *rows) items.push_back(server::RecordJson(r));
    std::cout << items.dump(2) << "\n";
  } else if (format == "csv") {
    std::string header;
    for (const auto& n : store::WaitsFieldNames()) header += (header.empty() ? "" : ",") + n;
    std::cout << header << "\r\n";
    for (const auto& r : *rows) std::cout << CsvRow(store::Kind::kJobs, r);
  } else if (rows->empty()) {
    std::cout << "no jobs queued in that window\n";
  } else {
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : *rows) {
      cells.push_back({Cell(r, "label"), Cell(r, "period_start", /*date_only=*/true),
                       Cell(r, "jobs"), Cell(r, "waited"), Cell(r, "p50_seconds"),
                       Cell(r, "p95_seconds"), Cell(r, "max_seconds"), Cell(r, "fallbacks")});
    }
    std::cout << RenderTable({"LABEL", q.by == store::WaitsQuery::By::kWeek ? "WEEK OF" : "DAY",
                              "JOBS", "WAITED", "P50", "P95", "MAX", "FALLBACKS"},
                             cells);
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace relayq::cli
