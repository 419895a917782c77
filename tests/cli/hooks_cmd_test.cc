// hooks install's diffing, and the shared table/runner formatting.
#include "cli/hooks_cmd.h"

#include <gtest/gtest.h>

#include "cli/github_commands.h"
#include "cli/runners_cmd.h"

namespace relayq::cli {
namespace {

github::Hook AsInstalled() {
  github::Hook h;
  h.id = 1;
  h.url = "https://relayq.example/webhook";
  h.events = {"workflow_run", "workflow_job"};  // GitHub's order need not be ours
  h.content_type = "json";
  h.active = true;
  h.has_secret = true;
  return h;
}

TEST(HookDifferencesTest, SameHookInAnyEventOrderIsUnchanged) {
  auto spec = RelayqHookSpec("https://relayq.example/webhook", "s3cret");
  EXPECT_TRUE(HookDifferences(AsInstalled(), spec).empty());
}

TEST(HookDifferencesTest, NamesEachDifference) {
  auto spec = RelayqHookSpec("https://relayq.example/webhook", "s3cret");
  struct Case {
    const char* name;
    void (*mutate)(github::Hook&);
    std::vector<std::string> want;
  } cases[] = {
      {"extra event", [](github::Hook& h) { h.events.push_back("push"); }, {"events"}},
      {"missing event", [](github::Hook& h) { h.events = {"workflow_job"}; }, {"events"}},
      {"form", [](github::Hook& h) { h.content_type = "form"; }, {"content_type"}},
      {"inactive", [](github::Hook& h) { h.active = false; }, {"active"}},
      {"no secret", [](github::Hook& h) { h.has_secret = false; }, {"secret"}},
      {"all",
       [](github::Hook& h) {
         h.events = {};
         h.content_type = "form";
         h.active = false;
         h.has_secret = false;
       },
       {"events", "content_type", "active", "secret"}},
  };
  for (const auto& c : cases) {
    github::Hook h = AsInstalled();
    c.mutate(h);
    EXPECT_EQ(HookDifferences(h, spec), c.want) << c.name;
  }
}

TEST(RelayqHookSpecTest, SubscribesToWorkflowEventsAsJson) {
  auto spec = RelayqHookSpec("https://x/webhook", "s");
  EXPECT_EQ(spec.events, (std::vector<std::string>{"workflow_job", "workflow_run"}));
  EXPECT_EQ(spec.content_type, "json");
  EXPECT_TRUE(spec.active);
}

TEST(ValidateRepositoryTest, OwnerSlashName) {
  EXPECT_TRUE(ValidateRepository("octo/kit").ok());
  for (const char* bad : {"", "octo", "/kit", "octo/", "a/b/c"}) {
    EXPECT_FALSE(ValidateRepository(bad).ok()) << bad;
  }
}

TEST(FormatTableTest, PadsColumnsWithoutTrailingSpace) {
  std::string t = FormatTable({"A", "BB"}, {{"xxx", "y"}, {"z", ""}});
  EXPECT_EQ(t, "A    BB\nxxx  y\nz    \n");
}

TEST(FormatRunnersTest, TableAndJson) {
  github::Runner r;
  r.id = 3;
  r.name = "mini";
  r.os = "macOS";
  r.status = "online";
  r.busy = true;
  r.labels = {"self-hosted", "macmini"};
  std::string table = FormatRunners({r}, false);
  EXPECT_NE(table.find("mini"), std::string::npos);
  EXPECT_NE(table.find("self-hosted,macmini"), std::string::npos);
  std::string json = FormatRunners({r}, true);
  EXPECT_NE(json.find("\"online\": true"), std::string::npos);
  EXPECT_NE(json.find("\"busy\": true"), std::string::npos);
}

}  // namespace
}  // namespace relayq::cli
