#include "common/time_format.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <limits>

namespace relayq {
namespace {

// Days from 1970-01-01 to the given civil date (proleptic Gregorian); the
// algorithm is Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ReadDigits(std::string_view s, size_t& pos, size_t count, int& out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += count;
  out = v;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && (s[pos] == c || std::tolower(static_cast<unsigned char>(s[pos])) == c)) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration (use e.g. 90s, 15m, 24h, 7d)");
  };
  if (text.empty()) return bad();
  int64_t total_ms = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) return bad();
    int64_t n = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (n > std::numeric_limits<int64_t>::max() / 10 - 10) return bad();
      n = n * 10 + (text[pos] - '0');
      ++pos;
    }
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    int64_t scale;
    if (unit.empty() || unit == "s") {
      scale = 1000;
      if (unit.empty() && pos != text.size()) return bad();
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit == "w") {
      scale = 7 * 86'400'000LL;
    } else {
      return bad();
    }
    if (n > (std::numeric_limits<int64_t>::max() - total_ms) / scale) return bad();
    total_ms += n * scale;
  }
  return std::chrono::milliseconds(total_ms);
}

std::string FormatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s < 0) return "-" + FormatDuration(std::chrono::seconds(-s));
  if (s == 0) return "0s";
  std::string out;
  const struct {
    int64_t size;
    const char* unit;
  } parts[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& p : parts) {
    if (s >= p.size) {
      out += std::to_string(s / p.size);
      out += p.unit;
      s %= p.size;
    }
  }
  return out;
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not an RFC 3339 time (e.g. 2026-11-24T09:30:00Z)");
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day) || !Expect(text, pos, 't') ||
      !ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_s = 0;
  if (Expect(text, pos, 'z')) {
    offset_s = 0;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!ReadDigits(text, pos, 2, oh) || !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return bad();
    }
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return secs * 1000 + millis;
}

std::string FormatRfc3339(int64_t unix_ms) {
  int64_t secs = unix_ms / 1000;
  if (unix_ms < 0 && unix_ms % 1000 != 0) --secs;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<int64_t> ParseTimeFilter(std::string_view text, WallTime now) {
  if (!text.empty() && text.find('-') != std::string_view::npos) return ParseRfc3339(text);
  auto d = ParseDuration(text);
  if (!d.ok()) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is neither an RFC 3339 time nor a duration like 24h");
  }
  return ToUnixMillis(now) - d->count();
}

}  // namespace relayq
