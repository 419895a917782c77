// `relayq hooks install|list|recover`: relayq's repository webhook.
//
//   install --repo OWNER/NAME --url URL [--force]
//       Creates the webhook (events workflow_job and workflow_run, JSON, the
//       first configured webhook secret), or updates the hook that already
//       has that URL when something differs; prints created / updated (with
//       what changed) / unchanged. GitHub never shows a hook's secret, only
//       whether it has one, so a rotated secret is pushed with --force.
//   list --repo R [--format table|json]
//       Every hook of the repository with its last delivery's status.
//   recover --repo R [--since T] [--url URL] [--stale-after DUR] [--db PATH]
//       Asks GitHub to redeliver what relayq missed and reconciles stale jobs
//       (handlers/recovery.h).
//
// The RegisterHooks entry point is declared in cli/command.h; the pure
// helpers here are exposed for tests. Thread safety: reentrant functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "github/types.h"

namespace relayq::cli {

// What `install` sends: handlers::kRelayqHookEvents, JSON, active, `secret`.
github::HookSpec RelayqHookSpec(std::string url, std::string secret);

// The fields in which `hook`, as GitHub reports it, differs from `want`:
// "events" (compared as sets), "content_type", "active", and "secret" when
// `want` has one but the hook has none. Empty when nothing visible differs.
std::vector<std::string> HookDifferences(const github::Hook& hook, const github::HookSpec& want);

}  // namespace relayq::cli
