// `relayq doctor [--config FILE] [--db PATH] [--policy FILE] [--repo R ...]`:
// checks the whole set-up and prints a pass/fail line for each check, with a
// hint under each failure or warning. Exit 0 when no check fails (warnings
// included), 1 otherwise.
//
// Checks, in order: the configuration loads; a webhook secret is set; the
// store is writable; the store's filesystem is durable (a warning, not a
// failure, when its mount options are not sync-safe; read from
// /proc/self/mountinfo, or from the file RELAYQ_MOUNTINFO names, for tests;
// skipped where neither is readable); the policy loads; each notification
// target takes a connection; GitHub credentials are configured;
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

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "github/types.h"
#include "notify/notification.h"
#include "policy/policy.h"

namespace relayq::cli {

struct DoctorCheck {
  bool ok = false;
  std::string name;    // "runners octo/kit: transcribe prefer [macmini]"
  std::string detail;  // what was found
  std::string hint;    // what to do; set for failures and warnings
  bool warn = false;   // ok, but something the operator should know (WARN)
};

// The runner checks for `repo` against `policy` (pure): per route that
// applies to the repository, an online runner with all prefer labels, one
// with all fallback labels, and, when the route has constraints, a runner
// (online or not) carrying the fallback labels plus every required label.
// Labels compare case-insensitively, as GitHub matches them.
std::vector<DoctorCheck> CheckRunnersAgainstPolicy(const policy::Policy& policy,
                                                   const std::vector<github::Runner>& runners,
                                                   std::string_view repo);

// The store's filesystem, judged from `mountinfo` (the text of
// /proc/self/mountinfo) for `dir`, the store's directory as an absolute path
// with symlinks resolved: the mount whose mount point is the longest prefix
// of `dir` (the last such line, as a later mount covers an earlier one).
// A warning (ok, warn set, the hint saying why it matters) when it is tmpfs
// or ramfs (gone at reboot), mounted with flush barriers off (nobarrier,
// barrier=0: a power cut can lose or tear committed transactions), ext3/ext4
// with data=writeback (file data not ordered with the journal), or FAT
// (vfat, exfat, msdos: SD cards' and USB sticks' default; no journal, so a
// power cut mid-write can corrupt the filesystem) without the `sync` mount
// option, or a network filesystem (nfs, nfs4, cifs, smb3, 9p, fuse.sshfs). Otherwise a pass naming
// the filesystem type and device; ok and not warn with "not checked" when no line covers `dir`.
DoctorCheck CheckStoreFilesystem(std::string_view mountinfo, const std::string& dir);

// The notification targets (notify.targets): for each, that the host and
// port of its URL take a TCP connection within `timeout` per resolved
// address (the name lookup is not bounded) (the receiver runs,
// nothing blocks the way). A check names the target and host:port only: the
// rest of the URL may be a secret (an ntfy topic). Nothing is sent; `relayq
// notify test` sends a real notification. Empty when no target is set.
std::vector<DoctorCheck> CheckNotifyTargets(const std::vector<notify::Target>& targets,
                                            std::chrono::milliseconds timeout);

// "PASS  name: detail", "WARN  name: detail\n      hint: ..." or
// "FAIL  name: detail\n      hint: ...", '\n'-terminated.
std::string FormatCheck(const DoctorCheck& check);

}  // namespace relayq::cli
