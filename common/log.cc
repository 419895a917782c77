#include "common/log.h"

#include <atomic>
#include <cstdio>

namespace relayq {
namespace {

// Before a sink is installed: one plain line on stderr, info and above.
void StderrSink(LogLevel level, std::string_view msg, const LogFields& fields) {
  if (level == LogLevel::kDebug) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::string line = kNames[static_cast<int>(level)];
  line += ' ';
  line += msg;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += v;
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

std::atomic<LogSink> g_sink{&StderrSink};

}  // namespace

void SetLogSink(LogSink sink) { g_sink.store(sink != nullptr ? sink : &StderrSink); }

void Log(LogLevel level, std::string_view msg, const LogFields& fields) {
  g_sink.load()(level, msg, fields);
}

}  // namespace relayq
