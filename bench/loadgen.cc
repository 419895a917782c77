// loadgen: drives a webhook receiver with signed GitHub deliveries over
// keep-alive HTTP/1.1 connections and reports throughput and latency.
//
//   loadgen --port P [--host 127.0.0.1] [--path /webhook] [--connections 16]
//           [--seconds 10] [--warmup 2] [--rate 0] [--secret S] [--body FILE]
//           [--ids-out FILE] [--prefix ID]
//   loadgen --port P --first-ok SECONDS   # wait for the first 2xx, print ms
//
// Each request is a real ~7 KB `workflow_job` payload (or --body FILE),
// signed with HMAC-SHA256 like GitHub, with a unique X-GitHub-Delivery. The
// payloads are 256 different ones, as a few repositories' jobs would send
// (4 repositories, different job and run ids, names, labels, runners and
// actions), so a receiver that compresses or dedupes bodies sees realistic
// ones rather than one body over and over. One
// thread per connection sends a request and waits for its answer (GitHub
// does not pipeline). --rate spreads a fixed total request rate over the
// connections (open loop per connection; 0 = as fast as answers come); the
// connections' send times are staggered evenly, so the receiver sees one
// arrival every 1/rate seconds rather than a burst from every connection at
// once.
// Prints one line of key=value figures; --ids-out writes the delivery ids
// that got a 2xx, so a caller can check every acknowledged delivery is
// stored. --first-ok retries one delivery every millisecond until a 2xx
// (or SECONDS pass) and prints first_ok_ms (time to start-up readiness).
// Talks only to the given host (loopback in every script here).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "handlers/signature.h"
#include "tests/fakes/github_payloads.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/webhook";
  int connections = 16;
  double seconds = 10;
  double warmup = 2;
  double rate = 0;
  std::string secret = "bench-secret";
  std::string body_file;
  std::string ids_out;
  std::string prefix = "bench";
  double first_ok = 0;
};

struct Worker {
  std::vector<uint32_t> latencies_us;  // measured phase only
  uint64_t ok = 0, errors = 0, non2xx = 0;
  std::vector<std::string> acked;
};

int Connect(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads one HTTP response; returns its status code or -1. `buf` keeps bytes
// read past the response (none expected without pipelining).
int ReadResponse(int fd, std::string& buf) {
  buf.clear();
  size_t header_end = std::string::npos;
  char tmp[4096];
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
  }
  int status = -1;
  if (buf.size() > 12) status = std::atoi(buf.c_str() + 9);
  size_t content_length = 0;
  std::string headers = buf.substr(0, header_end);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t cl = headers.find("content-length:");
  if (cl != std::string::npos)
    content_length = std::strtoul(headers.c_str() + cl + 15, nullptr, 10);
  size_t have = buf.size() - header_end - 4;
  while (have < content_length) {
    ssize_t n = read(fd, tmp, std::min(sizeof tmp, content_length - have));
    if (n <= 0) return -1;
    have += static_cast<size_t>(n);
  }
  return status;
}

struct SignedBody {
  std::string body;
  std::string signature;
};

std::vector<SignedBody> Bodies(const Options& o) {
  std::vector<SignedBody> out;
  if (!o.body_file.empty()) {
    std::ifstream in(o.body_file);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back({ss.str(), ""});
  } else {
    static const char* kRepos[] = {"octo-org/media-kit", "octo-org/podcast-notes",
                                   "octo-cat/home-lab", "octo-org/site"};
    static const char* kActions[] = {"queued", "in_progress", "completed", "queued"};
    for (int k = 0; k < 256; ++k) {
      relayq::testing::JobSpec spec;
      spec.job_id = 29679449 + k;
      spec.run_id = 11185212 + k / 4;
      spec.repository = kRepos[k % 4];
      spec.action = kActions[(k / 4) % 4];
      if (spec.action != "queued") spec.runner_name = k % 3 ? "macmini" : "rpi4-a";
      if (spec.action == "completed") spec.conclusion = k % 5 ? "success" : "failure";
      if (k % 2) spec.labels = {"self-hosted", "rpi4", "audio"};
      spec.name = k % 3 ? "transcribe" : "summarize-" + std::to_string(k);
      out.push_back({relayq::testing::WorkflowJobPayload(spec), ""});
    }
  }
  for (SignedBody& b : out) b.signature = relayq::handlers::SignBody(b.body, o.secret);
  return out;
}

void Run(const Options& o, const std::vector<SignedBody>& bodies, int index,
         Clock::time_point start, Clock::time_point measure_from, Clock::time_point end,
         Worker& w) {
  int fd = Connect(o);
  std::string buf;
  uint64_t seq = 0;
  const double per_conn_rate = o.rate > 0 ? o.rate / o.connections : 0;
  // Connection `index` sends at start + (index + k * connections) / rate:
  // evenly spaced arrivals overall, not all connections at the same instant.
  Clock::time_point next_send =
      start + (per_conn_rate > 0
                   ? std::chrono::nanoseconds(static_cast<int64_t>(1e9 * index / o.rate))
                   : std::chrono::nanoseconds(0));
  while (Clock::now() < end) {
    if (fd < 0) {
      fd = Connect(o);
      if (fd < 0) {
        ++w.errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    if (per_conn_rate > 0) {
      std::this_thread::sleep_until(next_send);
      next_send += std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_conn_rate));
    }
    const SignedBody& chosen = bodies[(static_cast<size_t>(index) * 61 + seq) % bodies.size()];
    const std::string& body = chosen.body;
    const std::string& signature = chosen.signature;
    char id[96];
    std::snprintf(id, sizeof id, "%s-%d-%llu", o.prefix.c_str(), index,
                  static_cast<unsigned long long>(seq++));
    std::string head = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host +
                       "\r\nUser-Agent: GitHub-Hookshot/bench\r\nContent-Type: application/json"
                       "\r\nX-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: " +
                       id + "\r\nX-GitHub-Hook-ID: 4242\r\nX-Hub-Signature-256: " + signature +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(body.data()), body.size()}};
    const auto t0 = Clock::now();
    size_t total = head.size() + body.size(), sent = 0;
    bool failed = false;
    while (sent < total) {
      ssize_t n = writev(fd, iov, 2);
      if (n <= 0) {
        failed = true;
        break;
      }
      sent += static_cast<size_t>(n);
      size_t skip = static_cast<size_t>(n);
      for (auto& v : iov) {
        size_t d = std::min(skip, v.iov_len);
        v.iov_base = static_cast<char*>(v.iov_base) + d;
        v.iov_len -= d;
        skip -= d;
      }
    }
    int status = failed ? -1 : ReadResponse(fd, buf);
    const auto t1 = Clock::now();
    if (status < 0) {
      ++w.errors;
      close(fd);
      fd = -1;
      continue;
    }
    if (status >= 200 && status < 300) {
      if (!o.ids_out.empty()) w.acked.emplace_back(id);
      if (t0 >= measure_from) {
        ++w.ok;
        w.latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
      }
    } else if (t0 >= measure_from) {
      ++w.non2xx;
    }
  }
  if (fd >= 0) close(fd);
}

// Sends one delivery over a fresh connection every millisecond until a 2xx
// answer or o.first_ok seconds; prints first_ok_ms (from this call).
bool WaitFirstOk(const Options& o, const std::string& body, const std::string& signature) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(static_cast<int64_t>(o.first_ok * 1000));
  std::string buf;
  for (uint64_t seq = 0; Clock::now() < deadline; ++seq) {
    int fd = Connect(o);
    if (fd >= 0) {
      std::string req = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host +
                        "\r\nContent-Type: application/json\r\nX-GitHub-Event: workflow_job"
                        "\r\nX-GitHub-Delivery: " +
                        o.prefix + "-first-" + std::to_string(seq) +
                        "\r\nX-Hub-Signature-256: " + signature +
                        "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body;
      int status = write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())
                       ? ReadResponse(fd, buf)
                       : -1;
      close(fd);
      if (status >= 200 && status < 300) {
        std::printf("first_ok_ms=%.1f\n",
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("first_ok_ms=timeout\n");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = std::stoi(v);
    else if (k == "--path")
      o.path = v;
    else if (k == "--connections")
      o.connections = std::stoi(v);
    else if (k == "--seconds")
      o.seconds = std::stod(v);
    else if (k == "--warmup")
      o.warmup = std::stod(v);
    else if (k == "--rate")
      o.rate = std::stod(v);
    else if (k == "--secret")
      o.secret = v;
    else if (k == "--body")
      o.body_file = v;
    else if (k == "--ids-out")
      o.ids_out = v;
    else if (k == "--prefix")
      o.prefix = v;
    else if (k == "--first-ok")
      o.first_ok = std::stod(v);
    else {
      std::fprintf(stderr, "loadgen: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.port <= 0) {
    std::fprintf(stderr, "loadgen: --port is required\n");
    return 2;
  }
  const std::vector<SignedBody> bodies = Bodies(o);
  if (o.first_ok > 0) return WaitFirstOk(o, bodies[0].body, bodies[0].signature) ? 0 : 1;
  size_t body_bytes = 0;
  for (const SignedBody& b : bodies) body_bytes += b.body.size();
  body_bytes /= bodies.size();

  std::vector<Worker> workers(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::milliseconds(static_cast<int64_t>(o.warmup * 1000));
  const auto end = measure_from + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));
  for (int i = 0; i < o.connections; ++i) {
    threads.emplace_back(Run, std::cref(o), std::cref(bodies), i, start, measure_from, end,
                         std::ref(workers[static_cast<size_t>(i)]));
  }
  for (auto& t : threads) t.join();

  std::vector<uint32_t> all;
  uint64_t ok = 0, errors = 0, non2xx = 0;
  for (auto& w : workers) {
    all.insert(all.end(), w.latencies_us.begin(), w.latencies_us.end());
    ok += w.ok;
    errors += w.errors;
    non2xx += w.non2xx;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) -> double {
    if (all.empty()) return 0;
    size_t i = std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())));
    return all[i] / 1000.0;
  };
  if (!o.ids_out.empty()) {
    std::ofstream out(o.ids_out);
    for (auto& w : workers)
      for (auto& id : w.acked) out << id << "\n";
  }
  std::printf(
      "connections=%d seconds=%.1f body_bytes=%zu ok=%llu rps=%.0f p50_ms=%.3f p99_ms=%.3f "
      "max_ms=%.3f non2xx=%llu errors=%llu\n",
      o.connections, o.seconds, body_bytes, static_cast<unsigned long long>(ok),
      static_cast<double>(ok) / o.seconds, pct(0.50), pct(0.99),
      all.empty() ? 0 : all.back() / 1000.0, static_cast<unsigned long long>(non2xx),
      static_cast<unsigned long long>(errors));
  return 0;
}
