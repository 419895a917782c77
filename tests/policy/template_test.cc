#include "policy/template.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace relayq::policy {
namespace {

class TemplateTest : public ::testing::Test {
 protected:
  TemplateTest() {
    ctx_.inputs = &inputs_;
    ctx_.run_id = 9876543210;
    ctx_.run_attempt = 2;
    ctx_.run_html_url = "https://github.com/me/media/actions/runs/9876543210";
    ctx_.run_head_branch = "main";
    ctx_.run_head_sha = "abc123";
    ctx_.run_conclusion = "success";
    ctx_.run_display_title = "Transcribe episode 12";
    ctx_.repository = "me/media";
  }

  std::string MustRender(const std::string& text) {
    auto t = Template::Parse(text);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return "";
    auto r = t->Render(ctx_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }

  std::map<std::string, std::string> inputs_ = {
      {"url", "https://example.com/episode.mp3"}, {"backend", "local"}, {"empty", ""}};
  TemplateContext ctx_;
};

TEST_F(TemplateTest, RendersEveryVariable) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"{{ inputs.url }}", "https://example.com/episode.mp3"},
      {"{{ run.id }}", "9876543210"},
      {"{{ run.attempt }}", "2"},
      {"{{ run.html_url }}", "https://github.com/me/media/actions/runs/9876543210"},
      {"{{ run.head_branch }}", "main"},
      {"{{ run.head_sha }}", "abc123"},
      {"{{ run.conclusion }}", "success"},
      {"{{ run.display_title }}", "Transcribe episode 12"},
      {"{{ repository }}", "me/media"},
  };
  for (const Case& c : cases) EXPECT_EQ(MustRender(c.text), c.want) << c.text;
}

TEST_F(TemplateTest, WhitespaceInsideBracesIsOptional) {
  EXPECT_EQ(MustRender("{{run.id}}"), "9876543210");
  EXPECT_EQ(MustRender("{{   run.id\t}}"), "9876543210");
  EXPECT_EQ(MustRender("{{inputs.backend }}"), "local");
}

TEST_F(TemplateTest, MixesLiteralTextAndPlaceholders) {
  EXPECT_EQ(MustRender("run {{ run.id }}#{{run.attempt}} of {{ repository }}."),
            "run 9876543210#2 of me/media.");
  EXPECT_EQ(MustRender("plain text"), "plain text");
  EXPECT_EQ(MustRender(""), "");
  EXPECT_EQ(MustRender("a }} b { c"), "a }} b { c");
}

TEST_F(TemplateTest, PresentButEmptyInputRendersEmpty) {
  EXPECT_EQ(MustRender("[{{ inputs.empty }}]"), "[]");
}

TEST_F(TemplateTest, MissingInputIsAnErrorNotEmptyText) {
  auto t = Template::Parse("{{ inputs.model }}");
  ASSERT_TRUE(t.ok());
  auto r = t->Render(ctx_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("no input 'model'"), std::string::npos);
}

TEST_F(TemplateTest, UnknownInputsAreAnError) {
  ctx_.inputs = nullptr;
  auto t = Template::Parse("{{ inputs.url }}");
  ASSERT_TRUE(t.ok());
  auto r = t->Render(ctx_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("not submitted through relayq dispatch"), std::string::npos);
  // Templates that do not read inputs still render.
  EXPECT_EQ(MustRender("{{ run.id }}"), "9876543210");
}

TEST_F(TemplateTest, ReportsVariablesAndWhetherInputsAreRead) {
  auto t = Template::Parse("{{ inputs.url }} {{ run.id }} {{repository}}");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->references_inputs());
  EXPECT_EQ(t->variables(), (std::vector<std::string>{"inputs.url", "run.id", "repository"}));
  auto plain = Template::Parse("x {{ run.id }}");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->references_inputs());
}

TEST_F(TemplateTest, LiteralIgnoresBraces) {
  Template t = Template::Literal("{{ not a variable }}");
  auto r = t.Render(ctx_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{{ not a variable }}");
}

struct BadTemplate {
  const char* text;
  size_t offset;
  const char* message;
  const char* hint;
};

void PrintTo(const BadTemplate& c, std::ostream* os) { *os << c.text; }

class TemplateParseErrorTest : public ::testing::TestWithParam<BadTemplate> {};

TEST_P(TemplateParseErrorTest, PointsAtTheProblem) {
  const BadTemplate& c = GetParam();
  TemplateError err;
  auto t = Template::Parse(c.text, &err);
  ASSERT_FALSE(t.ok()) << c.text;
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(err.offset, c.offset) << c.text;
  EXPECT_NE(err.message.find(c.message), std::string::npos) << err.message;
  EXPECT_NE(err.hint.find(c.hint), std::string::npos) << err.hint;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TemplateParseErrorTest,
    ::testing::Values(
        BadTemplate{"{{ run.idd }}", 3, "unknown template variable 'run.idd'",
                    "did you mean 'run.id'?"},
        BadTemplate{"x {{input.url}}", 4, "unknown template variable 'input.url'",
                    "did you mean 'inputs.url'?"},
        BadTemplate{"{{ secrets.TOKEN }}", 3, "unknown template variable 'secrets.TOKEN'",
                    "known variables: inputs.NAME"},
        BadTemplate{"{{ inputs. }}", 3, "not a valid input reference", ""},
        BadTemplate{"{{ inputs.a b }}", 3, "not a valid input reference", ""},
        BadTemplate{"ok {{ run.id }} {{ run.id", 16, "unclosed '{{'", ""},
        BadTemplate{"{{ }}", 0, "empty template placeholder", ""},
        BadTemplate{"{{ inputs.url | default }}", 3, "not a valid input reference", ""}));

}  // namespace
}  // namespace relayq::policy
