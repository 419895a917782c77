// Structured log lines: the one logging call every library may make.
//
// Log() hands a level, a message and fields to the process's log sink. The
// sink is installed once at start-up by whoever owns the output format (the
// daemon: server/logging.h's SetupLogging, spdlog to stderr); until then
// lines go to stderr as "LEVEL msg k=v ...". So use cases in handlers/ can
// log without depending on the daemon. Callers pass fields, never
// preformatted secrets: nothing here knows which values are secret.
// Thread safety: Log() is thread-safe; SetLogSink() must be called before
// other threads log.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relayq {

using LogFields = std::vector<std::pair<std::string_view, std::string>>;

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Receives every line. Must be thread-safe.
using LogSink = void (*)(LogLevel level, std::string_view msg, const LogFields& fields);

// Installs `sink` for the whole process; null restores the stderr default.
void SetLogSink(LogSink sink);

// Emits one line: the message and its fields.
void Log(LogLevel level, std::string_view msg, const LogFields& fields = {});

}  // namespace relayq
