// `relayq hooks install|remove|list|recover`: relayq's repository webhook.
//
// --repo defaults to the one repository of github.repositories, --url to
// github.hook_url.
//
//   install --repo OWNER/NAME --url URL [--force] [--allow-private-url]
//       Creates the webhook (events workflow_job and workflow_run, JSON, the
//       first configured webhook secret), or updates the hook that already
//       has that URL when something differs; prints created / updated (with
//       what changed) / unchanged. GitHub never shows a hook's secret, only
//       whether it has one, so a rotated secret is pushed with --force.
//       A URL GitHub cannot reach (localhost, *.local, loopback, RFC 1918,
//       link-local, CGNAT/Tailscale 100.64/10, unique-local IPv6) is refused
//       with a hint about the Tailscale funnel, unless --allow-private-url
//       (a GitHub Enterprise Server on the same network).
//   remove --repo R [--url URL]
//       Deletes relayq's hook: the one with URL (default github.hook_url),
//       else the one hook sending workflow_job.
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

// Why GitHub, delivering from the internet, cannot reach `url`'s host (a
// loopback, private, link-local or shared address, localhost, a .local or
// .internal name), or empty when it may.
std::string UnreachableHostReason(std::string_view url);

}  // namespace relayq::cli
