// Row <-> record conversions shared by the store's connections (private to
// store/). Each *FromRow reads the columns its k*Columns string lists, in
// that order, starting at column 0.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "store/model.h"
#include "store/sqlite_util.h"

namespace relayq::store {

inline constexpr const char* kJobColumns =
    "id, run_id, run_attempt, repository, workflow_name, name, labels, status, conclusion, "
    "runner_name, runner_group, queued_at, started_at, completed_at, updated_at";
inline constexpr const char* kRunColumns =
    "id, attempt, repository, workflow_path, workflow_name, display_title, event, status, "
    "conclusion, html_url, head_branch, head_sha, created_at, updated_at, run_started_at";
inline constexpr const char* kRequestColumns =
    "id, repository, workflow, ref, inputs, status, run_id, parent_id, fallback_count, "
    "last_error, created_at, updated_at";
inline constexpr const char* kActionColumns =
    "id, kind, key, repository, status, due_at, next_attempt_at, attempts, last_error, reason, "
    "payload, result, job_id, run_id, run_attempt, created_at, updated_at, done_at";

JobState JobFromRow(const Stmt& q);
RunState RunFromRow(const Stmt& q);
DispatchRequest RequestFromRow(const Stmt& q);
ActionRecord ActionFromRow(const Stmt& q);

std::string LabelsJson(const std::vector<std::string>& labels);
std::vector<std::string> ParseLabels(const std::string& text);
std::string InputsJson(const std::map<std::string, std::string>& inputs);

}  // namespace relayq::store
