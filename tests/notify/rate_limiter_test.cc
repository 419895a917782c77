// RateLimiter on a fake clock: the window per kind, what is held back, and
// the summary once there is room.
#include "notify/rate_limiter.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"

namespace relayq::notify {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

class RateLimiterTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  RateLimiter limiter_{RateLimit{2, minutes(60)}, clock_};
};

TEST_F(RateLimiterTest, AllowsMaxPerWindowPerKind) {
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  EXPECT_FALSE(limiter_.Allow(EventKind::kJobStuck));
  // Another kind has its own window.
  EXPECT_TRUE(limiter_.Allow(EventKind::kActionFailed));
}

TEST_F(RateLimiterTest, WindowSlides) {
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  clock_.Advance(minutes(30));
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  EXPECT_FALSE(limiter_.Allow(EventKind::kJobStuck));
  clock_.Advance(minutes(30));  // the first left the window
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  EXPECT_FALSE(limiter_.Allow(EventKind::kJobStuck));
}

TEST_F(RateLimiterTest, HeldBackAreCountedAndSummarisedOnceThereIsRoom) {
  ASSERT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  ASSERT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  const int64_t first_held = ToUnixMillis(clock_.Now());
  for (int i = 0; i < 5; ++i) {
    ASSERT_FALSE(limiter_.Allow(EventKind::kJobStuck));
    limiter_.Hold(EventKind::kJobStuck);
    clock_.Advance(seconds(1));
  }
  EXPECT_EQ(limiter_.held(EventKind::kJobStuck), 5);
  EXPECT_FALSE(limiter_.TakeSummary(EventKind::kJobStuck));      // no room yet
  EXPECT_FALSE(limiter_.TakeSummary(EventKind::kActionFailed));  // nothing held

  clock_.Advance(minutes(60));
  auto held = limiter_.TakeSummary(EventKind::kJobStuck);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->count, 5);
  EXPECT_EQ(held->since_ms, first_held);
  EXPECT_EQ(limiter_.held(EventKind::kJobStuck), 0);
  EXPECT_FALSE(limiter_.TakeSummary(EventKind::kJobStuck));
  // The summary took a slot of the window.
  EXPECT_TRUE(limiter_.Allow(EventKind::kJobStuck));
  EXPECT_FALSE(limiter_.Allow(EventKind::kJobStuck));
}

TEST(RateLimiterZeroTest, MaxZeroSendsNothing) {
  testing::FakeClock clock;
  RateLimiter limiter(RateLimit{0, minutes(60)}, clock);
  EXPECT_FALSE(limiter.Allow(EventKind::kJobStuck));
}

}  // namespace
}  // namespace relayq::notify
