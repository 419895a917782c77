// Unit tests of POST /api/v1/dispatch's request validation
// (server/dispatch_api.h): what is accepted, how it is normalised, and the
// reason given for each refusal. The route itself is tested whole-process
// (tests/integration/dispatch_api_test.cc).
#include "server/dispatch_api.h"

#include <gtest/gtest.h>

#include <string>

namespace relayq::server {
namespace {

TEST(WorkflowFileNameTest, BareNamesGetYmlAndPathsTheirFileName) {
  EXPECT_EQ(WorkflowFileName("transcribe_mac"), "transcribe_mac.yml");
  EXPECT_EQ(WorkflowFileName("transcribe_mac.yml"), "transcribe_mac.yml");
  EXPECT_EQ(WorkflowFileName("build.yaml"), "build.yaml");
  EXPECT_EQ(WorkflowFileName(".github/workflows/transcribe_rpi.yml"), "transcribe_rpi.yml");
  EXPECT_EQ(WorkflowFileName("161335"), "161335");  // a workflow id
  EXPECT_EQ(WorkflowFileName(""), "");
}

TEST(ParseDispatchSubmissionTest, AcceptsTheDocumentedShapeAndTurnsScalarsIntoStrings) {
  auto s = ParseDispatchSubmission(
      R"({"repo":"octo/kit","workflow":"transcribe_mac","ref":"dev",
          "inputs":{"url":"https://e/a.mp3","size_mb":340,"hq":true,"ratio":0.5}})",
      {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->repository, "octo/kit");
  EXPECT_EQ(s->workflow, "transcribe_mac.yml");
  EXPECT_EQ(s->ref, "dev");
  EXPECT_EQ(s->inputs.at("url"), "https://e/a.mp3");
  EXPECT_EQ(s->inputs.at("size_mb"), "340");
  EXPECT_EQ(s->inputs.at("hq"), "true");
  EXPECT_EQ(s->inputs.at("ratio"), "0.5");
}

TEST(ParseDispatchSubmissionTest, RefAndInputsAreOptional) {
  auto s = ParseDispatchSubmission(R"({"repo":"octo/kit","workflow":"a.yml","ref":null})", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ref, "");  // the default branch
  EXPECT_TRUE(s->inputs.empty());
}

TEST(ParseDispatchSubmissionTest, RefusesWithAReasonForEachMistake) {
  std::string inputs25, inputs26;
  for (int i = 0; i < 26; ++i) {
    std::string item = (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
    if (i < 25) inputs25 += item;
    inputs26 += item;
  }
  ASSERT_TRUE(ParseDispatchSubmission(
                  R"({"repo":"o/r","workflow":"a.yml","inputs":{)" + inputs25 + "}}", {})
                  .ok());
  const struct {
    std::string body;
    std::string reason;
  } cases[] = {
      {"", "not JSON"},
      {"{\"repo\":", "not JSON"},
      {"\"o/r\"", "JSON object"},
      {R"({"workflow":"a.yml"})", "missing field 'repo'"},
      {R"({"repo":"o/r"})", "missing field 'workflow'"},
      {R"({"repo":"o/r","workflow":"a.yml","extra":1})", "unknown field 'extra'"},
      {R"({"repo":"o/r","workflow":["a.yml"]})", "'workflow' must be a string"},
      {R"({"repo":"o","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"o/r/x","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"o/r;rm","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"o/..","workflow":"a.yml"})", "not OWNER/NAME"},
      {R"({"repo":"o/r","workflow":"a b.yml"})", "not a workflow file name"},
      {R"({"repo":"o/r","workflow":"a.yml","ref":"a b"})", "not a branch or tag"},
      {R"({"repo":"o/r","workflow":"a.yml","ref":5})", "'ref' must be a string"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":"x=1"})", "inputs must be an object"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":{"a":null}})", "not null"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":{"a":[1]}})", "not array"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":{"":"x"}})", "1 to 100 characters"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":{"relayq_id":"1"}})", "reserved"},
      {R"({"repo":"o/r","workflow":"a.yml","inputs":{)" + inputs26 + "}}", "at most 25"},
  };
  for (const auto& c : cases) {
    auto s = ParseDispatchSubmission(c.body, {});
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument) << c.body;
    EXPECT_NE(s.status().message().find(c.reason), std::string::npos)
        << c.body << " -> " << s.status().message();
  }
}

TEST(CheckDispatchRepositoryTest, HonoursWebhookAllowAndGitHubRepositories) {
  DispatchRules rules;
  rules.allow = {"octo/kit", "alice"};
  EXPECT_TRUE(CheckDispatchRepository("octo/kit", rules).ok());
  EXPECT_TRUE(CheckDispatchRepository("OCTO/Kit", rules).ok());  // GitHub names ignore case
  EXPECT_TRUE(CheckDispatchRepository("alice/anything", rules).ok());
  auto refused = CheckDispatchRepository("octo/other", rules);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("webhook.allow"), std::string::npos);

  DispatchRules repos;
  repos.repositories = {"octo/kit"};
  EXPECT_TRUE(CheckDispatchRepository("octo/kit", repos).ok());
  refused = CheckDispatchRepository("alice/x", repos);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("github.repositories"), std::string::npos);
}

}  // namespace
}  // namespace relayq::server
