#include "handlers/signature.h"

#include <gtest/gtest.h>

namespace relayq::handlers {
namespace {

// GitHub's published test vector ("Validating webhook deliveries").
constexpr char kGitHubSecret[] = "It's a Secret to Everybody";
constexpr char kGitHubPayload[] = "Hello, World!";
constexpr char kGitHubSignature[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

TEST(SignatureTest, MatchesGitHubPublishedVector) {
  EXPECT_EQ(SignBody(kGitHubPayload, kGitHubSecret), kGitHubSignature);
  EXPECT_TRUE(VerifySignature(kGitHubPayload, kGitHubSignature, {kGitHubSecret}).ok());
}

TEST(SignatureTest, AnyConfiguredSecretVerifies) {
  std::string sig = SignBody("body", "new-secret");
  EXPECT_TRUE(VerifySignature("body", sig, {"old-secret", "new-secret"}).ok());
  EXPECT_FALSE(VerifySignature("body", sig, {"old-secret"}).ok());
}

TEST(SignatureTest, NoSecretsVerifiesNothing) {
  EXPECT_FALSE(VerifySignature("body", SignBody("body", ""), {}).ok());
}

TEST(SignatureTest, RejectsBadHeaders) {
  const std::string good = SignBody("body", "s");
  struct Case {
    const char* name;
    std::string header;
  } cases[] = {
      {"empty", ""},
      {"sha1 scheme", "sha1=" + good.substr(7, 40)},
      {"no prefix", good.substr(7)},
      {"short", good.substr(0, good.size() - 2)},
      {"long", good + "00"},
      {"not hex", "sha256=" + std::string(64, 'z')},
      {"other body", SignBody("body2", "s")},
      {"flipped last digit", good.substr(0, good.size() - 1) + (good.back() == '0' ? "1" : "0")},
  };
  for (const auto& c : cases) {
    Status s = VerifySignature("body", c.header, {"s"});
    EXPECT_EQ(s.code(), Status::Code::kInvalidSignature) << c.name;
  }
}

TEST(SignatureTest, AcceptsUpperCaseHex) {
  std::string sig = SignBody("body", "s");
  for (size_t i = 7; i < sig.size(); ++i) sig[i] = static_cast<char>(std::toupper(sig[i]));
  EXPECT_TRUE(VerifySignature("body", sig, {"s"}).ok());
}

TEST(SignatureTest, ErrorsNeverContainTheSecret) {
  const std::string secret = "super-secret-value";
  for (const std::string& header :
       {std::string(""), std::string("sha256=abc"), SignBody("x", "other")}) {
    Status s = VerifySignature("body", header, {secret});
    EXPECT_EQ(s.message().find(secret), std::string::npos);
  }
}

}  // namespace
}  // namespace relayq::handlers
