#include "cli/status_cmd.h"

#include <iostream>
#include <set>
#include <thread>

#include "cli/admin_client.h"
#include "cli/audit_cmd.h"
#include "server/audit_json.h"
#include "store/query.h"

namespace relayq::cli {
namespace {

class ServerSource final : public StorySource {
 public:
  explicit ServerSource(std::unique_ptr<AdminClient> client) : client_(std::move(client)) {}

  Result<nlohmann::json> Story(int64_t id) override {
    RELAYQ_ASSIGN_OR_RETURN(AdminAnswer answer,
                            client_->Get("/api/v1/requests/" + std::to_string(id)));
    RELAYQ_RETURN_IF_ERROR(AnswerStatus(answer, *client_));
    if (!answer.body.is_object()) {
      return Status::Unavailable("relayq at " + client_->url() +
                                 " answered something that is not a request's story");
    }
    return std::move(answer.body);
  }

 private:
  std::unique_ptr<AdminClient> client_;
};

class StoreSource final : public StorySource {
 public:
  explicit StoreSource(std::unique_ptr<store::StoreReader> reader) : reader_(std::move(reader)) {}

  Result<nlohmann::json> Story(int64_t id) override {
    RELAYQ_ASSIGN_OR_RETURN(store::RequestStory story, reader_->Request(id));
    return server::RequestStoryJson(story);
  }

 private:
  std::unique_ptr<store::StoreReader> reader_;
};

// What identifies a step across reads: a step whose detail changes (a
// retried send, a fallback that went from planned to done) is a new line.
std::string StepKey(const nlohmann::json& step) {
  nlohmann::json k = step;
  k.erase("at");
  return k.dump();
}

// The id of `text`: a whole number from 1; nullopt otherwise.
std::optional<int64_t> ParseId(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int64_t id = std::stoll(text);
  if (id < 1) return std::nullopt;
  return id;
}

}  // namespace

Result<std::unique_ptr<StorySource>> ServerStorySource(const std::string& url, std::string token) {
  RELAYQ_ASSIGN_OR_RETURN(std::unique_ptr<AdminClient> client,
                          AdminClient::Create(url, std::move(token)));
  return std::unique_ptr<StorySource>(new ServerSource(std::move(client)));
}

Result<std::unique_ptr<StorySource>> StoreStorySource(const std::string& path) {
  RELAYQ_ASSIGN_OR_RETURN(std::unique_ptr<store::StoreReader> reader,
                          store::StoreReader::Open(path));
  return std::unique_ptr<StorySource>(new StoreSource(std::move(reader)));
}

int FollowRequest(StorySource& source, int64_t id, const FollowOptions& options,
                  std::ostream& progress, std::ostream& errors, nlohmann::json* last) {
  std::set<std::string> shown;
  int failures = 0;
  for (;;) {
    Result<nlohmann::json> story = source.Story(id);
    if (!story.ok()) {
      const Status::Code code = story.status().code();
      const bool passing =
          code == Status::Code::kUnavailable || code == Status::Code::kOutcomeUnknown;
      if (!passing || ++failures >= options.max_read_failures) {
        errors << "relayq: " << story.status().message() << "\n";
        errors.flush();
        return 1;
      }
      errors << "relayq: " << story.status().message() << "; trying again\n";
      errors.flush();
      std::this_thread::sleep_for(options.interval);
      continue;
    }
    failures = 0;
    auto steps = story->find("steps");
    if (steps != story->end() && steps->is_array()) {
      for (const auto& step : *steps) {
        if (shown.insert(StepKey(step)).second) progress << StoryStepLine(step) << "\n";
      }
    }
    progress.flush();
    if (story->value("finished", false)) {
      progress << StoryOutcomeLine(*story) << "\n";
      progress.flush();
      const bool success = story->value("outcome", std::string()) == "success";
      if (last != nullptr) *last = std::move(*story);
      return success ? 0 : 1;
    }
    std::this_thread::sleep_for(options.interval);
  }
}

CommandRun RegisterStatus(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string id, format = "table", server;
    bool wait = false;
    double interval = 2.0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "status",
      "One request's story: submitted, dispatched, queued, fallback, started, finished, chained "
      "requests, with run URLs");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("id", f->id, "The relayq id that relayq dispatch printed")->required();
  cmd->add_flag("--wait", f->wait,
                "Follow the request until the last run of its chain ends; exit 0 on success, 1 "
                "on failure or cancelled");
  cmd->add_option("--format", f->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--server", f->server,
                  "Admin URL of a running relayq (default: RELAYQ_SERVER, admin.server; "
                  "without one, the local store)");
  cmd->add_option("--interval", f->interval, "With --wait: seconds between two reads (default 2)")
      ->check(CLI::Range(0.05, 3600.0));

  return [f]() -> int {
    std::optional<int64_t> id = ParseId(f->id);
    if (!id) {
      std::cerr << "relayq: request id '" << SafeText(f->id.substr(0, 32))
                << "' is not a whole number from 1 (see relayq status --help)\n";
      return 2;
    }
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    // An explicit --db means the local store even when a server is
    // configured; an explicit --server wins over both.
    const std::string server =
        !f->server.empty() ? f->server : (f->common.db.empty() ? ChooseServer("", *config) : "");
    auto source = server.empty() ? StoreStorySource(config->db_path)
                                 : ServerStorySource(server, config->admin_token);
    if (!source.ok()) {
      if (source.status().code() == Status::Code::kInvalidArgument && !server.empty()) {
        std::cerr << "relayq: " << source.status().message() << "\n";
        return 2;
      }
      return FailWith(source.status());
    }
    if (!f->wait) {
      auto story = (*source)->Story(*id);
      if (!story.ok()) return FailWith(story.status());
      if (f->format == "json") {
        std::cout << story->dump(2) << "\n";
      } else {
        std::cout << StoryTable(*story);
      }
      std::cout.flush();
      return std::cout.good() ? 0 : 1;
    }
    FollowOptions options;
    options.interval = std::chrono::milliseconds(static_cast<int64_t>(f->interval * 1000));
    if (f->format == "json") {
      nlohmann::json last;
      int code = FollowRequest(**source, *id, options, std::cerr, std::cerr, &last);
      if (!last.is_null()) std::cout << last.dump(2) << "\n";
      return code;
    }
    return FollowRequest(**source, *id, options, std::cout, std::cerr);
  };
}

}  // namespace relayq::cli
