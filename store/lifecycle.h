// The job and run lifecycle state machines: pure merge functions.
//
// GitHub may deliver events in any order and more than once, and its
// timestamps have one-second resolution, so ties are common. The rules:
//   - A job moves only forward in lifecycle order:
//       waiting (environment approval) < queued < in_progress < completed.
//     An event of an earlier or equal stage never moves the status back; it
//     may still fill in facts the state lacks (labels, queue time, runner).
//   - Order is decided by lifecycle stage, never by timestamp alone.
//   - A run attempt moves forward likewise:
//       requested/queued/pending/waiting < in_progress < completed;
//     within one stage the event with the later `updated_at` wins.
//   - A re-run is a new attempt (runs) or new job ids (jobs): a new lifecycle.
//   - Runner fields on a queued or waiting event are ignored (GitHub sometimes
//     fills them before a runner has the job).
// Pure functions; thread-safe.
#pragma once

#include <optional>

#include "store/model.h"

namespace relayq::store {

// Lifecycle stage of a job status (0 for an unknown status).
int JobStage(std::string_view status);
// Lifecycle stage of a run status (0 for an unknown status).
int RunStage(std::string_view status);

struct JobMerge {
  JobState state;
  bool changed = false;        // the state differs from `current`
  bool status_changed = false; // the event moved the job to a later stage
};

// Merges `event` (received at `received_at`) into `current` (nullopt for a
// job not seen before).
JobMerge MergeJobEvent(const std::optional<JobState>& current, const JobEvent& event,
                       int64_t received_at);

struct RunMerge {
  RunState state;
  bool changed = false;
  bool status_changed = false;
};

RunMerge MergeRunEvent(const std::optional<RunState>& current, const RunEvent& event);

}  // namespace relayq::store
