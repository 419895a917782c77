// The query layer's private part (store/ only): the story of a dispatch
// request, i.e. how the rows a StoreReader reads (the request, its runs and
// jobs, the routing actions on them) become the steps and the outcome of a
// RequestStory (query.h). Implemented in request_story.cc.
//
// The telling is separate from the SQL so that the rules (what each action
// state means, which run decides the outcome, how fallbacks and chains are
// followed) live in one place: TellRequestStory. The outcome in particular
// is computed only here; `relayq status --wait`, the API and the tables all
// read it.
//
// Thread safety: TellRequestStory uses `rows` from the calling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/result.h"
#include "store/model.h"
#include "store/query.h"

namespace relayq::store {

// A row as typed values (for the rules) and as its list record (for output).
template <typename T>
struct StoryRow {
  T value;
  Record record;
};

// The reads a story needs. Each returns what is recorded, possibly nothing.
class StoryRows {
 public:
  virtual ~StoryRows() = default;
  virtual Result<std::optional<StoryRow<DispatchRequest>>> Request(int64_t id) = 0;
  // Every recorded attempt of run `run_id`, by attempt.
  virtual Result<std::vector<StoryRow<RunState>>> Runs(int64_t run_id) = 0;
  // Every job of run `run_id` (all attempts), by attempt then queue time.
  virtual Result<std::vector<JobState>> Jobs(int64_t run_id) = 0;
  // The routing actions recorded on run `run_id`, oldest first.
  virtual Result<std::vector<StoryRow<ActionRecord>>> ActionsOfRun(int64_t run_id) = 0;
  // The action with idempotency key `key`, if any.
  virtual Result<std::optional<StoryRow<ActionRecord>>> ActionByKey(const std::string& key) = 0;
};

// The story of request `id`; NotFound ("no request N") when it is not
// recorded.
Result<RequestStory> TellRequestStory(StoryRows& rows, int64_t id);

}  // namespace relayq::store
