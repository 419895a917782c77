#!/usr/bin/env bash
# Tests for the runner set-up scripts (deploy/runner-setup-rpi.sh,
# deploy/runner-setup-macos.sh) and deploy/funnel.sh, all under --dry-run in
# a temporary HOME: nothing is installed, registered or downloaded. Prints
# "N passed, M failed" last and exits non-zero when anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/relayq-kit-setup.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

PASS=0
FAIL=0
check() {
  local what=$1
  shift
  if "$@"; then
    PASS=$((PASS + 1))
    echo "ok   - $what"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL - $what"
    sed 's/^/       out: /' "$TMP/out" | head -n 20
  fi
}
has() { grep -qF -- "$1" "$TMP/out"; }
lacks() { ! grep -qF -- "$1" "$TMP/out"; }

HOME_DIR=$TMP/home
mkdir -p "$HOME_DIR/.config/relayq"
ENVFILE=$HOME_DIR/.config/relayq/env
# setup SCRIPT ARGS...: the script under --dry-run with a fixed runner version
# and token, in a clean environment; output (both streams) in $TMP/out.
setup() {
  local script=$1
  shift
  env -i PATH="$PATH" HOME="$HOME_DIR" bash "$ROOT/deploy/$script" --dry-run \
    --repo alice/podcasts --token T0KEN --runner-version 2.321.0 "$@" >"$TMP/out" 2>&1
}

# --- the model the runner's env names is the model fetched -----------------
printf '# runner settings\nASR_BACKEND=local\nWHISPER_MODEL="small"\n' >"$ENVFILE"
setup runner-setup-rpi.sh
check "rpi: the env file's WHISPER_MODEL=small is downloaded" has "download-ggml-model.sh small"
check "rpi: base is not downloaded for an env that names small" lacks "download-ggml-model.sh base"

setup runner-setup-macos.sh
check "macos: the env file's WHISPER_MODEL=small is downloaded" has "ggml-small.bin"
check "macos: base is not downloaded for an env that names small" lacks "ggml-base.bin"

setup runner-setup-macos.sh --model tiny
check "macos: --model tiny is downloaded" has "ggml-tiny.bin"
check "macos: and the env file's small too (the file is kept and names it)" has "ggml-small.bin"

printf 'WHISPER_MODEL_DIR=%s/models\n' "$TMP" >"$ENVFILE"
setup runner-setup-macos.sh
check "macos: the env file's WHISPER_MODEL_DIR is where models go" has "$TMP/models/ggml-base.bin"

rm -f "$ENVFILE"
setup runner-setup-rpi.sh --model medium
check "rpi: --model medium without an env file" has "download-ggml-model.sh medium"
check "rpi: a new env file would name medium" has "writing $ENVFILE"

# --- funnel.sh reads the ports from relayq's config -------------------------
cat >"$TMP/config.yaml" <<'YAML'
# relayq configuration
listen: "127.0.0.1:9180"   # public
admin_listen: 127.0.0.1:9181
store:
  path: /var/lib/relayq/relayq.db
YAML
env -i PATH="$PATH" HOME="$HOME_DIR" bash "$ROOT/deploy/funnel.sh" --dry-run --config "$TMP/config.yaml" >"$TMP/out" 2>&1
check "funnel: --config's listen: is the funnelled port" has "http://127.0.0.1:9180/webhook"
env -i PATH="$PATH" HOME="$HOME_DIR" RELAYQ_CONFIG="$TMP/config.yaml" bash "$ROOT/deploy/funnel.sh" --dry-run >"$TMP/out" 2>&1
check "funnel: RELAYQ_CONFIG names the config as it does for relayq" has "http://127.0.0.1:9180/webhook"
if env -i PATH="$PATH" HOME="$HOME_DIR" bash "$ROOT/deploy/funnel.sh" --dry-run --config "$TMP/config.yaml" --port 9181 >"$TMP/out" 2>&1; then
  rc=0
else
  rc=$?
fi
check "funnel: the config's admin_listen port is refused (exit 2, got $rc)" test "$rc" = 2
env -i PATH="$PATH" HOME="$HOME_DIR" RELAYQ_LISTEN=127.0.0.1:7000 bash "$ROOT/deploy/funnel.sh" --dry-run --config "$TMP/config.yaml" >"$TMP/out" 2>&1
check "funnel: RELAYQ_LISTEN (unknown to relayq) is not read" has "http://127.0.0.1:9180/webhook"
if env -i PATH="$PATH" HOME="$HOME_DIR" bash "$ROOT/deploy/funnel.sh" --dry-run --config "$TMP/missing.yaml" >"$TMP/out" 2>&1; then
  rc=0
else
  rc=$?
fi
check "funnel: a missing --config is a usage error (exit 2, got $rc)" test "$rc" = 2

echo "$PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
