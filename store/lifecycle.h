// The job and run lifecycle state machines: pure merge functions, part of
// the store's domain with model.h (see there). No I/O, no SQL.
//
// GitHub may deliver events in any order and more than once, and its
// timestamps have one-second resolution, so ties are common. The rules:
//   - A job moves only forward in lifecycle order:
//       waiting (environment approval) < requested, pending (not yet queued
//       for a runner, e.g. behind a concurrency group) < queued <
//       in_progress < completed.
//     An event of an earlier or equal step never moves the status back; it
//     may still fill in facts the state lacks (labels, queue time, runner).
//   - queued_at is when the job entered `queued`: its created_at when the
//     first event relayq sees is already queued (or later); for a job first
//     seen waiting, requested or pending, created_at until it moves on, then
//     the time it was seen to move on (the delivery's received_at, at least
//     created_at, at most started_at), since GitHub's payloads carry no time
//     for that step. So a job approved after a long environment wait does
//     not count the wait as queue time (routing judges lateness from it).
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

// Lifecycle stage of a job, in order (compare with < and >=).
enum class JobStage {
  kUnknown,     // a status relayq does not know
  kWaiting,     // waiting (environment approval)
  kQueued,      // requested, pending or queued
  kInProgress,  // in_progress
  kCompleted,   // completed
};
// The stage of job status `status` (GitHub's name).
JobStage JobStageOf(std::string_view status);
// True when job status `later` is a later lifecycle step than `earlier`
// (finer than JobStageOf: pending and requested come before queued).
bool JobStatusIsLater(std::string_view later, std::string_view earlier);
// Lifecycle stage of a run attempt, in order.
enum class RunStage {
  kUnknown,     // a status relayq does not know
  kQueued,      // requested, queued, pending or waiting
  kInProgress,  // in_progress
  kCompleted,   // completed
};
// The stage of run status `status` (GitHub's name).
RunStage RunStageOf(std::string_view status);

struct JobMerge {
  JobState state;
  bool changed = false;         // the state differs from `current`
  bool status_changed = false;  // the event moved the job to a later stage
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
