#!/usr/bin/env bash
# Tests for bin/dispatch.sh: the argument translation to `relayq dispatch`,
# with a fake relayq (tests/kit/fake_relayq.sh) that prints its arguments.
# Prints "N passed, M failed" last; exits non-zero when anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DISPATCH=$ROOT/bin/dispatch.sh
FAKE=$HERE/fake_relayq.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/relayq-dispatch-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0

# run [VAR=VALUE...] -- ARGS...: runs dispatch.sh from $CWD with a clean
# environment; sets RC and OUT (stdout) and ERR (stderr).
CWD=$TMP
run() {
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  OUT=$(cd "$CWD" && env -i PATH="/usr/bin:/bin" HOME="$TMP" \
    GIT_CONFIG_NOSYSTEM=1 ${envs[@]+"${envs[@]}"} bash "$DISPATCH" "$@" 2>"$TMP/err")
  RC=$?
  ERR=$(cat "$TMP/err")
}

check() {
  local name=$1 expected_rc=$2 expected_out=$3
  if [[ $RC == "$expected_rc" && $OUT == "$expected_out" ]]; then
    PASS=$((PASS + 1))
    echo "ok   - $name"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL - $name"
    echo "       rc: $RC (want $expected_rc)"
    printf '       got:  %s\n' "${OUT//$'\n'/ | }"
    printf '       want: %s\n' "${expected_out//$'\n'/ | }"
    [[ -n $ERR ]] && printf '       stderr: %s\n' "$ERR"
  fi
}
check_err() {
  local name=$1 expected_rc=$2 needle=$3
  if [[ $RC == "$expected_rc" && $ERR == *"$needle"* ]]; then
    PASS=$((PASS + 1))
    echo "ok   - $name"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL - $name (rc $RC, want $expected_rc; stderr: $ERR)"
  fi
}
lines() { printf 'ARG %s\n' "$@"; }

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=alice/podcasts -- \
  .github/workflows/transcribe_audio.yml url=https://example.com/episode.mp3 backend=local
check "path stripped, key=value kept, repo from RELAYQ_REPO" 0 \
  "$(lines dispatch transcribe_audio.yml url=https://example.com/episode.mp3 backend=local --repo alice/podcasts)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=alice/podcasts RELAYQ_REF=main -- transcribe_mac.yml url=u
check "RELAYQ_REF becomes --ref" 0 "$(lines dispatch transcribe_mac.yml url=u --repo alice/podcasts --ref main)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=alice/podcasts RELAYQ_REF=main -- transcribe_mac.yml url=u --repo bob/x --ref dev
check "explicit --repo/--ref win" 0 "$(lines dispatch transcribe_mac.yml url=u --repo bob/x --ref dev)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=alice/podcasts -- transcribe_rpi.yml 'url=https://e.com/a b.mp3?x=1&y=2' model=small
check "values with spaces and & pass through intact" 0 \
  "$(lines dispatch transcribe_rpi.yml 'url=https://e.com/a b.mp3?x=1&y=2' model=small --repo alice/podcasts)"

# Repository from the origin remote of a clone.
git init -q "$TMP/clone"
for remote in https://github.com/carol/media.git https://github.com/carol/media \
  git@github.com:carol/media.git ssh://git@github.com/carol/media.git \
  https://x-access-token:tok@github.com/carol/media.git; do
  git -C "$TMP/clone" remote remove origin 2>/dev/null
  git -C "$TMP/clone" remote add origin "$remote"
  CWD=$TMP/clone
  run RELAYQ_BIN="$FAKE" -- workflows/summarize.yml source_run=42
  check "repo from origin $remote" 0 "$(lines dispatch summarize.yml source_run=42 --repo carol/media)"
done

git -C "$TMP/clone" remote remove origin
git -C "$TMP/clone" remote add origin /srv/git/media
run RELAYQ_BIN="$FAKE" -- transcribe_audio.yml url=u
check_err "a non-GitHub remote is explained" 2 "RELAYQ_REPO"

CWD=$TMP
mkdir -p "$TMP/notrepo"
CWD=$TMP/notrepo
run RELAYQ_BIN="$FAKE" -- transcribe_audio.yml url=u
check_err "no repository anywhere is a usage error" 2 "RELAYQ_REPO"

run RELAYQ_BIN="$TMP/does-not-exist" RELAYQ_REPO=a/b -- transcribe_audio.yml url=u
check_err "a missing relayq binary is reported" 1 "relayq not found"

mkdir -p "$TMP/path"
cp "$FAKE" "$TMP/path/relayq"
OUT=$(cd "$TMP" && env -i PATH="$TMP/path:/usr/bin:/bin" HOME="$TMP" RELAYQ_REPO=a/b bash "$DISPATCH" x.yml k=v 2>"$TMP/err")
RC=$?
ERR=$(cat "$TMP/err")
check "relayq found on PATH" 0 "$(lines dispatch x.yml k=v --repo a/b)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=a/b -- README.md
check_err "a non-workflow file is refused" 2 "not a workflow file"

run --
check_err "no arguments prints usage" 2 "Usage"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=a/b -- transcribe_audio url=u
check "a bare workflow name is passed on" 0 "$(lines dispatch transcribe_audio url=u --repo a/b)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=a/b RELAYQ_SERVER=http://pi.local:8081 -- transcribe_audio.yml url=u
check "RELAYQ_SERVER reaches relayq (it submits through the server)" 0 \
  "$(lines dispatch transcribe_audio.yml url=u --repo a/b)
ENV RELAYQ_SERVER=http://pi.local:8081"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=a/b -- transcribe_audio.yml url=u --server http://pi.local:8081
check "--server passes through" 0 \
  "$(lines dispatch transcribe_audio.yml url=u --server http://pi.local:8081 --repo a/b)"

run RELAYQ_BIN="$FAKE" RELAYQ_REPO=a/b FAKE_RC=1 -- transcribe_audio.yml url=u
check "relayq's exit code 1 (nothing holds the job) is the script's" 1 \
  "$(lines dispatch transcribe_audio.yml url=u --repo a/b)"

echo "$PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
