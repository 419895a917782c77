// hostile_bench: a running relayq under anonymous attackers, at full size,
// for a while each: what a signed delivery sent meanwhile gets.
//
//   bench/hostile.sh                  # builds, starts relayq (plain and TLS), runs this
//   hostile_bench --port P --admin-port A --pid PID [--tls-port T --tls-pid Q]
//                 [--seconds 60] [--secret S]
//   hostile_bench --attack-only PORT --seconds S   # the mix alone (bench/run.sh HOSTILE=1)
//
// Attacks (each sustained: a connection relayq closes is opened again):
//   idle       1,000 TCP connections that send nothing
//   trickle    200 connections sending a header byte every 100 ms
//   slowbody   200 requests with complete headers, a body byte per 100 ms
//   endless    one client sending an endless header line, as fast as it can
//   tls        100 connections stalled in a TLS handshake (with --tls-port)
//   all        every one of the above at once (tls against the TLS listener)
// Meanwhile a prober sends a signed ~7 KB workflow_job every 100 ms on a new
// connection, and GET /healthz to the admin listener. Printed per attack:
// the delivery's answer time p50/p99/max, how many took over 1 s or failed,
// relayq's peak RSS (VmHWM, reset per attack) and most open descriptors, and
// whether the process stayed up. Loopback only; bounded in time.
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handlers/signature.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/raw_client.h"

namespace relayq::testing {
namespace {

struct Args {
  int port = 0, admin_port = 0, tls_port = 0;
  pid_t pid = 0, tls_pid = 0;
  int seconds = 60;
  int attack_only = 0;  // a port: run the "all" mix against it for `seconds`, measure nothing
  std::string secret = "bench-secret";
};

// N connections that each repeat `pattern` until `stop`: open, send the
// opening bytes, then a drip every 100 ms; a connection relayq closes is
// opened again.
class Attacker {
 public:
  Attacker(int port, int count, std::string opening, std::string drip, size_t drip_bytes = 1)
      : port_(port),
        count_(count),
        opening_(std::move(opening)),
        drip_(std::move(drip)),
        drip_bytes_(drip_bytes) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t reconnects() const { return reconnects_; }

 private:
  void Run() {
    std::vector<Conn> conns;
    for (int i = 0; i < count_; ++i) conns.push_back(Fresh());
    size_t at = 0;
    while (!stop_) {
      for (auto& c : conns) {
        bool alive = c.ok() && !c.PeerClosed();
        if (alive && !drip_.empty()) {
          alive = c.Send(std::string_view(drip_).substr(at % drip_.size(), drip_bytes_));
        }
        if (!alive) {
          c = Fresh();
          ++reconnects_;
        }
      }
      at += drip_bytes_;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  Conn Fresh() {
    Conn c(port_);
    if (c.ok() && !opening_.empty()) c.Send(opening_);
    return c;
  }

  const int port_, count_;
  const std::string opening_, drip_;
  const size_t drip_bytes_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::thread thread_;
};

struct PhaseResult {
  std::string name;
  std::vector<double> ms;
  int slow = 0, failed = 0, admin_failed = 0;
  int peak_rss_kb = 0, max_fds = 0;
  bool up = true;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// `probe_tls`: send the signed deliveries to the TLS listener instead.
PhaseResult RunPhase(const Args& a, const std::string& name,
                     const std::vector<std::function<std::unique_ptr<Attacker>()>>& attackers,
                     bool probe_tls = false) {
  PhaseResult r;
  r.name = name;
  // Reset the peak RSS so each phase reports its own.
  for (pid_t pid : {a.pid, a.tls_pid}) {
    if (pid > 0) std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
  }
  std::vector<std::unique_ptr<Attacker>> running;
  for (const auto& make : attackers) {
    running.push_back(make());
    running.back()->Start();
  }
  std::this_thread::sleep_for(seconds(1));  // let the attack build up
  const auto end = SteadyClock::now() + seconds(a.seconds);
  int n = 0;
  while (SteadyClock::now() < end) {
    JobSpec spec;
    spec.job_id = 900000 + n;
    const std::string body = WorkflowJobPayload(spec);
    httplib::Headers h = {{"X-GitHub-Event", "workflow_job"},
                          {"X-GitHub-Delivery", "hostile-" + name + "-" + std::to_string(n++)},
                          {"X-Hub-Signature-256", handlers::SignBody(body, a.secret)}};
    const auto t0 = SteadyClock::now();
    auto post = [&](auto& c) {
      c.set_connection_timeout(5, 0);
      c.set_read_timeout(5, 0);
      auto res = c.Post("/webhook", h, body, "application/json");
      return res ? res->status : -1;
    };
    int status = -1;
    if (probe_tls) {
      httplib::SSLClient c("127.0.0.1", a.tls_port);
      c.enable_server_certificate_verification(false);
      status = post(c);
    } else {
      httplib::Client c("127.0.0.1", a.port);
      status = post(c);
    }
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
    if (status != 202) {
      ++r.failed;
    } else {
      r.ms.push_back(ms);
      if (ms > 1000) ++r.slow;
    }
    httplib::Client admin("127.0.0.1", a.admin_port);
    admin.set_read_timeout(2, 0);
    auto health = admin.Get("/healthz");
    if (!health || health->status != 200) ++r.admin_failed;
    r.max_fds = std::max(r.max_fds, OpenFds(a.pid) + (a.tls_pid > 0 ? OpenFds(a.tls_pid) : 0));
    std::this_thread::sleep_for(milliseconds(100));
  }
  for (auto& at : running) at->Stop();
  for (pid_t pid : {a.pid, a.tls_pid}) {
    if (pid <= 0) continue;
    r.peak_rss_kb = std::max(r.peak_rss_kb, StatusKb(pid, "VmHWM"));
    r.up = r.up && ::kill(pid, 0) == 0;
  }
  return r;
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      a.port = std::stoi(v);
    else if (k == "--admin-port")
      a.admin_port = std::stoi(v);
    else if (k == "--tls-port")
      a.tls_port = std::stoi(v);
    else if (k == "--pid")
      a.pid = std::stoi(v);
    else if (k == "--tls-pid")
      a.tls_pid = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stoi(v);
    else if (k == "--secret")
      a.secret = v;
    else if (k == "--attack-only")
      a.attack_only = std::stoi(v);
    else {
      std::cerr << "hostile_bench: unknown option " << k << "\n";
      return 2;
    }
  }
  if (a.attack_only == 0 && (a.port == 0 || a.admin_port == 0 || a.pid == 0)) {
    std::cerr
        << "usage: hostile_bench --port P --admin-port A --pid PID [--tls-port T --tls-pid Q] "
           "[--seconds 60] [--secret S]\n";
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  const std::string trickle =
      "POST /webhook HTTP/1.1\r\nHost: relayq\r\nX-GitHub-Event: workflow_job\r\nX-Slow: " +
      std::string(200, 'a') + "\r\n";
  const std::string slow_head =
      "POST /webhook HTTP/1.1\r\nHost: relayq\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000000\r\n\r\n{";
  const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  using Make = std::function<std::unique_ptr<Attacker>()>;
  const int p = a.attack_only != 0 ? a.attack_only : a.port, t = a.tls_port;
  Make idle = [p] { return std::make_unique<Attacker>(p, 1000, "", ""); };
  Make trick = [p, trickle] { return std::make_unique<Attacker>(p, 200, "", trickle); };
  Make slow = [p, slow_head] { return std::make_unique<Attacker>(p, 200, slow_head, " "); };
  Make endless = [p] {
    return std::make_unique<Attacker>(
        p, 1, "POST /webhook HTTP/1.1\r\nX-Endless: ", std::string(1 << 20, 'e'), 256 << 10);
  };
  Make tls = [t, hello] { return std::make_unique<Attacker>(t, 100, hello, ""); };

  if (a.attack_only != 0) {
    std::vector<std::unique_ptr<Attacker>> running;
    for (const Make& make : {idle, trick, slow, endless}) {
      running.push_back(make());
      running.back()->Start();
    }
    std::this_thread::sleep_for(seconds(a.seconds));
    for (auto& at : running) at->Stop();
    return 0;
  }

  std::vector<PhaseResult> results;
  results.push_back(RunPhase(a, "none", {}));
  results.push_back(RunPhase(a, "idle", {idle}));
  results.push_back(RunPhase(a, "trickle", {trick}));
  results.push_back(RunPhase(a, "slowbody", {slow}));
  results.push_back(RunPhase(a, "endless", {endless}));
  if (t > 0) results.push_back(RunPhase(a, "tls", {tls}, /*probe_tls=*/true));
  std::vector<Make> all = {idle, trick, slow, endless};
  if (t > 0) all.push_back(tls);
  results.push_back(RunPhase(a, "all", all));

  std::printf("\n%-9s %10s %8s %8s %8s %7s %7s %9s %9s %8s %3s\n", "attack", "deliveries", "p50 ms",
              "p99 ms", "max ms", "over1s", "failed", "adminfail", "peakRSS", "maxfds", "up");
  bool ok = true;
  for (const auto& r : results) {
    std::printf("%-9s %10zu %8.2f %8.2f %8.2f %7d %7d %9d %7.1fMB %8d %3s\n", r.name.c_str(),
                r.ms.size(), Percentile(r.ms, 0.5), Percentile(r.ms, 0.99),
                r.ms.empty() ? 0.0 : *std::max_element(r.ms.begin(), r.ms.end()), r.slow, r.failed,
                r.admin_failed, r.peak_rss_kb / 1024.0, r.max_fds, r.up ? "yes" : "NO");
    ok = ok && r.up && r.failed == 0 && r.slow == 0;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace relayq::testing

int main(int argc, char** argv) { return relayq::testing::Main(argc, argv); }
