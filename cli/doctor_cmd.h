// `relayq doctor [--config FILE] [--db PATH] [--policy FILE] [--repo R ...]`:
// checks the whole set-up and prints a pass/fail line for each check, with a
// hint under each failure. Exit 0 when every check passes, 1 otherwise.
//
// Checks, in order: the configuration loads; a webhook secret is set; the
// store is writable; the policy loads; GitHub credentials are configured;
// then for each repository (--repo, else github.repositories): the token can
// read Actions runs and the self-hosted runners; relayq's webhook exists with
// events workflow_job and workflow_run, JSON, active, with a secret; its
// last delivery reached relayq; every route that applies to the repository
// has an online runner carrying its prefer labels and one carrying its
// fallback labels; and each route's constraints (needs_<label>) are carried
// by some runner that carries the fallback labels. No secret is ever
// printed. The RegisterDoctor entry point is declared in cli/command.h.
// Thread safety: reentrant functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "github/types.h"
#include "policy/policy.h"

namespace relayq::cli {

struct DoctorCheck {
  bool ok = false;
  std::string name;    // "runners octo/kit: transcribe prefer [macmini]"
  std::string detail;  // what was found
  std::string hint;    // what to do; set for failures
};

// The runner checks for `repo` against `policy` (pure): per route that
// applies to the repository, an online runner with all prefer labels, one
// with all fallback labels, and, when the route has constraints, a runner
// (online or not) carrying the fallback labels plus every required label.
// Labels compare case-insensitively, as GitHub matches them.
std::vector<DoctorCheck> CheckRunnersAgainstPolicy(const policy::Policy& policy,
                                                   const std::vector<github::Runner>& runners,
                                                   std::string_view repo);

// "PASS  name: detail" or "FAIL  name: detail\n      hint: ...", '\n'-terminated.
std::string FormatCheck(const DoctorCheck& check);

}  // namespace relayq::cli
