#include "store/body_codec.h"

#include <gtest/gtest.h>

namespace relayq::store {
namespace {

TEST(BodyCodecTest, RoundTripsAndShrinksJson) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += R"({"url":"https://api.github.com/repos/o/r/hooks"},)";
  EncodedBody e = EncodeBody(body);
  EXPECT_EQ(e.codec, "zstd");
  EXPECT_LT(e.bytes.size(), body.size() / 4);
  EXPECT_EQ(*DecodeBody(e.codec, e.bytes), body);
}

TEST(BodyCodecTest, SmallBodiesStayAsTheyAre) {
  EncodedBody e = EncodeBody("{}");
  EXPECT_EQ(e.codec, "identity");
  EXPECT_EQ(*DecodeBody(e.codec, e.bytes), "{}");
}

TEST(BodyCodecTest, CorruptBytesAreAnErrorNotACrash) {
  EXPECT_EQ(DecodeBody("zstd", "not zstd").status().code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeBody("brotli", "x").status().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace relayq::store
