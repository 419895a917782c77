#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/time_format.h"
#include "store/lifecycle.h"
#include "store/query_internal.h"

namespace relayq::store {

std::string_view RequestOutcomeName(RequestOutcome o) {
  switch (o) {
    case RequestOutcome::kInProgress:
      return "in_progress";
    case RequestOutcome::kSuccess:
      return "success";
    case RequestOutcome::kFailure:
      return "failure";
    case RequestOutcome::kCancelled:
      return "cancelled";
  }
  return "in_progress";
}

namespace {

using ActionRow = StoryRow<ActionRecord>;

std::optional<int64_t> IntOf(const Record& r, const char* name) {
  const Field* f = r.Get(name);
  if (f == nullptr || (f->type != Field::Type::kInt && f->type != Field::Type::kTime)) {
    return std::nullopt;
  }
  return f->i;
}

std::optional<std::string> TextOf(const Record& r, const char* name) {
  const Field* f = r.Get(name);
  if (f == nullptr || f->type != Field::Type::kText || f->s.empty()) return std::nullopt;
  return f->s;
}

// A string value of a stored JSON object, or empty.
std::string JsonText(const std::string& text, const char* key) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Id(int64_t v) { return std::to_string(v); }

std::string Labels(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& l : labels) out += (out.empty() ? "" : ", ") + l;
  return out.empty() ? "no labels" : out;
}

// " (attempt N)" for a re-run, nothing for the first attempt.
std::string AttemptNote(std::optional<int64_t> attempt) {
  return attempt && *attempt > 1 ? " (attempt " + Id(*attempt) + ")" : "";
}

// "; last error: E; next try at T" for an action still to be carried out.
std::string RetryNote(const ActionRecord& a) {
  std::string out;
  if (a.last_error) out += "; last error: " + *a.last_error;
  if (a.status == ActionStatus::kPending && a.next_attempt_at) {
    out += "; next try at " + FormatRfc3339(*a.next_attempt_at);
  }
  return out;
}

// Combines the outcomes of parts that must all succeed: anything still in
// progress keeps the whole in progress; then failure, then cancelled.
RequestOutcome Worst(RequestOutcome a, RequestOutcome b) {
  auto rank = [](RequestOutcome o) {
    switch (o) {
      case RequestOutcome::kInProgress:
        return 3;
      case RequestOutcome::kFailure:
        return 2;
      case RequestOutcome::kCancelled:
        return 1;
      case RequestOutcome::kSuccess:
        return 0;
    }
    return 3;
  };
  return rank(a) >= rank(b) ? a : b;
}

RequestOutcome OfConclusion(const std::optional<std::string>& c) {
  if (!c) return RequestOutcome::kFailure;
  if (*c == "success" || *c == "neutral" || *c == "skipped") return RequestOutcome::kSuccess;
  if (*c == "cancelled") return RequestOutcome::kCancelled;
  return RequestOutcome::kFailure;
}

bool StillToRun(ActionStatus s) {
  return s == ActionStatus::kScheduled || s == ActionStatus::kPending ||
         s == ActionStatus::kRunning;
}

class Teller {
 public:
  explicit Teller(StoryRows& rows) : rows_(rows) {}

  struct Told {
    RequestOutcome outcome = RequestOutcome::kInProgress;
    std::string why;
  };

  // Tells request `id` (and what it led to) at `depth`; `created_by` is the
  // fallback or chain action that created it, when the caller knows it.
  Result<Told> Tell(int64_t id, int depth, const ActionRow* created_by);

  RequestStory TakeStory() {
    std::stable_sort(steps_.begin(), steps_.end(),
                     [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
    for (Keyed& k : steps_) story_.steps.push_back(std::move(k.step));
    std::sort(story_.actions.begin(), story_.actions.end(), [](const Record& a, const Record& b) {
      return IntOf(a, "created_at").value_or(0) < IntOf(b, "created_at").value_or(0);
    });
    return std::move(story_);
  }

 private:
  struct Keyed {
    int64_t key;  // sort time: the step's time, never before what it follows
    StoryStep step;
  };

  // Adds `step` (of request `id` at `depth`), sorted at its time but never
  // before `floor`.
  void Add(StoryStep step, int64_t floor) {
    const int64_t key = std::max(step.at.value_or(floor), floor);
    steps_.push_back({key, std::move(step)});
  }

  Result<std::optional<ActionRow>> Creator(const DispatchRequest& r);

  StoryRows& rows_;
  RequestStory story_;
  std::vector<Keyed> steps_;
  std::set<int64_t> seen_;
};

// The action that created (and sends) request `r`: its `dispatch:ID` action,
// else the fallback or chain on its parent's run that names it.
Result<std::optional<ActionRow>> Teller::Creator(const DispatchRequest& r) {
  RELAYQ_ASSIGN_OR_RETURN(std::optional<ActionRow> own, rows_.ActionByKey("dispatch:" + Id(r.id)));
  if (own || !r.parent_id) return own;
  RELAYQ_ASSIGN_OR_RETURN(std::optional<StoryRow<DispatchRequest>> parent,
                          rows_.Request(*r.parent_id));
  if (!parent || !parent->value.run_id) return std::optional<ActionRow>();
  RELAYQ_ASSIGN_OR_RETURN(std::vector<ActionRow> actions,
                          rows_.ActionsOfRun(*parent->value.run_id));
  for (ActionRow& a : actions) {
    if (IntOf(a.record, "request_id") == r.id) return std::optional<ActionRow>(std::move(a));
  }
  return std::optional<ActionRow>();
}

Result<Teller::Told> Teller::Tell(int64_t id, int depth, const ActionRow* created_by) {
  if (seen_.count(id) != 0 || static_cast<int>(seen_.size()) >= kMaxStoryRequests) {
    return Told{RequestOutcome::kFailure, "the story is cut at request " + Id(id) +
                                              " (a loop, or more than " + Id(kMaxStoryRequests) +
                                              " requests)"};
  }
  seen_.insert(id);
  RELAYQ_ASSIGN_OR_RETURN(std::optional<StoryRow<DispatchRequest>> row, rows_.Request(id));
  if (!row) {
    if (depth == 0) return Status::NotFound("no request " + Id(id));
    return Told{RequestOutcome::kFailure, "request " + Id(id) + " is not recorded"};
  }
  const DispatchRequest& r = row->value;
  if (depth == 0) story_.request = row->record;
  story_.requests.push_back(row->record);

  std::optional<ActionRow> found;
  if (created_by == nullptr) {
    RELAYQ_ASSIGN_OR_RETURN(found, Creator(r));
    if (found) created_by = &*found;
  }
  std::vector<StoryRow<RunState>> runs;
  std::vector<JobState> jobs;
  std::vector<ActionRow> actions;
  if (r.run_id) {
    RELAYQ_ASSIGN_OR_RETURN(runs, rows_.Runs(*r.run_id));
    RELAYQ_ASSIGN_OR_RETURN(jobs, rows_.Jobs(*r.run_id));
    RELAYQ_ASSIGN_OR_RETURN(actions, rows_.ActionsOfRun(*r.run_id));
  }
  for (const auto& run : runs) story_.runs.push_back(run.record);
  if (created_by != nullptr && created_by->value.kind == ActionKind::kDispatch) {
    story_.actions.push_back(created_by->record);
  }
  for (const ActionRow& a : actions) story_.actions.push_back(a.record);

  auto step = [&](std::optional<int64_t> at, std::string kind, std::string detail) {
    StoryStep s;
    s.at = at;
    s.request_id = id;
    s.depth = depth;
    s.step = std::move(kind);
    s.detail = std::move(detail);
    return s;
  };

  // Submitted, and by whom: a dispatch action's reason says how it came
  // ("submitted with relayq dispatch").
  std::string by = "by relayq dispatch";
  if (created_by != nullptr && created_by->value.kind == ActionKind::kDispatch &&
      !created_by->value.reason.empty()) {
    by = created_by->value.reason;
  }
  if (created_by != nullptr && created_by->value.kind == ActionKind::kFallback) {
    by = "by the fallback of request " + (r.parent_id ? Id(*r.parent_id) : std::string("?")) +
         " (action " + Id(created_by->value.id) + ")";
  } else if (created_by != nullptr && created_by->value.kind == ActionKind::kChain) {
    by = "by chain " + JsonText(created_by->value.payload, "chain") + " after request " +
         (r.parent_id ? Id(*r.parent_id) : std::string("?")) + " (action " +
         Id(created_by->value.id) + ")";
  } else if (r.parent_id) {
    by = "after request " + Id(*r.parent_id);
  }
  {
    StoryStep s = step(r.created_at, "submitted",
                       r.workflow + " on " + r.ref + " of " + r.repository + ", " + by);
    if (created_by != nullptr) s.action_id = created_by->value.id;
    Add(std::move(s), r.created_at);
  }

  // Sent to GitHub, waiting to be sent, or refused.
  std::optional<std::string> run_url;
  if (created_by != nullptr) run_url = TextOf(created_by->record, "result_run_url");
  for (auto it = runs.rbegin(); it != runs.rend() && !run_url; ++it) run_url = it->value.html_url;
  int64_t sent_at = r.created_at;
  if (r.status == RequestStatus::kDispatched) {
    std::optional<int64_t> at = r.updated_at;
    if (created_by != nullptr && created_by->value.done_at) at = created_by->value.done_at;
    std::optional<int64_t> run_id = r.run_id;
    if (!run_id && created_by != nullptr) run_id = IntOf(created_by->record, "result_run_id");
    StoryStep s = step(at, "dispatched",
                       "GitHub accepted it; " + (run_id ? "run " + Id(*run_id)
                                                        : std::string("its run is not known yet")));
    s.run_id = run_id;
    s.run_url = run_url;
    if (created_by != nullptr) s.action_id = created_by->value.id;
    sent_at = std::max(sent_at, at.value_or(sent_at));
    Add(std::move(s), r.created_at);
  } else if (r.status == RequestStatus::kFailed) {
    std::string why = r.last_error.value_or("");
    if (why.empty() && created_by != nullptr) why = created_by->value.last_error.value_or("");
    StoryStep s = step(r.updated_at, "dispatch_failed",
                       "not sent: " + (why.empty() ? std::string("GitHub refused it") : why));
    if (created_by != nullptr) s.action_id = created_by->value.id;
    Add(std::move(s), r.created_at);
    return Told{RequestOutcome::kFailure,
                "request " + Id(id) + " could not be dispatched" + (why.empty() ? "" : ": " + why)};
  } else {
    std::string detail = "not sent to GitHub yet";
    std::optional<int64_t> at = r.created_at;
    if (created_by != nullptr) {
      at = created_by->value.updated_at;
      detail += RetryNote(created_by->value);
      if (created_by->value.status == ActionStatus::kRunning) detail += "; being sent now";
    }
    StoryStep s = step(at, "queued", detail);
    if (created_by != nullptr) s.action_id = created_by->value.id;
    Add(std::move(s), r.created_at);
  }

  // The runs (re-run attempts first, their ends after their jobs) and jobs.
  for (const auto& run : runs) {
    const RunState& u = run.value;
    if (u.attempt > 1) {
      StoryStep s = step(u.created_at, "run_requested",
                         "run " + Id(u.id) + " re-run" + AttemptNote(u.attempt));
      s.run_id = u.id;
      s.run_attempt = u.attempt;
      s.run_url = u.html_url;
      Add(std::move(s), sent_at);
    }
  }
  for (const JobState& j : jobs) {
    auto job_step = [&](std::optional<int64_t> at, const char* kind, std::string detail) {
      StoryStep s = step(at, kind, "job " + j.name + AttemptNote(j.run_attempt) + " " + detail);
      s.run_id = j.run_id;
      s.run_attempt = j.run_attempt;
      s.job_id = j.id;
      return s;
    };
    Add(job_step(j.queued_at, "job_queued", "queued on " + Labels(j.labels)), sent_at);
    if (j.started_at && j.runner_name) {
      Add(job_step(j.started_at, "job_started", "started on " + *j.runner_name), sent_at);
    }
    if (JobStageOf(j.status) == JobStage::kCompleted) {
      StoryStep s = job_step(j.completed_at ? j.completed_at : std::optional<int64_t>(j.updated_at),
                             "job_finished", j.conclusion.value_or("completed"));
      s.conclusion = j.conclusion;
      Add(std::move(s), sent_at);
    }
  }

  for (const auto& run : runs) {
    const RunState& u = run.value;
    if (RunStageOf(u.status) == RunStage::kCompleted) {
      StoryStep s = step(
          u.updated_at, "run_finished",
          "run " + Id(u.id) + AttemptNote(u.attempt) + " " + u.conclusion.value_or("completed"));
      s.run_id = u.id;
      s.run_attempt = u.attempt;
      s.run_url = u.html_url;
      s.conclusion = u.conclusion;
      Add(std::move(s), sent_at);
    }
  }

  // Fallbacks and chains on the runs, and the requests they led to.
  std::optional<Told> replaced;  // the outcome of a fallback that replaced the run
  bool fallback_under_way = false;
  std::vector<Told> chained;
  for (const ActionRow& row_a : actions) {
    const ActionRecord& a = row_a.value;
    const Record& rec = row_a.record;
    const std::optional<int64_t> new_request = IntOf(rec, "request_id");
    auto action_step = [&](std::optional<int64_t> at, const char* kind, std::string detail) {
      StoryStep s = step(at, kind, std::move(detail));
      s.action_id = a.id;
      s.run_id = IntOf(rec, "result_run_id");
      s.run_url = TextOf(rec, "result_run_url");
      s.new_request_id = new_request;
      return s;
    };
    const std::string target = TextOf(rec, "target_workflow").value_or("?");
    if (a.kind == ActionKind::kFallback) {
      const std::string why = TextOf(rec, "decision").value_or(a.reason);
      if (StillToRun(a.status)) {
        const bool under_way = a.status == ActionStatus::kRunning || a.result.has_value();
        fallback_under_way = fallback_under_way || a.status != ActionStatus::kScheduled;
        Add(action_step(a.created_at, "fallback_planned",
                        (under_way ? "fallback under way: " : "fallback planned: ") + a.reason +
                            RetryNote(a)),
            sent_at);
      } else if (a.status == ActionStatus::kDone) {
        std::string detail = "fell back to " + target + ": " + why;
        if (new_request) detail += "; new request " + Id(*new_request);
        if (auto run = IntOf(rec, "result_run_id")) detail += ", run " + Id(*run);
        auto at = IntOf(rec, "decided_at");
        Add(action_step(at ? at : a.done_at, "fallback", detail), sent_at);
      } else if (a.status == ActionStatus::kAborted) {
        Add(action_step(a.done_at, "fallback_aborted",
                        "no fallback: " + a.last_error.value_or(a.reason)),
            sent_at);
      } else if (a.status == ActionStatus::kRefused) {
        Add(action_step(
                a.done_at ? a.done_at : std::optional<int64_t>(a.created_at), "fallback_refused",
                "fallback refused: " + a.reason + (a.last_error ? " (" + *a.last_error + ")" : "")),
            sent_at);
      } else {
        Add(action_step(a.done_at, "fallback_failed",
                        "fallback failed: " + a.last_error.value_or(a.reason)),
            sent_at);
      }
      if (a.status == ActionStatus::kDone && new_request) {
        RELAYQ_ASSIGN_OR_RETURN(Told t, Tell(*new_request, depth + 1, &row_a));
        replaced = std::move(t);
      }
    } else if (a.kind == ActionKind::kChain) {
      const std::string chain = JsonText(a.payload, "chain");
      if (a.status == ActionStatus::kDone || StillToRun(a.status)) {
        std::string detail = "chain " + chain + ": " + target;
        detail += a.status == ActionStatus::kDone ? " dispatched" : " to be dispatched";
        if (new_request) detail += " as request " + Id(*new_request);
        if (a.status != ActionStatus::kDone) detail += RetryNote(a);
        Add(action_step(a.created_at, a.status == ActionStatus::kDone ? "chained" : "chain_pending",
                        detail),
            sent_at);
        if (new_request) {
          RELAYQ_ASSIGN_OR_RETURN(Told t, Tell(*new_request, depth + 1, &row_a));
          // A chain whose request exists but is not sent yet is in progress
          // whatever that request's own record says.
          if (a.status != ActionStatus::kDone)
            t.outcome = Worst(t.outcome, RequestOutcome::kInProgress);
          chained.push_back(std::move(t));
        } else if (a.status != ActionStatus::kDone) {
          chained.push_back({RequestOutcome::kInProgress, "chain " + chain + " is not sent yet"});
        }
      } else {
        Add(action_step(
                a.done_at, "chain_failed",
                "chain " + chain + " (" + target + ") failed: " + a.last_error.value_or(a.reason)),
            sent_at);
        chained.push_back(
            {RequestOutcome::kFailure, "chain " + chain + " of request " + Id(id) +
                                           " failed: " + a.last_error.value_or(a.reason)});
      }
    }
  }

  // The outcome: a fallback that replaced the run stands for it; otherwise
  // the latest attempt of the run, then every chain that followed it.
  if (replaced) return *replaced;
  if (fallback_under_way) {
    return Told{RequestOutcome::kInProgress, "a fallback of request " + Id(id) + " is under way"};
  }
  if (r.status != RequestStatus::kDispatched) {
    return Told{RequestOutcome::kInProgress, "request " + Id(id) + " is not sent yet"};
  }
  if (runs.empty()) {
    return Told{RequestOutcome::kInProgress,
                "request " + Id(id) + "'s run has not reported" +
                    (r.run_id ? " (run " + Id(*r.run_id) + ")" : std::string(""))};
  }
  const RunState& last = runs.back().value;
  if (RunStageOf(last.status) != RunStage::kCompleted) {
    return Told{RequestOutcome::kInProgress, "run " + Id(last.id) + AttemptNote(last.attempt) +
                                                 " of request " + Id(id) + " is " + last.status};
  }
  Told told{OfConclusion(last.conclusion), "run " + Id(last.id) + AttemptNote(last.attempt) +
                                               " of request " + Id(id) + " (" + r.workflow +
                                               ") ended " + last.conclusion.value_or("completed")};
  for (Told& t : chained) {
    RequestOutcome combined = Worst(told.outcome, t.outcome);
    if (combined != told.outcome || t.outcome == told.outcome) told.why = t.why;
    told.outcome = combined;
  }
  return told;
}

}  // namespace

Result<RequestStory> TellRequestStory(StoryRows& rows, int64_t id) {
  Teller teller(rows);
  RELAYQ_ASSIGN_OR_RETURN(Teller::Told told, teller.Tell(id, 0, nullptr));
  RequestStory story = teller.TakeStory();
  story.outcome = told.outcome;
  story.outcome_why = std::move(told.why);
  return story;
}

}  // namespace relayq::store
