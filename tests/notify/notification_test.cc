// The formats a notification takes on the wire (JSON webhook, ntfy), the
// queued form, and target URLs.
#include "notify/notification.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace relayq::notify {
namespace {

Notification Sample() {
  Notification n;
  n.kind = EventKind::kActionFailed;
  n.key = "action:42";
  n.title = "relayq: fallback failed (octo/kit)";
  n.message = "Routing action 42 failed.\nLast error: GitHub answered 422";
  n.time_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  n.priority = "high";
  n.links = {{"run", "https://github.com/octo/kit/actions/runs/7"}};
  n.ids = {{"action_id", "42"}, {"repository", "octo/kit"}};
  return n;
}

std::string HeaderOf(const Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "(absent)";
}

TEST(NotificationTest, WebhookBodyCarriesKindTitleMessageTimeLinksAndIds) {
  Target t;
  t.name = "hook";
  t.url = "https://hooks.example/relayq?team=ops";
  Request r = BuildRequest(t, Sample());
  EXPECT_EQ(r.path, "/relayq?team=ops");
  EXPECT_EQ(r.content_type, "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["event"], "action_failed");
  EXPECT_EQ(j["title"], "relayq: fallback failed (octo/kit)");
  EXPECT_EQ(j["message"], "Routing action 42 failed.\nLast error: GitHub answered 422");
  EXPECT_EQ(j["time"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(j["priority"], "high");
  EXPECT_EQ(j["links"]["run"], "https://github.com/octo/kit/actions/runs/7");
  EXPECT_EQ(j["ids"]["action_id"], "42");
  EXPECT_EQ(j["key"], "action:42");
  EXPECT_EQ(HeaderOf(r, "Authorization"), "(absent)");
}

TEST(NotificationTest, NtfyUsesItsPublishHeadersAndTextBody) {
  Target t;
  t.name = "phone";
  t.format = TargetFormat::kNtfy;
  t.url = "https://ntfy.example/relayq-alerts";
  t.tags = {"robot"};
  t.token = "tk_secret";
  Request r = BuildRequest(t, Sample());
  EXPECT_EQ(r.path, "/relayq-alerts");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body,
            "Routing action 42 failed.\nLast error: GitHub answered 422\n"
            "run: https://github.com/octo/kit/actions/runs/7");
  EXPECT_EQ(HeaderOf(r, "Title"), "relayq: fallback failed (octo/kit)");
  EXPECT_EQ(HeaderOf(r, "Priority"), "high");
  EXPECT_EQ(HeaderOf(r, "Tags"), "action_failed,robot");
  EXPECT_EQ(HeaderOf(r, "Click"), "https://github.com/octo/kit/actions/runs/7");
  EXPECT_EQ(HeaderOf(r, "Authorization"), "Bearer tk_secret");
}

TEST(NotificationTest, EventTextCannotAddOrSplitHeaders) {
  Target t;
  t.format = TargetFormat::kNtfy;
  t.url = "http://ntfy.local/x";
  Notification n = Sample();
  n.title = "job\r\nX-Injected: yes \xc3\xa9";
  n.priority = "whatever";
  Request r = BuildRequest(t, n);
  EXPECT_EQ(HeaderOf(r, "Title"), "job  X-Injected: yes ??");
  EXPECT_EQ(HeaderOf(r, "Priority"), "default");
  EXPECT_EQ(HeaderOf(r, "X-Injected"), "(absent)");
}

TEST(NotificationTest, QueuedFormReadsBackTheSame) {
  Notification n = Sample();
  auto back = FromJson(ToJson(n));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, n.kind);
  EXPECT_EQ(back->key, n.key);
  EXPECT_EQ(back->title, n.title);
  EXPECT_EQ(back->message, n.message);
  EXPECT_EQ(back->time_ms, n.time_ms);
  EXPECT_EQ(back->priority, n.priority);
  EXPECT_EQ(back->links, n.links);
  EXPECT_EQ(back->ids, n.ids);
  EXPECT_FALSE(FromJson("[1]").ok());
  EXPECT_FALSE(FromJson(R"({"event":"no_such_kind"})").ok());
}

TEST(NotificationTest, UrlsAreCheckedWithoutRepeatingThem) {
  struct Case {
    const char* url;
    bool ok;
    const char* host;
    int port;
    const char* path;
  };
  const Case cases[] = {
      {"https://ntfy.sh/topic", true, "ntfy.sh", 443, "/topic"},
      {"http://127.0.0.1:8099", true, "127.0.0.1", 8099, "/"},
      {"http://[::1]:80/a?b=c", true, "::1", 80, "/a?b=c"},
      {"http://h?x=1", true, "h", 80, "/?x=1"},
      {"ftp://h/x", false, "", 0, ""},
      {"https://user:secret-topic@h/x", false, "", 0, ""},
      {"https://h/x#frag", false, "", 0, ""},
      {"https://h:99999/x", false, "", 0, ""},
      {"https:///x", false, "", 0, ""},
      {"https://h/a b", false, "", 0, ""},
  };
  for (const Case& c : cases) {
    auto u = ParseUrl(c.url);
    EXPECT_EQ(u.ok(), c.ok) << c.url;
    if (!u.ok()) {
      EXPECT_EQ(u.status().message().find("secret-topic"), std::string::npos);
      continue;
    }
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
    EXPECT_EQ(u->path, c.path) << c.url;
  }
}

TEST(NotificationTest, TargetsGetAllButAbortedByDefaultAndAlwaysTheTest) {
  Target t;
  EXPECT_TRUE(t.Wants(EventKind::kActionFailed));
  EXPECT_TRUE(t.Wants(EventKind::kStoreUnwritable));
  EXPECT_FALSE(t.Wants(EventKind::kActionAborted));
  t.events = {EventKind::kJobStuck};
  EXPECT_FALSE(t.Wants(EventKind::kActionFailed));
  EXPECT_TRUE(t.Wants(EventKind::kTest));
  for (EventKind k : AllEventKinds()) EXPECT_EQ(ParseEventKind(EventKindName(k)), k);
}

}  // namespace
}  // namespace relayq::notify
