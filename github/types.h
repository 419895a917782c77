// The plain values the GitHub REST client hands back: workflow runs and jobs,
// self-hosted runners, repository webhooks and their deliveries.
//
// Only the fields relayq uses are kept; everything else GitHub sends is
// dropped while decoding. Times are Unix milliseconds (UTC), 0 when GitHub did
// not send one. Thread safety: plain values; copies are independent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace relayq::github {

// What a workflow_dispatch answered. GitHub (since February 2026) returns the
// new run's identity when asked with return_run_details; older GitHub
// Enterprise Servers do not, and then every optional field is empty and the
// caller must find the run another way (e.g. by its display title).
struct DispatchResult {
  std::optional<int64_t> run_id;
  std::optional<std::string> run_url;   // API URL of the run
  std::optional<std::string> html_url;  // the run's page for people
  // True when details were asked for but the server refused the field (old
  // GHES), so the dispatch was re-sent without it.
  bool run_details_unsupported = false;
};

// A workflow run (GET /repos/{owner}/{repo}/actions/runs/{id}).
struct WorkflowRun {
  int64_t id = 0;
  int64_t attempt = 1;        // run_attempt
  std::string name;           // the workflow's name
  std::string display_title;  // the run-name; carries relayq_id for dispatched runs
  std::string path;           // ".github/workflows/transcribe_mac.yml"
  std::string head_branch;
  std::string event;       // "workflow_dispatch", "push", ...
  std::string status;      // "queued", "in_progress", "completed", ...
  std::string conclusion;  // "" until completed; "success", "cancelled", ...
  std::string html_url;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// A job of a workflow run (GET /repos/{owner}/{repo}/actions/jobs/{id}).
struct WorkflowJob {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t attempt = 1;  // run_attempt
  std::string name;
  std::string workflow_name;
  std::string head_branch;
  std::string status;
  std::string conclusion;
  std::string runner_name;          // "" while no runner has taken it
  std::vector<std::string> labels;  // the runs-on labels the job asked for
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t completed_at_ms = 0;
};

// A self-hosted runner registered to a repository.
struct Runner {
  int64_t id = 0;
  std::string name;
  std::string os;      // "macOS", "Linux", ...
  std::string status;  // "online" or "offline"
  bool busy = false;
  std::vector<std::string> labels;  // including the default ones ("self-hosted", ...)

  bool online() const { return status == "online"; }
};

// What a repository webhook should look like; used to create and update one.
struct HookSpec {
  std::string url;                  // where GitHub delivers
  std::string secret;               // HMAC secret; sent to GitHub, never logged
  std::vector<std::string> events;  // e.g. {"workflow_job", "workflow_run"}
  std::string content_type = "json";
  bool active = true;
};

// A repository webhook as GitHub reports it (the secret is never returned).
struct Hook {
  int64_t id = 0;
  bool active = false;
  std::vector<std::string> events;
  std::string url;
  std::string content_type;
  // Whether the hook has a secret (GitHub shows only a mask, never its value).
  bool has_secret = false;
};

// One attempt of GitHub to deliver an event to a webhook.
struct HookDelivery {
  int64_t id = 0;    // the delivery attempt's id (used to redeliver)
  std::string guid;  // the X-GitHub-Delivery header value
  int64_t delivered_at_ms = 0;
  bool redelivery = false;
  int status_code = 0;  // what our endpoint answered; 0 when it was unreachable
  std::string status;   // GitHub's description ("OK", "failed to connect", ...)
  std::string event;
  std::string action;
};

// One page of deliveries, newest first. next_cursor is set when there are more.
struct DeliveryPage {
  std::vector<HookDelivery> deliveries;
  std::optional<std::string> next_cursor;
};

}  // namespace relayq::github
