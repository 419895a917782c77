#include "common/strings.h"

#include <gtest/gtest.h>

namespace relayq {
namespace {

TEST(ConstantTimeEqualsTest, ComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(ClosestMatchTest, SuggestsPlausibleTypos) {
  std::vector<std::string> keys = {"queue_timeout", "fallback", "prefer", "match"};
  EXPECT_EQ(ClosestMatch("queue_timout", keys), "queue_timeout");
  EXPECT_EQ(ClosestMatch("prefr", keys), "prefer");
  EXPECT_EQ(ClosestMatch("completely_different", keys), "");
}

TEST(SplitAndTrimTest, DropsEmptyPieces) {
  EXPECT_EQ(SplitAndTrim(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitAndTrim("", ',').empty());
}

TEST(HexEncodeTest, LowerCase) { EXPECT_EQ(HexEncode(std::string("\x01\xab", 2)), "01ab"); }

}  // namespace
}  // namespace relayq
