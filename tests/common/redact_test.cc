#include "common/redact.h"

#include <gtest/gtest.h>

namespace relayq {
namespace {

struct Case {
  const char* in;
  const char* want;
};

TEST(RedactTest, UrlKeepsSchemeHostPathOnly) {
  const Case cases[] = {
      {"https://cdn.example.com/a.mp3?X-Amz-Signature=abc&e=1", "https://cdn.example.com/a.mp3"},
      {"https://u:p@cdn.example.com:8443/x/a.mp3#t=3", "https://cdn.example.com:8443/x/a.mp3"},
      {"http://host?q=1", "http://host"},
      {"https://host/path/with@at?q", "https://host/path/with@at"},
      {"https://example.com/episode.mp3", "https://example.com/episode.mp3"},
      {"not a url?q=1", "not a url"},
  };
  for (const Case& c : cases) EXPECT_EQ(RedactUrl(c.in), c.want) << c.in;
}

TEST(RedactTest, UrlsInFreeTextAreRedactedInPlace) {
  const Case cases[] = {
      {"transcribe https://cdn.example.com/a.mp3?sig=SECRET [relayq:7]",
       "transcribe https://cdn.example.com/a.mp3 [relayq:7]"},
      {"a HTTPS://H/p?x=1 and http://u:pw@h2/q?y \"https://h3/z?k\"",
       "a HTTPS://H/p and http://h2/q \"https://h3/z\""},
      {"no urls here, httpd and http: alone", "no urls here, httpd and http: alone"},
      {"", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(RedactUrlsIn(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace relayq
