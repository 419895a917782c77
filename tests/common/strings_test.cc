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

TEST(ToLowerTest, LowersAsciiOnly) {
  EXPECT_EQ(ToLower("MacMini-1 \xC3\x84"), "macmini-1 \xC3\x84");
  EXPECT_EQ(ToLower(""), "");
}

TEST(EqualsIgnoreCaseTest, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(EqualsIgnoreCase("Octo/Repo", "octo/repo"));
  EXPECT_FALSE(EqualsIgnoreCase("octo/repo", "octo/rep"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
}

TEST(IsOwnerSlashNameTest, NeedsExactlyOneSlashBetweenNonEmptyParts) {
  EXPECT_TRUE(IsOwnerSlashName("octo/repo"));
  EXPECT_FALSE(IsOwnerSlashName("octo"));
  EXPECT_FALSE(IsOwnerSlashName("/repo"));
  EXPECT_FALSE(IsOwnerSlashName("octo/"));
  EXPECT_FALSE(IsOwnerSlashName("octo/repo/x"));
  EXPECT_FALSE(IsOwnerSlashName(""));
}

}  // namespace
}  // namespace relayq
