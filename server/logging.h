// Logging setup and structured log lines (spdlog, to stderr).
//
// Two formats: text (human: "2026-11-24T09:30:00.123Z info delivery id=..
// event=..") and json (one object per line, for log shippers). Callers pass
// fields, never preformatted secrets: nothing here knows which values are
// secret, so secrets must simply never be passed. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relayq::server {

using LogFields = std::vector<std::pair<std::string_view, std::string>>;

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Configures the process-wide logger. `format` is "text" or "json"; `level`
// is debug, info, warn or error.
void SetupLogging(const std::string& format, const std::string& level);

// Emits one line: the message and its fields.
void Log(LogLevel level, std::string_view msg, const LogFields& fields = {});

}  // namespace relayq::server
