// `relayq status ID [--wait] [--format table|json] [--server URL] [--db PATH]`:
// one dispatch request's story (submitted, dispatched or queued, its jobs
// queued and started, fallbacks, finished, chained requests and their runs,
// with run URLs), read through a running relayq's admin API
// (GET /api/v1/requests/{id}) or from a local store.
//
// Which: --server when given; else --db when given (the local store);
// else the configured server (RELAYQ_SERVER, admin.server); else the
// configured store. A local store must exist: it is opened read-only and
// never created.
//
// `--wait` follows the request (FollowRequest) until its outcome is final:
// the last run of its chain ended, a chained request dispatched later
// extending the wait and a fallback's run standing for the run it cancelled.
// Exit codes: 0 shown (or, with --wait, ended in success); 1 failure or
// cancelled (with --wait), an unknown id, a refused token, an unreachable
// server or store; 2 usage.
//
// Thread safety: a StorySource is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "common/result.h"

namespace relayq::cli {

// Where a request's story is read.
class StorySource {
 public:
  virtual ~StorySource() = default;
  // The story of request `id` as server::RequestStoryJson renders it (the
  // API's body). NotFound for an unknown id; PermissionDenied when a server
  // refused the token; Unavailable when it cannot be reached; the store's
  // error otherwise.
  virtual Result<nlohmann::json> Story(int64_t id) = 0;
};

// Reads through relayq's admin API at `url` with bearer `token`.
Result<std::unique_ptr<StorySource>> ServerStorySource(const std::string& url, std::string token);
// Reads the store at `path`, which must exist (NotFound otherwise).
Result<std::unique_ptr<StorySource>> StoreStorySource(const std::string& path);

struct FollowOptions {
  std::chrono::milliseconds interval{2000};  // between two reads
  // Consecutive failed reads (server restarting, store busy) tolerated
  // before giving up; an unknown id or a refused token ends at once.
  int max_read_failures = 5;
};

// Follows request `id` from `source` until its outcome is final: prints each
// step to `progress` once, as it appears (oldest first), then one line with
// the outcome. Returns 0 when it ended in success, 1 when it ended in
// failure or was cancelled, and 1 (with a "relayq: ..." line on `errors`)
// when the story cannot be read. `last`, when given, receives the last story
// read.
int FollowRequest(StorySource& source, int64_t id, const FollowOptions& options,
                  std::ostream& progress, std::ostream& errors, nlohmann::json* last = nullptr);

CommandRun RegisterStatus(CLI::App& app);

}  // namespace relayq::cli
