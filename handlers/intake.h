// Intake: the path of one POST /webhook, after the HTTP layer has read it.
//
//   verify signature -> decode -> check the allow-list -> record (durably)
//
// and the answer to give GitHub. HandleAsync() checks, verifies and decodes on
// the caller's thread (the HTTP I/O thread) and gives its answer once the
// delivery is committed to the store (or has failed to be), so the HTTP layer
// can answer straight away. It never throws: every stranger's input ends in
// an answer. Thread-safe: called concurrently from the HTTP I/O threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "store/store.h"

namespace relayq::handlers {

struct IntakeOptions {
  // Webhook secrets; any one verifies (rotation). Never logged.
  std::vector<std::string> secrets;
  // Allowed repositories ("owner/name") and owners ("owner"); empty allows
  // every repository. Compared case-insensitively, as GitHub names are.
  std::vector<std::string> allow;
};

// One webhook request as the HTTP layer saw it.
struct WebhookRequest {
  std::string content_type;
  std::string event;        // X-GitHub-Event
  std::string delivery_id;  // X-GitHub-Delivery
  std::string signature;    // X-Hub-Signature-256
  std::string hook_id;      // X-GitHub-Hook-ID
  std::string body;
};

// The answer, plus what the access log line reports.
struct WebhookAnswer {
  int status = 500;
  std::string body;     // small JSON object saying what happened or why not
  std::string outcome;  // accepted, duplicate, ping, refused, undecodable, ignored, or an error
  std::string action;
  std::string repository;
};

class Intake {
 public:
  Intake(IntakeOptions options, store::Store& store, Clock& clock, MetricsRegistry& metrics);

  // Calls `done` exactly once: at once (on this thread) for a request that
  // is refused before it reaches the store, else after the store's commit
  // (on the store's writer thread; `done` must be quick).
  void HandleAsync(WebhookRequest request, std::function<void(WebhookAnswer)> done);

  // HandleAsync(), waiting for the answer (tests, tools).
  WebhookAnswer Handle(WebhookRequest request);

  // Replaces the secrets and the allow-list (a reload); requests already
  // being checked finish with the lists they started with.
  void SetOptions(IntakeOptions options);

 private:
  // The secrets and the allow-list, lower-cased; swapped whole by
  // SetOptions while requests read it.
  struct Lists {
    std::vector<std::string> secrets;
    std::vector<std::string> allow_lower;
  };
  static bool Allowed(const Lists& lists, const std::string& repository, const std::string& owner);
  WebhookAnswer Reject(int status, std::string_view outcome, std::string_view why);
  // The answer for a delivery the store has finished with: `a` carries the
  // status and outcome it gets when it was recorded anew.
  WebhookAnswer Committed(WebhookAnswer a, const std::string& delivery_id,
                          const Result<store::IngestResult>& r);

  static std::shared_ptr<const Lists> MakeLists(IntakeOptions options);
  std::atomic<std::shared_ptr<const Lists>> lists_;
  store::Store& store_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  Counter* signature_failures_;
};

}  // namespace relayq::handlers
