// FakeNotifyReceiver: a real HTTP server on 127.0.0.1 that plays a
// notification target (a JSON webhook or an ntfy server) for tests, in
// process or for a relayq process started by a test (point a notify target's
// url at url()).
//
// Every POST to any path is recorded (method, path, headers, body) and
// answered 200, unless a knob says otherwise: the next N requests answer a
// given status, or have their connection dropped mid-answer (the client sees
// no answer, as with a crash or a network cut). Recorded failures are kept
// too, marked as such, so a test sees every attempt.
//
// Thread safety: every method is thread-safe; handlers run on the server's
// own threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace relayq::testing {

struct NotifyRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int answered = 0;  // the status sent back; 0: the connection was dropped

  std::string Header(std::string_view name) const;
  bool accepted() const { return answered >= 200 && answered < 300; }
};

class FakeNotifyReceiver {
 public:
  // Binds 127.0.0.1 on a free port and serves on a background thread;
  // returns once it accepts connections. Unavailable if it cannot bind.
  static Result<std::unique_ptr<FakeNotifyReceiver>> Start();
  ~FakeNotifyReceiver();

  // "http://127.0.0.1:PORT" (append a path: url() + "/relayq").
  std::string url() const;

  // The next `times` requests are answered `status` (with `body`).
  void FailNext(int times, int status, std::string body = "fake failure");
  // The next `times` requests get no answer: the connection is dropped.
  void DropNext(int times);

  std::vector<NotifyRequest> requests() const;
  // Requests answered 2xx.
  std::vector<NotifyRequest> accepted() const;

 private:
  struct Impl;
  explicit FakeNotifyReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relayq::testing
