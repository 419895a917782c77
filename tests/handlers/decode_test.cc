#include "handlers/decode.h"

#include <gtest/gtest.h>

#include "tests/fakes/github_payloads.h"

namespace relayq::handlers {
namespace {

using testing::JobSpec;
using testing::RunSpec;

TEST(ContentTypeTest, ClassifiesWhatGitHubSends) {
  EXPECT_EQ(ClassifyContentType("application/json"), BodyType::kJson);
  EXPECT_EQ(ClassifyContentType("application/json; charset=utf-8"), BodyType::kJson);
  EXPECT_EQ(ClassifyContentType("Application/JSON"), BodyType::kJson);
  EXPECT_EQ(ClassifyContentType("application/x-www-form-urlencoded"), BodyType::kForm);
  EXPECT_EQ(ClassifyContentType("text/plain"), BodyType::kUnsupported);
  EXPECT_EQ(ClassifyContentType(""), BodyType::kUnsupported);
  EXPECT_EQ(ClassifyContentType("multipart/form-data"), BodyType::kUnsupported);
}

TEST(FormTest, ExtractsPayloadField) {
  auto json = ExtractJson(BodyType::kForm, "other=1&payload=%7B%22a%22%3A+1%7D&x=2");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "{\"a\": 1}");
}

TEST(FormTest, EncodeRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  all += " {\"a\": \"b&c=d+e\"}";
  std::string encoded = FormUrlEncode(all);
  EXPECT_EQ(encoded.find_first_of("&= {}\""), std::string::npos);
  EXPECT_EQ(*FormUrlDecode(encoded), all);
}

TEST(FormTest, RejectsMissingPayloadAndBadEscapes) {
  EXPECT_FALSE(ExtractJson(BodyType::kForm, "foo=bar").ok());
  EXPECT_FALSE(ExtractJson(BodyType::kForm, "payload=%7").ok());
  EXPECT_FALSE(ExtractJson(BodyType::kForm, "payload=%zz").ok());
}

TEST(DecodeTest, RejectsNonJson) {
  EXPECT_FALSE(DecodePayload("workflow_job", "{not json").ok());
  EXPECT_FALSE(DecodePayload("workflow_job", "[1,2]").ok());
  EXPECT_FALSE(DecodePayload("workflow_job", "").ok());
}

TEST(DecodeTest, DecodesRealSizedWorkflowJob) {
  JobSpec spec;
  spec.action = "in_progress";
  spec.runner_name = "macmini-1";
  std::string body = testing::WorkflowJobPayload(spec);
  EXPECT_GE(body.size(), 7000u);
  EXPECT_LE(body.size(), 12500u);
  auto d = DecodePayload("workflow_job", body);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->problem.empty()) << d->problem;
  ASSERT_TRUE(d->job.has_value());
  EXPECT_EQ(d->repository, "octo-org/media-kit");
  EXPECT_EQ(d->owner, "octo-org");
  EXPECT_EQ(d->job->job_id, spec.job_id);
  EXPECT_EQ(d->job->run_id, spec.run_id);
  EXPECT_EQ(d->job->status, "in_progress");
  EXPECT_EQ(d->job->labels, spec.labels);
  EXPECT_EQ(d->job->runner_name, "macmini-1");
  EXPECT_EQ(d->job->runner_group, "Default");
  EXPECT_EQ(*d->job->created_at, 1767225600000);
  EXPECT_EQ(*d->job->started_at, 1767225630000);
  EXPECT_FALSE(d->job->completed_at.has_value());
}

TEST(DecodeTest, ToleratesNullsAndUnknownFields) {
  JobSpec spec;
  spec.null_labels = true;
  spec.extra_unknown_fields = true;
  auto d = DecodePayload("workflow_job", testing::WorkflowJobPayload(spec));
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->job.has_value());
  EXPECT_TRUE(d->job->labels.empty());
  EXPECT_FALSE(d->job->conclusion.has_value());
  EXPECT_FALSE(d->job->runner_name.has_value());
}

TEST(DecodeTest, DecodesRealSizedWorkflowRunWithoutDisplayTitle) {
  RunSpec spec;
  spec.action = "completed";
  spec.conclusion = "success";
  spec.display_title.reset();
  std::string body = testing::WorkflowRunPayload(spec);
  EXPECT_GE(body.size(), 15000u);
  EXPECT_LE(body.size(), 25000u);
  auto d = DecodePayload("workflow_run", body);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->run.has_value());
  EXPECT_EQ(d->run->run_id, spec.run_id);
  EXPECT_EQ(d->run->workflow_path, spec.path);
  EXPECT_EQ(d->run->status, "completed");
  EXPECT_EQ(d->run->conclusion, "success");
  EXPECT_FALSE(d->run->display_title.has_value());
}

TEST(DecodeTest, UnexpectedShapesAreReportedNotThrown) {
  struct Case {
    const char* event;
    const char* body;
  } cases[] = {
      {"workflow_job", R"({"action":"queued"})"},
      {"workflow_job",
       R"({"action":"queued","workflow_job":"nope","repository":{"full_name":"o/r"}})"},
      {"workflow_job",
       R"({"action":"queued","workflow_job":{"id":"7","run_id":1},"repository":{"full_name":"o/r"}})"},
      {"workflow_job", R"({"action":"queued","workflow_job":{"id":7,"run_id":1}})"},
      {"workflow_run",
       R"({"action":"completed","workflow_run":{"id":null},"repository":{"full_name":"o/r"}})"},
      {"workflow_run", R"({"action":"completed","workflow_run":[],"repository":7})"},
  };
  for (const auto& c : cases) {
    auto d = DecodePayload(c.event, c.body);
    ASSERT_TRUE(d.ok()) << c.body;
    EXPECT_FALSE(d->problem.empty()) << c.body;
    EXPECT_FALSE(d->job.has_value());
    EXPECT_FALSE(d->run.has_value());
  }
}

TEST(DecodeTest, OtherEventsDecodeWithoutRecords) {
  auto d = DecodePayload("push", R"({"ref":"refs/heads/main","repository":{"full_name":"o/r"}})");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->problem.empty());
  EXPECT_FALSE(d->job.has_value());
  EXPECT_EQ(d->repository, "o/r");
}

// DecodePayload parses with a SAX handler that keeps only the fields it
// reads; these pin that it still behaves exactly like a full DOM parse.
TEST(DecodeTest, RejectsInvalidJsonEvenInFieldsNotRead) {
  const char* cases[] = {
      R"({"action":"queued","sender":{"login":"x"}} trailing)",
      R"({"action":"queued","sender":{"login":"x"})",
      "{\"action\":\"queued\",\"sender\":{\"login\":\"\xff\xfe\"}}",  // invalid UTF-8
      R"({"action":"queued","sender":{"login":"x",}})",
      R"({"action":"queued", /* comment */ "sender":1})",
      R"({"action":"queued","sender":[1,2,]})",
      R"({"action":"queued","sender":01})",
      R"({"action":"queued","sender":"\u12"})",
  };
  for (const char* body : cases) {
    auto d = DecodePayload("workflow_job", body);
    ASSERT_FALSE(d.ok()) << body;
    EXPECT_EQ(d.status().message(), "body is not valid JSON") << body;
  }
  EXPECT_EQ(DecodePayload("ping", R"("just a string")").status().message(),
            "body is not a JSON object");
  EXPECT_EQ(DecodePayload("ping", "7").status().message(), "body is not a JSON object");
}

TEST(DecodeTest, DuplicateKeysLastOneWins) {
  auto d = DecodePayload("workflow_job",
                         R"({"action":"queued","action":"completed",
          "repository":{"full_name":"a/b"},"repository":{"full_name":"o/r","full_name":"o/s"},
          "workflow_job":{"id":1,"run_id":2,"id":3,"labels":["x"],"labels":["y","z"]}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->action, "completed");
  EXPECT_EQ(d->repository, "o/s");
  ASSERT_TRUE(d->job.has_value());
  EXPECT_EQ(d->job->job_id, 3);
  EXPECT_EQ(d->job->labels, (std::vector<std::string>{"y", "z"}));

  auto nulled = DecodePayload("workflow_job",
                              R"({"repository":{"full_name":"o/r"},"repository":null,
                                  "workflow_job":{"id":1,"run_id":2}})");
  ASSERT_TRUE(nulled.ok());
  EXPECT_EQ(nulled->repository, "");
  EXPECT_FALSE(nulled->problem.empty());
}

TEST(DecodeTest, OddShapesOnReadPathsReadAsAbsent) {
  auto d = DecodePayload("workflow_job",
                         R"({"action":{"nested":"queued"},
          "repository":{"full_name":"o/r","owner":"not-an-object"},
          "workflow_job":{"id":1,"run_id":2,"run_attempt":2.5,"name":["n"],
                          "labels":[1,"a",{"x":"b"},["c"],null,"d"],
                          "status":{"s":1},"conclusion":7,"runner_name":"r",
                          "created_at":"not a time","started_at":"2026-01-01T00:00:30Z"}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->action, "");
  EXPECT_EQ(d->owner, "o");
  ASSERT_TRUE(d->job.has_value());
  EXPECT_EQ(d->job->run_attempt, 1);
  EXPECT_EQ(d->job->name, "");
  EXPECT_EQ(d->job->labels, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(d->job->status, "");  // the action, which is absent too
  EXPECT_FALSE(d->job->conclusion.has_value());
  EXPECT_EQ(d->job->runner_name, "r");
  EXPECT_FALSE(d->job->created_at.has_value());
  EXPECT_EQ(*d->job->started_at, 1767225630000);

  auto org = DecodePayload("push", R"({"organization":{"login":"acme","id":1},"deep":
      {"a":[{"b":[{"c":{"d":[1,2,{"e":"f"}]}}]}]}})");
  ASSERT_TRUE(org.ok());
  EXPECT_EQ(org->owner, "acme");
  EXPECT_EQ(org->repository, "");
}

}  // namespace
}  // namespace relayq::handlers
