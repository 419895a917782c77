// POST /api/v1/dispatch on the admin listener: submit a job through a
// running relayq from any machine (`relayq dispatch --server`).
//
//   POST /api/v1/dispatch  {"repo": "OWNER/NAME", "workflow": "transcribe_mac.yml",
//                           "ref": "main", "inputs": {"url": "..."}}
//     202 {"id", "status": "dispatched"|"queued", "repository", "workflow", "ref",
//          "inputs", "run_id", "run_url", "last_error", "last_tried_at", "next_try_at",
//          "action_id"}
//
// The request is recorded durably first (with its `dispatch:ID` action,
// claimed by this route), then tried once on GitHub with a client bounded to
// a few seconds. "dispatched": GitHub accepted it (run_id/run_url when GitHub
// returned them). "queued": GitHub did not answer or rate-limited; the
// daemon's executor sends it (next_try_at) and last_error/last_tried_at say
// what the try met. Refusals: 400 with the reason (bad JSON, a missing or
// unknown field, a repository that is not OWNER/NAME or is outside
// webhook.allow / github.repositories, inputs that are not an object of
// strings, numbers and booleans, more than kMaxDispatchInputs inputs, the
// reserved relayq_id input, a bad Idempotency-Key); 413 over
// kMaxDispatchBodyBytes; 415 for a content type other than JSON; 503 when the
// daemon has no GitHub credentials (nothing recorded: nothing would send
// it). GitHub refusing the dispatch for good answers 422 (unknown workflow:
// GitHub's 404; bad inputs or ref: its 422) or 502 (relayq's credentials
// refused), with the request recorded as failed and its id in the answer.
//
// Idempotency: an `Idempotency-Key` header is stored with the request
// (unique); a repeat answers that request's current state (as above; 409
// when the repeat asks for something else) and never dispatches twice.
//
// The workflow may be a bare name ("transcribe_mac" -> "transcribe_mac.yml")
// or a path (only its file name is used); an absent ref means the
// repository's default branch, learnt when the request is sent.
//
// Thread safety: the route runs on the admin listener's worker pool; several
// submissions may run at once (each holds its own claim).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "server/config.h"
#include "server/http.h"
#include "store/action_store.h"

namespace relayq::server {

// The largest body POST /api/v1/dispatch takes (413 over it).
inline constexpr size_t kMaxDispatchBodyBytes = 64 * 1024;
// GitHub's limit on a workflow_dispatch's inputs (25 since December 2025;
// it was 10). relayq adds relayq_id when the workflow declares it.
inline constexpr size_t kMaxDispatchInputs = 25;

// Which repositories may be dispatched to: webhook.allow (repositories and
// owners) and github.repositories, each when not empty.
struct DispatchRules {
  std::vector<std::string> allow;
  std::vector<std::string> repositories;
};

// A validated submission.
struct DispatchSubmission {
  std::string repository;
  std::string workflow;  // a file name, e.g. transcribe_mac.yml, or a numeric id
  std::string ref;       // empty: the repository's default branch
  std::map<std::string, std::string> inputs;
};

// The workflow file a user means: the file name of a path, and a bare name
// with ".yml" appended ("transcribe_mac" -> "transcribe_mac.yml"); a name
// ending in .yml or .yaml, or a numeric workflow id, is kept as it is.
std::string WorkflowFileName(std::string_view workflow);

// Ok when `repo` is OWNER/NAME as GitHub spells names (letters, digits, '-',
// '_', '.') and allowed by `rules`; InvalidArgument saying why otherwise.
Status CheckDispatchRepository(std::string_view repo, const DispatchRules& rules);

// Parses and validates a POST /api/v1/dispatch body (see the file comment);
// InvalidArgument with a reason a person can act on. Pure.
Result<DispatchSubmission> ParseDispatchSubmission(std::string_view body,
                                                   const DispatchRules& rules);

struct DispatchApiDeps {
  store::ActionStore& actions;
  const Config& config;  // GitHub client settings, webhook.allow, github.repositories
  Clock& clock;
  MetricsRegistry& metrics;
  // Wakes the daemon's executor after a submission left queued, so it
  // schedules its next try (null: nothing to wake).
  std::function<void()> wake_executor;
};

// What the route keeps running; Stop() ends a GitHub try in flight at once
// (the request stays queued for the next start). Call before the admin
// listener stops; keep the object until it has.
class DispatchService {
 public:
  virtual ~DispatchService() = default;
  virtual void Stop() = 0;
  // SIGHUP: webhook.allow as reloaded; later submissions are checked
  // against it (github.repositories, like every github.* key, needs a
  // restart).
  virtual void SetAllow(std::vector<std::string> allow) = 0;
};

// Adds POST /api/v1/dispatch to `router`. Fails when the GitHub client
// cannot be built from the configured credentials.
Result<std::unique_ptr<DispatchService>> AddDispatchApi(Router& router, DispatchApiDeps deps);

}  // namespace relayq::server
