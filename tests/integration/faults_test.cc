// Whole-process fault tests: the real relayq under hostile clients, protocol
// limits, TLS, a full disk and a store held by a long reader. Each test backs
// a claim in docs/SECURITY.md.
//
// Bounded everywhere: slow clients are a fixed number of sockets for a fixed
// time, every retry loop has a deadline. Tests that need root (a tmpfs mount)
// or the openssl CLI skip when they cannot have them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A TCP connection to 127.0.0.1:port; -1 when it cannot connect.
int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Runs `command` through sh, returning its exit code and stdout+stderr.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

JobSpec Job(int64_t id) {
  JobSpec j;
  j.job_id = id;
  return j;
}

class FaultsTest : public IntegrationTest {};

TEST_F(FaultsTest, SlowClientsDoNotDelayASignedWebhook) {
  StartRelayq();
  // 200 slowloris connections (more than the 64 threads the listener once
  // had), each sending a request's headers one byte at a time, 100 ms
  // apart, for at most 4 s (under http.header_timeout, so the server keeps
  // every one of them open the whole time).
  constexpr int kSlowClients = 200;
  std::vector<int> fds;
  for (int i = 0; i < kSlowClients; ++i) {
    int fd = ConnectLoopback(process_->public_port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  const std::string drip =
      "POST /webhook HTTP/1.1\r\nHost: relayq\r\nX-GitHub-Event: workflow_job\r\n"
      "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  std::atomic<bool> stop{false};
  std::atomic<int> dripped{0};
  std::thread slow([&] {
    const auto deadline = Clock::now() + seconds(4);
    for (size_t i = 0; i < drip.size() && !stop && Clock::now() < deadline; ++i) {
      for (int fd : fds) {
        if (::send(fd, &drip[i], 1, MSG_NOSIGNAL) == 1) dripped.fetch_add(1);
      }
      std::this_thread::sleep_for(milliseconds(100));  // the pacing is the attack
    }
  });
  // Wait until every slow client has sent bytes (the server has accepted and
  // is reading them all), then deliver for real.
  const auto ready_by = Clock::now() + seconds(5);
  while (dripped.load() < 2 * kSlowClients && Clock::now() < ready_by) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_GE(dripped.load(), 2 * kSlowClients);
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  const auto t0 = Clock::now();
  EXPECT_EQ(Deliver(*c, "workflow_job", "under-slowloris", body), 202);
  const auto took = Clock::now() - t0;
  EXPECT_LT(took, seconds(2) * kSlowdown) << "a signed delivery waited behind slow clients";
  stop = true;
  slow.join();
  for (int fd : fds) ::close(fd);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = 'under-slowloris'"), 1);
}

TEST_F(FaultsTest, HeaderUriAndBodyLimits) {
  WriteFile(dir_.File("relayq.yaml"), "webhook:\n  max_body: 64KiB\n");
  StartRelayq({"--config", dir_.File("relayq.yaml")});
  auto c = Client();
  std::string body = WorkflowJobPayload({});

  // URI over the 8 KiB request-line limit.
  auto uri = c->Post("/webhook?x=" + std::string(10000, 'a'), Headers("workflow_job", "u-1", body),
                     body, "application/json");
  ASSERT_TRUE(uri);
  EXPECT_EQ(uri->status, 414);

  // One header line over the 8 KiB header-line limit: 431 (RFC 6585).
  auto headers = Headers("workflow_job", "h-1", body);
  headers.emplace("X-Padding", std::string(10000, 'h'));
  auto big_header = Client()->Post("/webhook", headers, body, "application/json");
  ASSERT_TRUE(big_header);
  EXPECT_EQ(big_header->status, 431);

  // A body over webhook.max_body.
  std::string padded = body;
  padded.insert(padded.size() - 1, ",\"padding\":\"" + std::string(70 * 1024, 'p') + "\"");
  auto too_big = Client()->Post("/webhook", Headers("workflow_job", "b-1", padded), padded,
                                "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);

  // None of them was recorded, and the server still answers a good delivery.
  EXPECT_EQ(Deliver(*Client(), "workflow_job", "after-limits", body), 202);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 1);
}

TEST_F(FaultsTest, UnknownPathsAre404WrongMethods405) {
  StartRelayq();
  auto c = Client();
  for (const char* path :
       {"/", "/nope", "/api/v1/jobs", "/metrics", "/webhook/x", "/../etc/passwd"}) {
    auto get = c->Get(path);
    ASSERT_TRUE(get) << path;
    EXPECT_EQ(get->status, 404) << "GET " << path;
    auto post = c->Post(path, "{}", "application/json");
    ASSERT_TRUE(post) << path;
    EXPECT_EQ(post->status, 404) << "POST " << path;
  }
  auto get = c->Get("/webhook");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  auto put = c->Put("/webhook", "{}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  auto del = c->Delete("/webhook");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
}

TEST_F(FaultsTest, GeneratedSecretFileIsOwnerOnly) {
  auto env = Env();
  env.erase("RELAYQ_WEBHOOK_SECRET");
  process_ = RelayqProcess::Start({dir_.path(), {}, env});
  ASSERT_NE(process_, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("relayq.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Lines of relayq's stderr that report a failure ("relayq: ..."), as opposed
// to log lines (which start with a timestamp); the reason must be the last.
int ErrorLines(const std::string& err) {
  int n = 0;
  size_t start = 0;
  std::string last;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string line = err.substr(start, end - start);
    if (line.rfind("relayq: ", 0) == 0) ++n;
    if (!line.empty()) last = line;
    start = end + 1;
  }
  return last.rfind("relayq: ", 0) == 0 ? n : -1;
}

class TlsTest : public FaultsTest {
 protected:
  void SetUp() override {
    auto [rc, out] =
        Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " +
              dir_.File("key.pem") + " -out " + dir_.File("cert.pem"));
    if (rc != 0) GTEST_SKIP() << "openssl CLI unavailable: " << out;
  }
  // s_client's exit code for a handshake with only `protocol` offered. The
  // client's own security level is lowered so that it really offers TLS 1.0
  // and 1.1 (OpenSSL 3 refuses them locally otherwise); what is tested is
  // the server's answer.
  int Handshake(const std::string& protocol) {
    auto [rc, out] =
        Shell("openssl s_client -connect 127.0.0.1:" + std::to_string(process_->public_port()) +
              " " + protocol + " -cipher DEFAULT@SECLEVEL=0 </dev/null");
    last_output_ = out;
    return rc;
  }
  std::string last_output_;
};

TEST_F(TlsTest, TlsServesTls12AndRefusesOlderProtocols) {
  WriteFile(dir_.File("relayq.yaml"),
            "tls:\n  cert: " + dir_.File("cert.pem") + "\n  key: " + dir_.File("key.pem") + "\n");
  StartRelayq({"--config", dir_.File("relayq.yaml")});

  httplib::SSLClient tls("127.0.0.1", process_->public_port());
  tls.enable_server_certificate_verification(false);
  std::string body = WorkflowJobPayload({});
  auto res = tls.Post("/webhook", Headers("workflow_job", "tls-1", body), body, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 202);

  EXPECT_EQ(Handshake("-tls1_2"), 0) << last_output_;
  EXPECT_NE(Handshake("-tls1_1"), 0) << last_output_;
  EXPECT_NE(Handshake("-tls1"), 0) << last_output_;
  // Plain HTTP to the HTTPS listener is not served either.
  auto plain = Client()->Get("/healthz");
  EXPECT_TRUE(!plain || plain->status != 200);
}

TEST_F(TlsTest, BadCertificatePathIsAOneLineStartupError) {
  // Exit 1 with one "relayq: tls: ..." line naming the file, last on stderr
  // (log lines written before it are the logger's, with timestamps).
  WriteFile(dir_.File("relayq.yaml"), "tls:\n  cert: " + dir_.File("missing.pem") +
                                          "\n  key: " + dir_.File("key.pem") + "\n");
  auto r = RunRelayq(dir_.path(),
                     {"serve", "--config", dir_.File("relayq.yaml"), "--listen", "127.0.0.1:0",
                      "--admin-listen", "127.0.0.1:0"},
                     Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.pem"), std::string::npos) << r.err;
  EXPECT_EQ(ErrorLines(r.err), 1) << r.err;

  // A readable file that is not a certificate fails the same way.
  WriteFile(dir_.File("junk.pem"), "not a certificate\n");
  WriteFile(dir_.File("relayq.yaml"),
            "tls:\n  cert: " + dir_.File("junk.pem") + "\n  key: " + dir_.File("key.pem") + "\n");
  r = RunRelayq(dir_.path(),
                {"serve", "--config", dir_.File("relayq.yaml"), "--listen", "127.0.0.1:0",
                 "--admin-listen", "127.0.0.1:0"},
                Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.pem"), std::string::npos) << r.err;
  EXPECT_EQ(ErrorLines(r.err), 1) << r.err;
}

// The store on a 2 MiB tmpfs that the test fills and then frees.
class DiskFullTest : public FaultsTest {
 protected:
  void SetUp() override {
    mount_ = dir_.File("small");
    ::mkdir(mount_.c_str(), 0700);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=2m") != 0) {
      mount_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
    }
  }
  void TearDown() override {
    if (process_) process_->Terminate();
    process_.reset();
    if (!mount_.empty()) ::umount2(mount_.c_str(), MNT_DETACH);
  }
  // Fills the file system with `filler` until it is full; returns the bytes written.
  size_t Fill(const std::string& filler) {
    std::FILE* f = std::fopen(filler.c_str(), "w");
    if (f == nullptr) return 0;
    std::string chunk(4096, 'f');
    size_t total = 0;
    for (int i = 0; i < 4096 && std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size();
         ++i) {
      if (std::fflush(f) != 0) break;
      total += chunk.size();
    }
    std::fclose(f);
    return total;
  }
  std::string mount_;
};

TEST_F(DiskFullTest, DiskFullAnswers503AndRecoversWhenSpaceReturns) {
  StartRelayq({"--db", mount_ + "/relayq.db"});
  auto c = Client();
  ASSERT_EQ(Deliver(*c, "workflow_job", "before", WorkflowJobPayload(Job(1))), 202);

  std::string filler = mount_ + "/filler";
  ASSERT_GT(Fill(filler), 0u);
  // SQLite may still have free pages; deliveries go on until one cannot be
  // committed. Each must be either acknowledged (202) or refused (503).
  std::vector<std::string> acked, refused;
  for (int i = 0; i < 200 && refused.size() < 3; ++i) {
    std::string id = "full-" + std::to_string(i);
    int status = Deliver(*c, "workflow_job", id, WorkflowJobPayload(Job(100 + i)));
    ASSERT_TRUE(status == 202 || status == 503) << id << " answered " << status;
    (status == 202 ? acked : refused).push_back(id);
  }
  ASSERT_FALSE(refused.empty()) << "the disk never filled up";
  auto health = Client()->Get("/healthz");
  ASSERT_TRUE(health) << "relayq stopped answering on a full disk";
  EXPECT_EQ(health->status, 200);

  // Space returns: relayq recovers by itself (no restart) within 10 s.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  const auto deadline = Clock::now() + seconds(10);
  int status = 0;
  int attempt = 0;
  while (Clock::now() < deadline) {
    ++attempt;
    status = Deliver(*c, "workflow_job", "after-" + std::to_string(attempt),
                     WorkflowJobPayload(Job(9000 + attempt)));
    if (status == 202) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(status, 202) << "no recovery after space returned";
  // A refused delivery, redelivered by GitHub, is now stored.
  EXPECT_EQ(Deliver(*c, "workflow_job", refused.front(), WorkflowJobPayload(Job(100))), 202);
  process_->Terminate();
  process_.reset();
  SqliteReader db(mount_ + "/relayq.db");
  for (const std::string& id : acked) {
    EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = '" + id + "'"), 1) << id;
  }
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = '" + refused.front() + "'"), 1);
  for (size_t i = 1; i < refused.size(); ++i) {
    EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = '" + refused[i] + "'"), 0)
        << refused[i] << " was refused with 503 but recorded";
  }
}

TEST_F(FaultsTest, LongReaderDoesNotBlockAcknowledgements) {
  StartRelayq();
  auto c = Client();
  ASSERT_EQ(Deliver(*c, "workflow_job", "first", WorkflowJobPayload(Job(1))), 202);

  // A reader that opens a read transaction and holds it (like a long
  // `relayq audit` or a backup tool on the same file).
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM deliveries;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_stmt* held = nullptr;  // a statement left mid-step keeps the snapshot
  ASSERT_EQ(sqlite3_prepare_v2(reader, "SELECT id FROM deliveries", -1, &held, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(held), SQLITE_ROW);

  auto worst = Clock::duration::zero();
  for (int i = 0; i < 100; ++i) {
    const auto t0 = Clock::now();
    int status =
        Deliver(*c, "workflow_job", "held-" + std::to_string(i), WorkflowJobPayload(Job(10 + i)));
    worst = std::max(worst, Clock::now() - t0);
    ASSERT_EQ(status, 202) << "delivery " << i << " while a reader holds the store";
  }
  EXPECT_LT(worst, seconds(10)) << "GitHub gives up after 10 s";
  sqlite3_finalize(held);
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 101);
}

// relayq against the fake GitHub API with a chain that dispatches one
// summarize.yml run per completed transcribe_audio.yml run.
class ActionsUnderKillTest : public FaultsTest {
 protected:
  void SetUp() override {
    auto fake = FakeGitHubServer::Start();
    ASSERT_TRUE(fake.ok()) << fake.status().ToString();
    github_ = std::move(*fake);
    WriteFile(dir_.File("policy.yaml"), R"(chains:
  - name: summarize
    after: { workflow: transcribe_audio.yml, conclusion: success }
    dispatch:
      workflow: summarize.yml
      inputs: { source_run: "{{ run.id }}" }
)");
    WriteFile(dir_.File("relayq.yaml"), "github:\n  write_interval: 0s\n");
  }
  void StartServe() {
    auto env = Env();
    env["GITHUB_TOKEN"] = "test-token";
    env["RELAYQ_GITHUB_API_URL"] = github_->url();
    process_ = RelayqProcess::Start(
        {dir_.path(),
         {"--config", dir_.File("relayq.yaml"), "--policy", dir_.File("policy.yaml")},
         env});
    ASSERT_NE(process_, nullptr);
  }
  std::string Completed(int64_t run) const {
    RunSpec spec;
    spec.run_id = run;
    spec.repository = "octo/kit";
    spec.action = "completed";
    spec.conclusion = "success";
    spec.path = ".github/workflows/transcribe_audio.yml";
    return WorkflowRunPayload(spec);
  }
  // source_run -> how many summarize.yml runs GitHub accepted for it.
  std::map<std::string, int> SummariesBySource() const {
    std::map<std::string, int> by;
    for (const FakeRun& r : github_->runs()) {
      if (r.workflow != "summarize.yml") continue;
      auto it = r.inputs.find("source_run");
      ++by[it == r.inputs.end() ? "" : it->second];
    }
    return by;
  }
  std::unique_ptr<FakeGitHubServer> github_;
};

TEST_F(ActionsUnderKillTest, PendingChainsFireExactlyOnceAcrossRepeatedKill9) {
  constexpr int kClients = 16;
  constexpr int kRounds = 3;
  std::vector<int64_t> sent;  // every run whose completion was sent at least once
  std::mutex mu;
  for (int round = 0; round < kRounds; ++round) {
    StartServe();
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        auto client = Client();
        client->set_read_timeout(5, 0);
        for (int i = 0; !stop && i < 1000; ++i) {
          int64_t run = 1000000 + round * 100000 + c * 1000 + i;
          {
            std::lock_guard lock(mu);
            sent.push_back(run);
          }
          std::string body = Completed(run);
          if (Deliver(*client, "workflow_run", "done-" + std::to_string(run), body) != 202) return;
          ++acks;
        }
      });
    }
    // Kill while deliveries arrive and chain actions are pending or running.
    const auto deadline = Clock::now() + seconds(60);
    while (acks < 40 * (round + 1) && Clock::now() < deadline) std::this_thread::yield();
    process_->Kill();
    stop = true;
    for (auto& t : clients) t.join();
    EXPECT_GE(acks.load(), 40 * (round + 1));
  }
  // GitHub redelivers what was not acknowledged (and relayq answers 200 for
  // what it has): every sent completion is now recorded once.
  StartServe();
  auto client = Client();
  for (int64_t run : sent) {
    int status = Deliver(*client, "workflow_run", "done-" + std::to_string(run), Completed(run));
    ASSERT_TRUE(status == 200 || status == 202) << run << ": " << status;
  }
  // Every completed run gets exactly one summary, however often relayq died.
  const auto deadline = Clock::now() + seconds(120);
  while (SummariesBySource().size() < sent.size() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  auto by = SummariesBySource();
  EXPECT_EQ(by.size(), sent.size());
  for (int64_t run : sent) {
    EXPECT_EQ(by[std::to_string(run)], 1) << "summaries for run " << run;
  }
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM actions WHERE kind = 'chain' AND status = 'done'"),
            static_cast<int64_t>(sent.size()));
  EXPECT_EQ(process_->Terminate(), 0);
}

}  // namespace
}  // namespace relayq::testing
