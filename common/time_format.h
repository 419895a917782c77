// Parsing and printing of the times and durations users type and read.
//
// Stored times are int64 Unix milliseconds (UTC). Users see RFC 3339 in UTC
// ("2026-11-24T09:30:00Z") and durations like "90s", "15m", "24h", "7d".
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace relayq {

// Parses "<n><unit>" with unit one of ms, s, m, h, d, w, or several such parts
// in a row ("1h30m"). A bare number is seconds. Fails on anything else,
// including negative values and overflow.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "1h30m", "45s", "2d3h", "0s": the inverse of ParseDuration for whole seconds.
std::string FormatDuration(std::chrono::seconds d);

// Parses an RFC 3339 timestamp ("2026-11-24T09:30:00Z", fractional seconds and
// numeric offsets accepted) into Unix milliseconds.
Result<int64_t> ParseRfc3339(std::string_view text);

// Formats Unix milliseconds as RFC 3339 UTC with whole seconds ("...:00Z").
std::string FormatRfc3339(int64_t unix_ms);

// A time filter as the CLI and API accept it: an RFC 3339 time, or a duration
// back from `now` ("24h" means now minus 24 hours). Returns Unix milliseconds.
Result<int64_t> ParseTimeFilter(std::string_view text, WallTime now);

}  // namespace relayq
