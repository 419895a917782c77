// GitHubClient: the calls relayq makes to GitHub's REST API.
//
// This is the narrow interface the rest of relayq depends on; the one real
// implementation is HttpGitHubClient (http_github_client.h), and tests may
// substitute their own. Repositories are named "owner/name".
//
// Error policy (every implementation follows it, so callers can decide
// without looking at HTTP codes):
//   NotFound          404 (or 410): the repository, run, hook... does not exist
//                     or the credentials cannot see it. Never retried.
//   Conflict          409: the operation collides with the resource's state
//                     (e.g. cancelling a run that already completed).
//   PermissionDenied  401, or 403 that is not a rate limit. Never retried.
//   InvalidArgument   400/422 and other 4xx: the request itself is wrong.
//                     Never retried.
//   RateLimited       GitHub kept asking us to slow down after the allowed
//                     waits, or the next allowed time is too far away.
//   Unavailable       network errors and 5xx after retries were exhausted, or
//                     an answer that is not the JSON GitHub documents, or the
//                     process is stopping (the request was not sent).
//   OutcomeUnknown    only from the non-idempotent calls (DispatchWorkflow,
//                     CancelRun): the request was sent once and may have taken
//                     effect (timeout, lost connection, 5xx). It is never
//                     resent; the caller finds out (the run by its
//                     [relayq:ID] title, the run's status) before sending again.
// Status messages name the method and path and GitHub's own message, and
// never contain a token, a JWT or a private key.
//
// Thread safety: implementations are thread-safe; calls may block while the
// client backs off or waits for a rate limit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "github/types.h"

namespace relayq::github {

// Counters for metrics. A snapshot; values only grow except the rate-limit ones.
struct ClientStats {
  // The last x-ratelimit-remaining / x-ratelimit-reset (Unix seconds) seen.
  std::optional<int64_t> rate_limit_remaining;
  std::optional<int64_t> rate_limit_reset_unix;
  std::map<int, int64_t> responses_by_status;  // HTTP status -> answers received
  int64_t network_errors = 0;                  // requests that got no HTTP answer
  int64_t retries = 0;                         // requests sent again after a failure
  int64_t rate_limit_waits = 0;                // waits caused by a rate limit or Retry-After
  int64_t token_exchanges = 0;                 // GitHub App installation tokens obtained
};

class GitHubClient {
 public:
  virtual ~GitHubClient() = default;

  // Triggers a workflow_dispatch of `workflow` (file name such as
  // "transcribe_mac.yml", or its numeric id) on `ref` with `inputs`. With
  // `return_run_details`, asks GitHub for the new run's id; if the server is
  // an older GHES that rejects the field (400/422), the dispatch is sent once
  // more without it and the result's run_id is empty. Success means GitHub
  // accepted the dispatch. It is sent at most once: a timeout or 5xx fails
  // with OutcomeUnknown (a run may exist: dispatched runs carry relayq_id in
  // their title, so the caller can look), a rate limit with RateLimited.
  virtual Result<DispatchResult> DispatchWorkflow(std::string_view repo, std::string_view workflow,
                                                  std::string_view ref,
                                                  const std::map<std::string, std::string>& inputs,
                                                  bool return_run_details) = 0;

  // Asks GitHub to cancel run `run_id`. Ok once GitHub accepted (202);
  // Conflict when the run cannot be cancelled (already completed). Sent at
  // most once: OutcomeUnknown when it may have taken effect unanswered.
  virtual Status CancelRun(std::string_view repo, int64_t run_id) = 0;

  // The repository's default branch (GET /repos/{owner}/{repo}), the ref a
  // dispatch without one runs on (as `gh workflow run` does).
  virtual Result<std::string> DefaultBranch(std::string_view repo) = 0;

  virtual Result<WorkflowRun> GetRun(std::string_view repo, int64_t run_id) = 0;
  virtual Result<WorkflowJob> GetJob(std::string_view repo, int64_t job_id) = 0;

  // Runs whose status is `status` ("queued", "in_progress", ...), newest
  // first, following pagination up to the client's page limit.
  virtual Result<std::vector<WorkflowRun>> ListRunsWithStatus(std::string_view repo,
                                                              std::string_view status) = 0;

  // All self-hosted runners of the repository (every page).
  virtual Result<std::vector<Runner>> ListRunners(std::string_view repo) = 0;

  // Repository webhooks (every page).
  virtual Result<std::vector<Hook>> ListHooks(std::string_view repo) = 0;
  // Creates a webhook; returns it as GitHub stored it.
  virtual Result<Hook> CreateHook(std::string_view repo, const HookSpec& spec) = 0;
  // Replaces URL, secret, events, content type and active flag of hook `hook_id`.
  virtual Result<Hook> UpdateHook(std::string_view repo, int64_t hook_id, const HookSpec& spec) = 0;
  // Deletes webhook `hook_id` (NotFound when it is not there).
  virtual Status DeleteHook(std::string_view repo, int64_t hook_id) = 0;

  // One page (at most `per_page`, 1..100) of the hook's deliveries, newest
  // first, starting at `cursor` (empty for the first page; then the previous
  // page's next_cursor).
  virtual Result<DeliveryPage> ListHookDeliveries(std::string_view repo, int64_t hook_id,
                                                  int per_page, std::string_view cursor) = 0;
  // Asks GitHub to deliver delivery `delivery_id` of hook `hook_id` again.
  virtual Status RedeliverHookDelivery(std::string_view repo, int64_t hook_id,
                                       int64_t delivery_id) = 0;

  // A snapshot of the client's counters.
  virtual ClientStats Stats() const = 0;
};

}  // namespace relayq::github
