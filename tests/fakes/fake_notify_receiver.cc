#include "tests/fakes/fake_notify_receiver.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "common/mutex.h"

namespace relayq::testing {

std::string NotifyRequest::Header(std::string_view name) const {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(lower);
  return it == headers.end() ? std::string() : it->second;
}

struct FakeNotifyReceiver::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;

  mutable Mutex mu;
  std::vector<NotifyRequest> requests GUARDED_BY(mu);
  int fail_times GUARDED_BY(mu) = 0;
  int fail_status GUARDED_BY(mu) = 500;
  std::string fail_body GUARDED_BY(mu);
  int drop_times GUARDED_BY(mu) = 0;

  void Handle(const httplib::Request& req, httplib::Response& res) {
    NotifyRequest r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [k, v] : req.headers) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[lower] = v;
    }
    r.body = req.body;
    MutexLock lock(mu);
    if (drop_times > 0) {
      --drop_times;
      // Promise a body, then fail to write it: the server closes the
      // connection and the client sees no answer.
      res.status = 200;
      res.set_content_provider(1024, "text/plain",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
      r.answered = 0;
    } else if (fail_times > 0) {
      --fail_times;
      res.status = fail_status;
      res.set_content(fail_body, "text/plain");
      r.answered = fail_status;
    } else {
      res.status = 200;
      res.set_content(R"({"id":"fake","event":"message"})", "application/json");
      r.answered = 200;
    }
    requests.push_back(std::move(r));
  }
};

Result<std::unique_ptr<FakeNotifyReceiver>> FakeNotifyReceiver::Start() {
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  auto handler = [raw](const httplib::Request& req, httplib::Response& res) {
    raw->Handle(req, res);
  };
  impl->server.Post(R"(/.*)", handler);
  impl->server.Put(R"(/.*)", handler);
  impl->port = impl->server.bind_to_any_port("127.0.0.1");
  if (impl->port <= 0) return Status::Unavailable("the fake notify receiver cannot bind");
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  // Until it serves (an event of the server's own, not a fixed sleep).
  for (int i = 0; i < 5000 && !impl->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!impl->server.is_running()) {
    impl->server.stop();
    impl->thread.join();
    return Status::Unavailable("the fake notify receiver did not start");
  }
  return std::unique_ptr<FakeNotifyReceiver>(new FakeNotifyReceiver(std::move(impl)));
}

FakeNotifyReceiver::FakeNotifyReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FakeNotifyReceiver::~FakeNotifyReceiver() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeNotifyReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void FakeNotifyReceiver::FailNext(int times, int status, std::string body) {
  MutexLock lock(impl_->mu);
  impl_->fail_times = times;
  impl_->fail_status = status;
  impl_->fail_body = std::move(body);
}

void FakeNotifyReceiver::DropNext(int times) {
  MutexLock lock(impl_->mu);
  impl_->drop_times = times;
}

std::vector<NotifyRequest> FakeNotifyReceiver::requests() const {
  MutexLock lock(impl_->mu);
  return impl_->requests;
}

std::vector<NotifyRequest> FakeNotifyReceiver::accepted() const {
  std::vector<NotifyRequest> out;
  for (auto& r : requests()) {
    if (r.accepted()) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace relayq::testing
