#include "store/body_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

std::vector<std::string> SimilarBodies(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string body = R"({"action":"queued","workflow_job":{"id":)" +
                       std::to_string(1000 + i * 7) +
                       R"(,"labels":["self-hosted","rpi4"]},"repository":{)";
    for (const char* k : {"hooks", "issues", "pulls", "branches", "tags", "releases"}) {
      body += R"("url_)" + std::string(k) +
              R"(":"https://api.github.com/repos/octo-org/media-kit/)" + k + R"(",)";
    }
    body += R"("n":)" + std::to_string(i * 31 % 97) + "}}";
    out.push_back(body);
  }
  return out;
}

TEST(BodyCodecTest, DictionaryShrinksSimilarBodiesAndIsNeededToDecodeThem) {
  auto bytes = TrainDictionary(SimilarBodies(200), 16 * 1024);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto dictionary = BodyDictionary::FromBytes(*bytes);
  ASSERT_TRUE(dictionary.ok()) << dictionary.status().ToString();
  const std::string body = SimilarBodies(201).back();
  EncodedBody plain = EncodeBody(body);
  EncodedBody with = EncodeBody(body, dictionary->get());
  EXPECT_EQ(with.codec, "zstd");
  EXPECT_LT(with.bytes.size() * 2, plain.bytes.size());
  EXPECT_EQ(DictionaryIdOf(with.codec, with.bytes), (*dictionary)->id());
  EXPECT_EQ(DictionaryIdOf(plain.codec, plain.bytes), 0u);

  const BodyDictionary* known = dictionary->get();
  auto lookup = [known](uint32_t id) { return id == known->id() ? known : nullptr; };
  EXPECT_EQ(*DecodeBody(with.codec, with.bytes, lookup), body);
  EXPECT_EQ(*DecodeBody(plain.codec, plain.bytes, lookup), body);
  auto missing = DecodeBody(with.codec, with.bytes);
  EXPECT_EQ(missing.status().code(), Status::Code::kCorruption);
  EXPECT_NE(missing.status().message().find(std::to_string(known->id())), std::string::npos);
}

TEST(BodyCodecTest, NotADictionaryIsRefused) {
  EXPECT_FALSE(BodyDictionary::FromBytes("plain text, not a dictionary").ok());
  EXPECT_FALSE(TrainDictionary({"a", "b"}, 16 * 1024).ok());
}

}  // namespace
}  // namespace relayq::store
