#include "server/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/json_text.h"
#include "server/sd_notify.h"

namespace relayq::server {
namespace {

std::atomic<bool> g_json{false};
// stderr is the journal: each line starts with its sd-daemon priority
// ("<6>") and carries no timestamp (the journal stamps every line).
std::atomic<bool> g_journal{false};

// The sd-daemon priority prefix of `level` (syslog numbers).
const char* JournalPrefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "<7>";
    case LogLevel::kInfo:
      return "<6>";
    case LogLevel::kWarn:
      return "<4>";
    case LogLevel::kError:
      return "<3>";
  }
  return "<6>";
}

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

bool NeedsQuotes(const std::string& v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

// Emits one line: the message and its fields.
void SpdlogSink(LogLevel level, std::string_view msg, const LogFields& fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(ToSpd(level))) return;
  if (g_json) {
    nlohmann::json j;
    j["ts"] = static_cast<double>(ToUnixMillis(Clock::Real().Now())) / 1000.0;
    j["level"] = std::string(spdlog::level::to_string_view(ToSpd(level)).data());
    j["msg"] = std::string(msg);
    for (const auto& [k, v] : fields) j[std::string(k)] = v;
    logger->log(ToSpd(level), "{}{}", g_journal ? JournalPrefix(level) : "", DumpJson(j));
    return;
  }
  std::string line;
  if (g_journal) {
    line = JournalPrefix(level);
    line += spdlog::level::to_string_view(ToSpd(level)).data();
    line += ' ';
  }
  line += msg;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    if (NeedsQuotes(v)) {
      line += DumpJson(nlohmann::json(v));
    } else {
      line += v;
    }
  }
  logger->log(ToSpd(level), "{}", line);
}

}  // namespace

void SetupLogging(const std::string& format, const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("relayq");
  g_json = format == "json";
  g_journal = StderrIsJournal();
  if (g_json || g_journal) {
    // The message is already a JSON object; the time and level are added by
    // Log() so the whole line stays one valid object. For the journal the
    // sink writes the priority and level itself, and no time.
    logger->set_pattern("%v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  SetLogSink(&SpdlogSink);
}

}  // namespace relayq::server
