// Audit items as JSON: what the admin API's /api/v1 routes answer and what
// `relayq audit --format json` prints (one function renders both).
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "store/query.h"

namespace relayq::server {

// One item as the API and `--format json` show it: times RFC 3339 UTC,
// durations in seconds, unknown values null.
nlohmann::json RecordJson(const store::Record& record);

// A job with "events", "deliveries" and "actions" arrays (oldest first).
nlohmann::json JobHistoryJson(const store::JobHistory& history);

}  // namespace relayq::server
