#include "github/http_util.h"

#include <gtest/gtest.h>

#include "github/app_jwt.h"

namespace relayq::github {
namespace {

TEST(ParseBaseUrlTest, AcceptsPublicAndEnterpriseForms) {
  struct Case {
    const char* url;
    const char* scheme;
    const char* host;
    int port;
    const char* prefix;
  } cases[] = {
      {"https://api.github.com", "https", "api.github.com", 443, ""},
      {"https://api.github.com/", "https", "api.github.com", 443, ""},
      {"https://ghe.example.com/api/v3", "https", "ghe.example.com", 443, "/api/v3"},
      {"https://ghe.example.com:8443/api/v3/", "https", "ghe.example.com", 8443, "/api/v3"},
      {"http://127.0.0.1:34567", "http", "127.0.0.1", 34567, ""},
  };
  for (const Case& c : cases) {
    auto parsed = ParseBaseUrl(c.url);
    ASSERT_TRUE(parsed.ok()) << c.url << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->scheme, c.scheme) << c.url;
    EXPECT_EQ(parsed->host, c.host) << c.url;
    EXPECT_EQ(parsed->port, c.port) << c.url;
    EXPECT_EQ(parsed->path_prefix, c.prefix) << c.url;
  }
}

TEST(ParseBaseUrlTest, RejectsMalformedUrls) {
  for (const char* url : {"api.github.com", "ftp://x", "https://", "https://h:0", "https://h:99999",
                          "https://h:12ab", "https://user@h", "https://h/x?y=1", ""}) {
    auto parsed = ParseBaseUrl(url);
    EXPECT_FALSE(parsed.ok()) << url;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
    }
  }
}

TEST(PercentEncodeTest, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(PercentEncode("transcribe_mac.yml"), "transcribe_mac.yml");
  EXPECT_EQ(PercentEncode("a b/c?d&e=%"), "a%20b%2Fc%3Fd%26e%3D%25");
  EXPECT_EQ(PercentDecode(PercentEncode("a b/c?d&e=%~")), "a b/c?d&e=%~");
  EXPECT_EQ(PercentDecode("bad%zzend%4"), "bad%zzend%4");
}

TEST(SplitRepoTest, RequiresOwnerSlashName) {
  auto ok = SplitRepo("octo/kit");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "octo");
  EXPECT_EQ(ok->second, "kit");
  for (const char* bad : {"octo", "/kit", "octo/", "a/b/c", ""}) {
    EXPECT_FALSE(SplitRepo(bad).ok()) << bad;
  }
}

TEST(NextLinkTest, FindsNextAmongOtherRelations) {
  EXPECT_EQ(
      NextLink(
          R"(<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last")"),
      "https://api.github.com/x?page=2");
  EXPECT_EQ(NextLink(R"(<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next")"),
            "https://a/x?page=3");
  EXPECT_FALSE(NextLink(R"(<https://a/x?page=1>; rel="prev")").has_value());
  EXPECT_FALSE(NextLink("").has_value());
}

TEST(QueryParamTest, DecodesTheNamedParameter) {
  EXPECT_EQ(QueryParam("https://a/x?per_page=2&cursor=v1%3A2", "cursor"), "v1:2");
  EXPECT_EQ(QueryParam("/x?cursor=", "cursor"), "");
  EXPECT_FALSE(QueryParam("/x?per_page=2", "cursor").has_value());
  EXPECT_FALSE(QueryParam("/x", "cursor").has_value());
  EXPECT_EQ(PathAndQuery("https://h:1/api/v3/x?a=1"), "/api/v3/x?a=1");
  EXPECT_EQ(PathAndQuery("/x?a=1"), "/x?a=1");
}

TEST(RetryAfterTest, AcceptsDeltaSecondsOnly) {
  EXPECT_EQ(ParseRetryAfter("7"), std::chrono::seconds(7));
  EXPECT_EQ(ParseRetryAfter(" 0 "), std::chrono::seconds(0));
  EXPECT_FALSE(ParseRetryAfter("-1").has_value());
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  EXPECT_FALSE(ParseRetryAfter("").has_value());
}

TEST(Base64UrlTest, HasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(AppJwtTest, RejectsKeysThatAreNotRsaPem) {
  Status s =
      ValidateAppPrivateKey("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().find("not a key"), std::string::npos);
  EXPECT_FALSE(MakeAppJwt("1", "garbage", WallTime()).ok());
}

}  // namespace
}  // namespace relayq::github
