#include "common/time_format.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"

namespace relayq {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, AcceptsDocumentedUnits) {
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {{"90s", 90'000},      {"15m", 900'000}, {"24h", 86'400'000}, {"7d", 604'800'000},
               {"1h30m", 5'400'000}, {"250ms", 250},   {"45", 45'000},      {"0s", 0},
               {"2w", 1'209'600'000}};
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text;
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(ParseDurationTest, RejectsMalformed) {
  for (const char* text : {"", "s", "-5m", "5 m", "5y", "1.5h", "m5", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(text).ok()) << text;
  }
}

TEST(FormatDurationTest, RoundTripsWholeSeconds) {
  EXPECT_EQ(FormatDuration(std::chrono::seconds(0)), "0s");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(5400)), "1h30m");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(93784)), "1d2h3m4s");
}

TEST(Rfc3339Test, ParsesGitHubTimestamps) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2026-01-01T00:00:00Z"), 1767225600000);
  EXPECT_EQ(*ParseRfc3339("2026-01-01T01:00:00+01:00"), 1767225600000);
  EXPECT_EQ(*ParseRfc3339("2026-01-01T00:00:00.250Z"), 1767225600250);
  EXPECT_EQ(*ParseRfc3339("2024-02-29T12:00:00Z"), 1709208000000);
}

TEST(Rfc3339Test, RejectsMalformed) {
  for (const char* text : {"", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00",
                           "2026-01-01T00:00:00Zjunk", "2026-01-01 00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(text).ok()) << text;
  }
}

TEST(Rfc3339Test, FormatsUtcWholeSeconds) {
  EXPECT_EQ(FormatRfc3339(1767225600250), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1709208000000), "2024-02-29T12:00:00Z");
}

TEST(TimeFilterTest, DurationCountsBackFromNow) {
  testing::FakeClock clock;
  int64_t now = ToUnixMillis(clock.Now());
  EXPECT_EQ(*ParseTimeFilter("24h", clock.Now()), now - 86'400'000);
  EXPECT_EQ(*ParseTimeFilter("2026-01-01T00:00:00Z", clock.Now()), 1767225600000);
  EXPECT_FALSE(ParseTimeFilter("yesterday", clock.Now()).ok());
}

}  // namespace
}  // namespace relayq
