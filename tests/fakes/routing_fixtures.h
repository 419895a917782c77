// Small builders shared by the routing tests (RoutingHarness, the router
// and executor unit tests, the routing benchmark): deliveries of the shapes
// the router reacts to, and client options for the fake GitHub API.
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "github/http_github_client.h"
#include "store/model.h"

namespace relayq::testing {

// Client options for an HttpGitHubClient talking to a FakeGitHubServer at
// `api_url`: no write pacing, deterministic jitter.
inline github::ClientOptions FakeGitHubClientOptions(const std::string& api_url) {
  github::ClientOptions co;
  co.api_url = api_url;
  co.token = "t";
  co.write_interval = std::chrono::milliseconds(0);
  co.random = [] { return 0.5; };
  return co;
}

// A `workflow_job` delivery of a job queued now (`now`, Unix ms) on
// runners with `labels`.
inline store::Delivery QueuedJobDelivery(const std::string& repo, int64_t run_id, int64_t job_id,
                                         std::vector<std::string> labels, int64_t now) {
  store::Delivery d;
  d.event = "workflow_job";
  d.repository = repo;
  store::JobEvent e;
  e.job_id = job_id;
  e.run_id = run_id;
  e.repository = repo;
  e.labels = std::move(labels);
  e.status = e.action = "queued";
  e.created_at = now;
  d.job = e;
  return d;
}

// A `workflow_run` delivery of run `run_id` of workflow file `path` in
// `status` (and `conclusion`, when not empty), updated now.
inline store::Delivery RunDelivery(const std::string& repo, int64_t run_id, const std::string& path,
                                   const std::string& status, const std::string& conclusion,
                                   int64_t now) {
  store::Delivery d;
  d.event = "workflow_run";
  d.repository = repo;
  store::RunEvent e;
  e.run_id = run_id;
  e.repository = repo;
  e.workflow_path = path;
  e.status = status;
  e.action = status == "completed" ? "completed" : "requested";
  if (!conclusion.empty()) e.conclusion = conclusion;
  e.head_branch = "main";
  e.updated_at = now;
  d.run = e;
  return d;
}

}  // namespace relayq::testing
