// Whole-process tests of the listeners against clients without the secret:
// idle sockets, header tricklers, slow bodies, stalled TLS handshakes,
// endless lines, and requests one byte past each limit. Each runs the real
// relayq on loopback, with the deadlines shortened by configuration
// (header 2 s, request 3 s) so an attack outlives them within a CI budget,
// and asserts that a signed delivery sent meanwhile is answered 202 within
// 1 s, what the attacker got, that its connection was closed, and relayq's
// memory. Each backs a row of docs/SECURITY.md.
//
// Attack counts are past the limits they test: more idle connections than
// the old 64 threads (and than the admin listener's connection cap), lines
// one byte over 8 KiB, a body one byte over webhook.max_body. Every loop is
// bounded in count and time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "tests/fakes/github_payloads.h"
#include "tests/fakes/raw_client.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

// The answer time a signed delivery must meet (natively 1 s).
constexpr auto kPrompt = milliseconds(1000) * kSlowdown;
constexpr int kMaxRssKb = 256 * 1024;

// OpenMany, failing the test for any connection refused.
std::vector<Conn> Open(int port, int n) {
  std::vector<Conn> out = OpenMany(port, n);
  const auto refused = std::count_if(out.begin(), out.end(), [](const Conn& c) { return !c.ok(); });
  EXPECT_EQ(refused, 0) << "connections refused";
  return out;
}

std::string Header(const std::string& event, const std::string& id, const std::string& body) {
  return "X-GitHub-Event: " + event + "\r\nX-GitHub-Delivery: " + id +
         "\r\nX-Hub-Signature-256: " + handlers::SignBody(body, kSecret) + "\r\n";
}

class HostileClientsTest : public IntegrationTest {
 protected:
  void SetUp() override {
    // The attacks below open more sockets than a default soft limit allows.
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = std::min<rlim_t>(r.rlim_max, 8192);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }

  // `http_extra`: more keys of the http section; `extra_yaml`: other sections.
  void StartWith(const std::string& extra_yaml = "", const std::string& http_extra = "") {
    std::ofstream(dir_.File("relayq.yaml"))
        << "http:\n  header_timeout: 2s\n  request_timeout: 3s\n  keep_alive_timeout: 2s\n"
        << http_extra << extra_yaml;
    StartRelayq({"--config", dir_.File("relayq.yaml")});
  }

  // One signed delivery on a fresh connection, as GitHub sends it; asserts
  // the 202 and returns how long it took.
  milliseconds TimedDelivery(const std::string& id) {
    httplib::Client c("127.0.0.1", process_->public_port());
    c.set_connection_timeout(5 * kSlowdown, 0);
    c.set_read_timeout(5 * kSlowdown, 0);
    JobSpec spec;
    spec.job_id = 7000 + static_cast<int64_t>(++deliveries_);
    const std::string body = WorkflowJobPayload(spec);
    const auto t0 = SteadyClock::now();
    auto res = c.Post("/webhook", Headers("workflow_job", id, body), body, "application/json");
    const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0);
    EXPECT_TRUE(res && res->status == 202) << id << ": " << (res ? res->status : -1);
    EXPECT_LT(took, kPrompt) << id << " waited behind the attack";
    return took;
  }

  // /healthz and /readyz of the admin listener, each within the prompt.
  void AdminAnswersPromptly() {
    for (const char* path : {"/healthz", "/readyz"}) {
      httplib::Client c("127.0.0.1", process_->admin_port());
      c.set_connection_timeout(5 * kSlowdown, 0);
      c.set_read_timeout(5 * kSlowdown, 0);
      const auto t0 = SteadyClock::now();
      auto res = c.Get(path, {{"Authorization", std::string("Bearer ") + kAdminToken}});
      EXPECT_TRUE(res && res->status == 200) << path << ": " << (res ? res->status : -1);
      EXPECT_LT(SteadyClock::now() - t0, kPrompt) << path;
    }
  }

  void ExpectMemoryBounded() {
    const int rss = StatusKb(process_->pid(), "VmRSS");
    const int peak = StatusKb(process_->pid(), "VmHWM");
    RecordProperty("rss_kb", rss);
    RecordProperty("peak_rss_kb", peak);
    EXPECT_GT(rss, 0);
#ifndef RELAYQ_SANITIZED
    EXPECT_LT(peak, kMaxRssKb) << "peak RSS " << peak << " kB";
#endif
  }

  int CountRecorded(const std::string& like) {
    SqliteReader db(DbPath());
    return static_cast<int>(
        db.Count("SELECT count(*) FROM deliveries WHERE id LIKE '" + like + "'"));
  }

  int deliveries_ = 0;
};

TEST_F(HostileClientsTest, ThousandIdleConnectionsDoNotDelayADelivery) {
  StartWith();
  [[maybe_unused]] const int idle_rss = StatusKb(process_->pid(), "VmRSS");
  auto idle = Open(process_->public_port(), 1000);
  // The same flood at the admin port, four times its connection cap.
  auto admin_idle = Open(process_->admin_port(), 1000);
  // relayq has accepted them all: its descriptors show it.
  EXPECT_TRUE(WaitFor([&] { return OpenFds(process_->pid()) > 1000; }, seconds(5) * kSlowdown))
      << OpenFds(process_->pid());
  for (int i = 0; i < 3; ++i) TimedDelivery("idle-" + std::to_string(i));
  AdminAnswersPromptly();
  ExpectMemoryBounded();
  // Past the header deadline every idle connection has been closed by relayq.
  EXPECT_TRUE(WaitFor(
      [&] { return std::all_of(idle.begin(), idle.end(), [](Conn& c) { return c.PeerClosed(); }); },
      seconds(6) * kSlowdown));
  EXPECT_TRUE(WaitFor([&] { return OpenFds(process_->pid()) < 100; }, seconds(5) * kSlowdown))
      << OpenFds(process_->pid()) << " descriptors still open";
  // Memory goes back near where it was.
#ifndef RELAYQ_SANITIZED
  EXPECT_LT(StatusKb(process_->pid(), "VmRSS"), idle_rss + 32 * 1024);
#endif
  EXPECT_EQ(CountRecorded("idle-%"), 3);
}

TEST_F(HostileClientsTest, HeaderTricklersAreCutAtTheHeaderDeadline) {
  StartWith();
  auto slow = Open(process_->public_port(), 200);
  auto admin_slow = Open(process_->admin_port(), 200);
  const std::string drip =
      "POST /webhook HTTP/1.1\r\nHost: relayq\r\nX-GitHub-Event: workflow_job\r\n"
      "X-Slow: "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  std::atomic<bool> stop{false};
  std::atomic<int> closed_by_relayq{0};
  const auto start = SteadyClock::now();
  std::thread attacker([&] {
    // A byte per connection every 100 ms: each read is far inside any
    // per-read timeout; only a total header deadline ends it.
    std::vector<bool> closed(slow.size() + admin_slow.size(), false);
    for (size_t i = 0; i < drip.size() && !stop; ++i) {
      for (size_t c = 0; c < closed.size(); ++c) {
        Conn& conn = c < slow.size() ? slow[c] : admin_slow[c - slow.size()];
        if (!closed[c] && (!conn.Send(std::string_view(&drip[i], 1)) || conn.PeerClosed())) {
          closed[c] = true;
          closed_by_relayq.fetch_add(1);
        }
      }
      std::this_thread::sleep_for(milliseconds(100));  // the pacing is the attack
    }
  });
  std::this_thread::sleep_for(milliseconds(500));
  for (int i = 0; i < 3; ++i) {
    TimedDelivery("trickle-" + std::to_string(i));
    AdminAnswersPromptly();
  }
  // All 400 are closed by relayq once 2 s have passed, though each was still
  // sending (the drip is 14 s long).
  EXPECT_TRUE(WaitFor([&] { return closed_by_relayq.load() == 400; }, seconds(8) * kSlowdown))
      << closed_by_relayq.load();
  const auto ended = SteadyClock::now() - start;
  stop = true;
  attacker.join();
  EXPECT_LT(ended, seconds(6) * kSlowdown);
  ExpectMemoryBounded();
  EXPECT_EQ(CountRecorded("trickle-%"), 3);
}

TEST_F(HostileClientsTest, SlowBodiesAreCutAtTheRequestDeadline) {
  StartWith();
  auto slow = Open(process_->public_port(), 200);
  for (auto& c : slow) {
    ASSERT_TRUE(
        c.SendAll("POST /webhook HTTP/1.1\r\nHost: relayq\r\nContent-Type: application/json\r\n"
                  "X-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: slow\r\n"
                  "Content-Length: 1000000\r\n\r\n{"));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> closed_by_relayq{0};
  std::thread attacker([&] {
    std::vector<bool> closed(slow.size(), false);
    for (int round = 0; round < 100 && !stop; ++round) {
      for (size_t c = 0; c < slow.size(); ++c) {
        if (!closed[c] && (!slow[c].Send("\"a\":1,") || slow[c].PeerClosed())) {
          closed[c] = true;
          closed_by_relayq.fetch_add(1);
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  for (int i = 0; i < 3; ++i) TimedDelivery("slowbody-" + std::to_string(i));
  AdminAnswersPromptly();
  EXPECT_TRUE(WaitFor([&] { return closed_by_relayq.load() == 200; }, seconds(8) * kSlowdown))
      << closed_by_relayq.load();
  stop = true;
  attacker.join();
  ExpectMemoryBounded();
  EXPECT_EQ(CountRecorded("slowbody-%"), 3);
  EXPECT_EQ(CountRecorded("slow"), 0);
}

TEST_F(HostileClientsTest, EndlessHeaderLineGets431AndEndlessRequestLine414) {
  StartWith();
  struct Case {
    std::string start;
    std::string expect;
  };
  for (const Case& c : {Case{"POST /webhook HTTP/1.1\r\nX-Endless: ", "HTTP/1.1 431"},
                        Case{"GET /", "HTTP/1.1 414"}}) {
    Conn conn(process_->public_port());
    ASSERT_TRUE(conn.SendAll(c.start));
    // Keep sending until relayq stops taking bytes; at most 64 MB.
    std::thread writer([&] {
      const std::string chunk(64 << 10, 'a');
      for (int i = 0; i < 1024 && conn.SendAll(chunk); ++i) {
      }
    });
    bool closed = false;
    std::string answer = conn.ReadUntilClosed(seconds(5) * kSlowdown, &closed);
    writer.join();
    EXPECT_EQ(answer.substr(0, c.expect.size()), c.expect) << answer.substr(0, 80);
    EXPECT_TRUE(closed);
  }
  TimedDelivery("after-endless");
  ExpectMemoryBounded();
}

// Each limit, at the limit (accepted) and one past it (refused, connection
// closed, nothing recorded).
TEST_F(HostileClientsTest, EveryLimitHoldsAtItsEdgeAndOneByteOver) {
  StartWith("webhook:\n  max_body: 64KiB\n");
  JobSpec spec;
  spec.job_id = 99;
  std::string body = WorkflowJobPayload(spec);
  auto request = [&](const std::string& id, const std::string& extra_headers,
                     const std::string& b) {
    return "POST /webhook HTTP/1.1\r\nHost: relayq\r\nContent-Type: application/json\r\n" +
           Header("workflow_job", id, b) + extra_headers +
           "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
  };
  auto send = [&](const std::string& raw, bool* closed) {
    Conn conn(process_->public_port());
    EXPECT_TRUE(conn.SendAll(raw));
    std::string answer = conn.ReadUntilClosed(milliseconds(1500) * kSlowdown, closed);
    return answer.substr(0, 12);
  };
  bool closed = false;
  // A header line of exactly 8 KiB (name, ": ", value) is taken; one more byte is 431.
  const std::string name = "X-Pad";
  const size_t value_at_limit = 8192 - name.size() - 2;
  EXPECT_EQ(
      send(request("edge-line", name + ": " + std::string(value_at_limit, 'v') + "\r\n", body),
           &closed),
      "HTTP/1.1 202");
  EXPECT_EQ(
      send(request("over-line", name + ": " + std::string(value_at_limit + 1, 'v') + "\r\n", body),
           &closed),
      "HTTP/1.1 431");
  EXPECT_TRUE(closed);
  // 100 header fields in all are taken; 101 are 431.
  auto fields = [](int n) {
    std::string h;
    for (int i = 0; i < n; ++i) h += "X-F" + std::to_string(i) + ": 1\r\n";
    return h;
  };
  const int base_fields = 6;  // Host, Content-Type, the three GitHub headers, Content-Length
  EXPECT_EQ(send(request("edge-fields", fields(100 - base_fields), body), &closed), "HTTP/1.1 202");
  EXPECT_EQ(send(request("over-fields", fields(101 - base_fields), body), &closed), "HTTP/1.1 431");
  EXPECT_TRUE(closed);
  // A request target of 8 KiB is taken (and 404s); one more byte is 414.
  const std::string tail = " HTTP/1.1\r\nHost: relayq\r\n\r\n";
  EXPECT_EQ(send("GET /" + std::string(8191, 'p') + tail, &closed), "HTTP/1.1 404");
  EXPECT_EQ(send("GET /" + std::string(8192, 'p') + tail, &closed), "HTTP/1.1 414");
  // A body of exactly webhook.max_body is taken; one byte more is 413 from
  // the Content-Length alone: the connection closes with the body unsent.
  const size_t max_body = 64 << 10;
  std::string at_limit = body;
  at_limit.insert(at_limit.size() - 1,
                  ",\"pad\":\"" + std::string(max_body - body.size() - 9, 'p') + "\"");
  ASSERT_EQ(at_limit.size(), max_body);
  EXPECT_EQ(send(request("edge-body", "", at_limit), &closed), "HTTP/1.1 202");
  {
    Conn conn(process_->public_port());
    std::string over = at_limit;
    over.insert(over.size() - 1, " ");
    std::string raw = request("over-body", "", over);
    ASSERT_TRUE(conn.SendAll(raw.substr(0, raw.find("\r\n\r\n") + 4)));  // headers only
    std::string answer = conn.ReadUntilClosed(milliseconds(1500) * kSlowdown, &closed);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413");
    EXPECT_TRUE(closed);
  }
  // A chunked body is counted as it arrives.
  {
    Conn conn(process_->public_port());
    std::string head =
        "POST /webhook HTTP/1.1\r\nHost: relayq\r\nContent-Type: application/json\r\n" +
        Header("workflow_job", "chunked-over", body) + "Transfer-Encoding: chunked\r\n\r\n";
    ASSERT_TRUE(conn.SendAll(head));
    const std::string chunk = "4000\r\n" + std::string(0x4000, 'c') + "\r\n";
    for (int i = 0; i < 5 && conn.SendAll(chunk); ++i) {
    }
    std::string answer = conn.ReadUntilClosed(milliseconds(1500) * kSlowdown, &closed);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413");
    EXPECT_TRUE(closed);
  }
  EXPECT_EQ(CountRecorded("edge-%"), 3);
  EXPECT_EQ(CountRecorded("over-%") + CountRecorded("chunked-%"), 0);
}

TEST_F(HostileClientsTest, UnreadBodyIsNeverParsedAsTheNextRequest) {
  StartWith("webhook:\n  max_body: 1KiB\n");
  // A 413 (and an admin 401) leave a body unread; a request smuggled inside
  // it must never be answered.
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string body = smuggled + std::string(2000, ' ');
  for (int port : {process_->public_port(), process_->admin_port()}) {
    Conn conn(port);
    const std::string path = port == process_->public_port() ? "/webhook" : "/api/v1/jobs";
    ASSERT_TRUE(conn.SendAll("POST " + path +
                             " HTTP/1.1\r\nHost: relayq\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body));
    bool closed = false;
    std::string answer = conn.ReadUntilClosed(milliseconds(1500) * kSlowdown, &closed);
    EXPECT_TRUE(answer.rfind("HTTP/1.1 413", 0) == 0 || answer.rfind("HTTP/1.1 401", 0) == 0)
        << answer.substr(0, 40);
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos)
        << "the smuggled request was answered";
    EXPECT_TRUE(closed);
  }
}

TEST_F(HostileClientsTest, BodiesRelayqWillNotReadAre415AndOddHeadersAre400) {
  StartWith();
  JobSpec spec;
  spec.job_id = 5;
  const std::string body = WorkflowJobPayload(spec);
  httplib::Client c("127.0.0.1", process_->public_port());
  auto gz = Headers("workflow_job", "gz", body);
  gz.emplace("Content-Encoding", "gzip");
  auto res = c.Post("/webhook", gz, body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  res = c.Post("/webhook", Headers("workflow_job", "mp", body), body,
               "multipart/form-data; boundary=x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  // A hook id past int64 (19 digits) is a 400 with the reason, never a 500.
  auto hook = Headers("workflow_job", "hook", body);
  hook.erase("X-GitHub-Hook-ID");
  hook.emplace("X-GitHub-Hook-ID", "9999999999999999999");
  res = c.Post("/webhook", hook, body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("X-GitHub-Hook-ID"), std::string::npos) << res->body;
  EXPECT_EQ(CountRecorded("%"), 0);
}

TEST_F(HostileClientsTest, FullListenerEvictsWaitingConnectionsThenAnswers503) {
  StartWith("", "  max_connections: 50\n");
  // 60 idle connections at a 50-connection listener: the oldest are closed
  // to admit the newest, and a delivery still gets through.
  auto idle = Open(process_->public_port(), 60);
  TimedDelivery("at-cap");
  int closed = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        closed = 0;
        for (auto& c : idle) closed += c.PeerClosed() ? 1 : 0;
        return closed >= 11;
      },
      seconds(1) * kSlowdown))
      << closed;
  // 50 connections that are all past their header (slow bodies) leave
  // nothing to evict: one more is answered 503 and closed.
  idle.clear();
  EXPECT_TRUE(WaitFor([&] { return OpenFds(process_->pid()) < 30; }, seconds(5) * kSlowdown));
  std::vector<Conn> bodies = Open(process_->public_port(), 50);
  for (auto& c : bodies) {
    ASSERT_TRUE(
        c.SendAll("POST /webhook HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100\r\n\r\n{"));
  }
  std::this_thread::sleep_for(milliseconds(200));  // let relayq read every header
  Conn extra(process_->public_port());
  bool extra_closed = false;
  std::string answer = extra.ReadUntilClosed(milliseconds(1500) * kSlowdown, &extra_closed);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 503");
  EXPECT_TRUE(extra_closed);
}

TEST_F(HostileClientsTest, UnsignedRequestsAddNoMetricSeries) {
  StartWith();
  auto series = [&] {
    httplib::Client c("127.0.0.1", process_->admin_port());
    auto res = c.Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminToken}});
    std::set<std::string> out;
    if (!res) return out;
    size_t start = 0;
    while (start < res->body.size()) {
      size_t end = res->body.find('\n', start);
      std::string line = res->body.substr(start, end - start);
      if (!line.empty() && line[0] != '#') out.insert(line.substr(0, line.rfind(' ')));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return out;
  };
  TimedDelivery("warm-up");
  const auto before = series();
  httplib::Client c("127.0.0.1", process_->public_port());
  for (int i = 0; i < 50; ++i) {
    const std::string event = "made_up_event_" + std::to_string(i);
    auto h = Headers(event, "x-" + std::to_string(i), "{}", "wrong-secret");
    c.Post("/webhook", h, "{}", "application/json");
    h.erase("X-Hub-Signature-256");
    c.Post("/webhook", h, "{}", "application/json");
  }
  const auto after = series();
  for (const auto& s : after) {
    if (s.rfind("relayq_webhook_deliveries_total", 0) == 0 || s.rfind("relayq_http_", 0) == 0) {
      EXPECT_TRUE(before.count(s)) << "new series: " << s;
    }
    EXPECT_EQ(s.find("made_up_event"), std::string::npos) << s;
  }
}

class HostileTlsTest : public HostileClientsTest {
 protected:
  void SetUp() override {
    HostileClientsTest::SetUp();
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " +
        dir_.File("key.pem") + " -out " + dir_.File("cert.pem") + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI unavailable";
  }
};

TEST_F(HostileTlsTest, StalledHandshakesDoNotDelayADelivery) {
  StartWith("tls:\n  cert: " + dir_.File("cert.pem") + "\n  key: " + dir_.File("key.pem") + "\n");
  // 100 connections that open TCP and send half a ClientHello, then nothing.
  auto stalled = Open(process_->public_port(), 100);
  const std::string partial_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (auto& c : stalled) ASSERT_TRUE(c.SendAll(partial_hello));
  for (int i = 0; i < 3; ++i) {
    httplib::SSLClient tls("127.0.0.1", process_->public_port());
    tls.enable_server_certificate_verification(false);
    tls.set_read_timeout(5 * kSlowdown, 0);
    JobSpec spec;
    spec.job_id = 100 + i;
    const std::string body = WorkflowJobPayload(spec);
    const auto t0 = SteadyClock::now();
    auto res = tls.Post("/webhook", Headers("workflow_job", "tls-" + std::to_string(i), body), body,
                        "application/json");
    EXPECT_TRUE(res && res->status == 202) << (res ? res->status : -1);
    EXPECT_LT(SteadyClock::now() - t0, kPrompt);
  }
  // The handshake counts toward the header deadline: all are closed by 2 s.
  EXPECT_TRUE(WaitFor(
      [&] {
        return std::all_of(stalled.begin(), stalled.end(), [](Conn& c) { return c.PeerClosed(); });
      },
      seconds(5) * kSlowdown));
  ExpectMemoryBounded();
}

// Everything at once, on both listeners.
TEST_F(HostileClientsTest, TheWholeMixTogether) {
  StartWith();
  const int pub = process_->public_port(), adm = process_->admin_port();
  auto idle = Open(pub, 1000);
  auto admin_idle = Open(adm, 300);
  auto tricklers = Open(pub, 200);
  auto bodies = Open(pub, 200);
  for (auto& c : bodies) {
    ASSERT_TRUE(
        c.SendAll("POST /webhook HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1000000\r\n\r\n{"));
  }
  Conn endless(pub);
  ASSERT_TRUE(endless.SendAll("POST /webhook HTTP/1.1\r\nX-Endless: "));
  std::atomic<bool> stop{false};
  std::thread attacker([&] {
    const std::string chunk(16 << 10, 'e');
    for (int round = 0; round < 50 && !stop; ++round) {
      for (auto& c : tricklers) c.Send("x");
      for (auto& c : bodies) c.Send(" ");
      endless.Send(chunk);
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  for (int i = 0; i < 4; ++i) {
    TimedDelivery("mix-" + std::to_string(i));
    AdminAnswersPromptly();
    std::this_thread::sleep_for(milliseconds(300));
  }
  stop = true;
  attacker.join();
  ExpectMemoryBounded();
  RecordProperty("open_fds_during_mix", OpenFds(process_->pid()));
  EXPECT_EQ(CountRecorded("mix-%"), 4);
  // relayq is still up and answers after the storm.
  EXPECT_TRUE(WaitFor([&] { return OpenFds(process_->pid()) < 100; }, seconds(6) * kSlowdown));
  TimedDelivery("after-mix");
}

}  // namespace
}  // namespace relayq::testing
