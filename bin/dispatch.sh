#!/usr/bin/env bash
# dispatch.sh — submit a kit job; a thin wrapper over `relayq dispatch`.
#
# Usage:
#   ./bin/dispatch.sh WORKFLOW_FILE [key=value ...] [--repo OWNER/NAME] [--ref REF]
#   ./bin/dispatch.sh --help
#
# Example:
#   ./bin/dispatch.sh .github/workflows/transcribe_audio.yml \
#       url=https://example.com/episode.mp3 backend=local
#
# runs
#   relayq dispatch transcribe_audio.yml url=... backend=local --repo OWNER/NAME [--ref REF]
#
# WORKFLOW_FILE may be a path; only its file name is passed on. A bare name
# (transcribe_audio) is passed on as it is: relayq reads it as NAME.yml.
# The repository is --repo if given, else $RELAYQ_REPO, else parsed from
# `git remote get-url origin` (https://github.com/OWNER/NAME(.git),
# git@github.com:OWNER/NAME(.git) or ssh://git@github.com/OWNER/NAME(.git)).
# The ref is --ref if given, else $RELAYQ_REF if set (else relayq's default).
# The relayq binary is $RELAYQ_BIN, else `relayq` on PATH, else
# ../build/relayq next to this script. Everything else (--config FILE,
# --server URL, ...) is passed through unchanged. relayq prints the job's
# relayq id on stdout, and what became of it (the run URL) on stderr.
#
# Remote: when a relayq server is configured ($RELAYQ_SERVER, --server URL,
# or admin.server in relayq's config) the job is submitted through that
# daemon's admin API with $RELAYQ_ADMIN_TOKEN, from any machine; otherwise
# relayq works on its local store, as before.
#
# Exit codes: relayq's own (0 dispatched, or held by a relayq that will send
# it; 1 failed: nothing holds it; 2 usage); this wrapper exits 2 when it
# cannot work out the workflow or repository, and 1 when relayq is missing.
set -euo pipefail

PROG=dispatch.sh
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}

if [[ $# -eq 0 ]]; then
  usage >&2
  exit 2
fi
case $1 in
  -h | --help)
    usage
    exit 0
    ;;
esac

workflow=${1##*/}
shift
[[ -n $workflow ]] || die 2 "no workflow file given"
case $workflow in
  *.yml | *.yaml) ;;
  *.*) die 2 "'$workflow' is not a workflow file (expected NAME.yml, NAME.yaml or NAME)" ;;
  *) ;;
esac

have_repo=0
have_ref=0
for a in "$@"; do
  case $a in
    --repo | --repo=*) have_repo=1 ;;
    --ref | --ref=*) have_ref=1 ;;
  esac
done

# OWNER/NAME from a GitHub remote URL, or nothing.
repo_from_url() {
  local u=$1 path
  case $u in
    https://*@*/* | http://*@*/*) path=${u#*://*@*/} ;;
    https://*/* | http://*/*) path=${u#*://*/} ;;
    ssh://*/*) path=${u#ssh://*/} ;;
    *@*:*) path=${u#*:} ;;
    *) return 1 ;;
  esac
  path=${path%/}
  path=${path%.git}
  [[ $path =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || return 1
  printf '%s' "$path"
}

extra=()
if [[ $have_repo == 0 ]]; then
  repo=${RELAYQ_REPO:-}
  if [[ -z $repo ]]; then
    remote=$(git remote get-url origin 2>/dev/null) ||
      die 2 "no repository: set RELAYQ_REPO=OWNER/NAME, pass --repo OWNER/NAME, or run inside a clone with an 'origin' remote"
    repo=$(repo_from_url "$remote") ||
      die 2 "cannot read OWNER/NAME from the origin remote '$remote': set RELAYQ_REPO=OWNER/NAME"
  fi
  [[ $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die 2 "RELAYQ_REPO must be OWNER/NAME, got '$repo'"
  extra+=(--repo "$repo")
fi
if [[ $have_ref == 0 && -n ${RELAYQ_REF:-} ]]; then
  extra+=(--ref "$RELAYQ_REF")
fi

if [[ -n ${RELAYQ_BIN:-} ]]; then
  bin=$RELAYQ_BIN
  if [[ $bin != */* ]]; then
    bin=$(command -v "$bin" 2>/dev/null) || die 1 "RELAYQ_BIN=$RELAYQ_BIN is not on PATH"
  fi
elif command -v relayq >/dev/null 2>&1; then
  bin=$(command -v relayq)
else
  bin="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../build/relayq"
fi
[[ -x $bin ]] || die 1 "relayq not found (tried \$RELAYQ_BIN, PATH and $bin): build it or set RELAYQ_BIN"

exec "$bin" dispatch "$workflow" "$@" ${extra[@]+"${extra[@]}"}
