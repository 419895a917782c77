// Sender: delivers one notification to one target over HTTP(S), once (the
// outbox retries: handlers/action_executor.cc). HttpSender is the real one;
// tests use a real loopback receiver (tests/fakes/fake_notify_receiver.h).
//
// Outcomes: Ok with the receiver's status code for a 2xx answer;
// Unavailable (worth retrying) when the receiver could not be reached,
// dropped the connection, timed out, or answered 408, 429 or 5xx;
// PermissionDenied for 401/403 and InvalidArgument for any other answer
// (retrying will not help). Messages name the target and its answer (status
// and the first line of its body), never its URL, token or header values
// (an ntfy topic URL is a secret of its own).
//
// Thread safety: Send may be called from several threads at once; each call
// uses its own connection.
#pragma once

#include "common/result.h"
#include "notify/notification.h"

namespace relayq::notify {

class Sender {
 public:
  virtual ~Sender() = default;
  // Sends `n` to `target` once; see the file comment.
  virtual Result<int> Send(const Target& target, const Notification& n) = 0;
};

class HttpSender final : public Sender {
 public:
  // `ca_bundle_path`: the CA certificates that https targets are verified
  // against.
  explicit HttpSender(std::string ca_bundle_path = "/etc/ssl/certs/ca-certificates.crt")
      : ca_bundle_path_(std::move(ca_bundle_path)) {}
  Result<int> Send(const Target& target, const Notification& n) override;

 private:
  const std::string ca_bundle_path_;
};

}  // namespace relayq::notify
