// Realistic GitHub webhook payloads for tests and benchmarks.
//
// Shapes follow GitHub's documented `workflow_job` and `workflow_run`
// webhook payloads, quirks included: full repository/sender/organization
// objects (which make a workflow_job delivery 7-12 KB and a workflow_run
// delivery 15-25 KB), nulls where GitHub sends nulls, and knobs for the
// quirks seen in the wild (null labels, runner_name on a queued job, no
// display_title on older deliveries, fields GitHub adds later).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace relayq::testing {

struct JobSpec {
  int64_t job_id = 29679449;
  int64_t run_id = 11185212;
  int run_attempt = 1;
  std::string repository = "octo-org/media-kit";
  std::string action = "queued";          // queued, waiting, in_progress, completed
  std::optional<std::string> conclusion;  // for completed
  std::vector<std::string> labels = {"self-hosted", "macmini", "audio", "ffmpeg"};
  bool null_labels = false;
  std::string workflow_name = "transcribe_mac";
  std::string name = "transcribe";
  std::optional<std::string> runner_name;  // set for in_progress/completed
  std::string created_at = "2026-01-01T00:00:00Z";
  std::string started_at = "2026-01-01T00:00:30Z";
  std::string completed_at = "2026-01-01T00:05:00Z";
  int steps = 6;
  bool extra_unknown_fields = false;  // fields a future GitHub might add
};

struct RunSpec {
  int64_t run_id = 11185212;
  int run_attempt = 1;
  std::string repository = "octo-org/media-kit";
  std::string action = "requested";  // requested, in_progress, completed
  std::optional<std::string> conclusion;
  std::string path = ".github/workflows/transcribe_audio.yml";
  std::string name = "transcribe_audio";
  std::optional<std::string> display_title = "transcribe https://example.com/episode.mp3";
  std::string event = "workflow_dispatch";
  std::string created_at = "2026-01-01T00:00:00Z";
  std::string updated_at = "2026-01-01T00:00:00Z";
  std::string head_branch = "main";
};

std::string WorkflowJobPayload(const JobSpec& spec);
std::string WorkflowRunPayload(const RunSpec& spec);
std::string PingPayload(const std::string& repository, int64_t hook_id);

}  // namespace relayq::testing
