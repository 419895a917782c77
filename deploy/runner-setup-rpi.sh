#!/usr/bin/env bash
# runner-setup-rpi.sh — make a Raspberry Pi a GitHub self-hosted runner for
# the relayq kit.
#
# Usage:
#   deploy/runner-setup-rpi.sh --repo OWNER/NAME [--token TOKEN] [options]
#   deploy/runner-setup-rpi.sh --help
#
# Run it on the Pi as the user that will own the runner (not root; it uses
# sudo for apt-get and the service). It:
#   1. installs ffmpeg, curl, python3, jq (apt-get) and, on a Pi 4, builds
#      whisper.cpp and downloads a ggml model (skip with --no-whisper);
#   2. downloads the GitHub Actions runner into --dir and registers it with
#        ./config.sh --url https://github.com/OWNER/NAME --token TOKEN \
#                    --labels LABELS --name NAME --unattended --replace
#   3. installs and starts it as a service (sudo ./svc.sh install USER; start);
#   4. writes ~/.config/relayq/env (mode 0600) if it does not exist yet.
#
# Labels (self-hosted, Linux and the architecture are added by GitHub itself):
#   Pi 4 (default):  self-hosted, rpi4, audio, light
#   Pi 3 (--pi3):    self-hosted, rpi3, overflow, verylight
#
# Options:
#   --repo OWNER/NAME    repository to serve (or --url https://github.com/OWNER[/NAME])
#   --token TOKEN        registration token (Settings > Actions > Runners > New
#                        self-hosted runner), or $RUNNER_TOKEN; without one the
#                        script asks `gh api` for it when gh is logged in
#   --name NAME          runner name (default: the host name)
#   --pi3                register as the Pi 3 overflow runner
#   --extra-labels L     more comma-separated labels
#   --dir DIR            where the runner lives (default ~/actions-runner)
#   --runner-version V   runner release, e.g. 2.321.0 (default: the latest)
#   --model M            whisper model to download (default base)
#   --no-whisper         do not build whisper.cpp
#   --no-deps            do not apt-get install anything
#   --no-service         register only; run ./run.sh yourself
#   --dry-run            print what would be done, change nothing
#   -h, --help           this text
#
# One runner per Pi: a runner takes one job at a time, which is what keeps a
# small machine from being handed two heavy jobs at once.
set -euo pipefail

PROG=runner-setup-rpi.sh
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}
say() { printf '==> %s\n' "$*"; }

REPO="" URL="" TOKEN=${RUNNER_TOKEN:-} NAME="" PI3=0 EXTRA_LABELS=""
DIR=${HOME:-}/actions-runner RUNNER_VERSION="" MODEL=base
WHISPER=1 DEPS=1 SERVICE=1 DRY_RUN=0

need_arg() { [[ $# -ge 2 ]] || die 2 "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --repo) need_arg "$@"; REPO=$2; shift 2 ;;
    --url) need_arg "$@"; URL=$2; shift 2 ;;
    --token) need_arg "$@"; TOKEN=$2; shift 2 ;;
    --name) need_arg "$@"; NAME=$2; shift 2 ;;
    --pi3) PI3=1; shift ;;
    --extra-labels) need_arg "$@"; EXTRA_LABELS=$2; shift 2 ;;
    --dir) need_arg "$@"; DIR=$2; shift 2 ;;
    --runner-version) need_arg "$@"; RUNNER_VERSION=${2#v}; shift 2 ;;
    --model) need_arg "$@"; MODEL=$2; shift 2 ;;
    --no-whisper) WHISPER=0; shift ;;
    --no-deps) DEPS=0; shift ;;
    --no-service) SERVICE=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) die 2 "unknown argument: $1 (see --help)" ;;
  esac
done

# run CMD...: run it, or print it under --dry-run (the token is masked).
run() {
  local a out=()
  for a in "$@"; do
    if [[ -n $TOKEN && $a == "$TOKEN" ]]; then out+=("***"); else out+=("$a"); fi
  done
  if [[ $DRY_RUN == 1 ]]; then
    printf '+'
    printf ' %q' "${out[@]}"
    printf '\n'
  else
    "$@"
  fi
}

if [[ -z $URL ]]; then
  [[ -n $REPO ]] || die 2 "--repo OWNER/NAME (or --url) is required"
  [[ $REPO =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die 2 "--repo must be OWNER/NAME, got '$REPO'"
  URL="https://github.com/$REPO"
fi
case $URL in https://*) ;; *) die 2 "--url must be https://..., got '$URL'" ;; esac
[[ $DRY_RUN == 1 || ${EUID:-$(id -u)} -ne 0 ]] ||
  die 2 "run this as the user that will own the runner, not root (it uses sudo where needed)"
[[ $(uname -s) == Linux || $DRY_RUN == 1 ]] || die 2 "this script is for Raspberry Pi OS / Debian; use runner-setup-macos.sh on a Mac"

if [[ $PI3 == 1 ]]; then
  LABELS="rpi3,overflow,verylight"
  MAX_SIZE_MB=50
  WHISPER=0 # whisper.cpp on a Pi 3 is too slow to be useful: use an API backend
  DEFAULT_BACKEND=openai
else
  LABELS="rpi4,audio,light"
  MAX_SIZE_MB=200
  DEFAULT_BACKEND=local
fi
[[ -n $EXTRA_LABELS ]] && LABELS="$LABELS,$EXTRA_LABELS"
[[ -n $NAME ]] || NAME=$(hostname -s 2>/dev/null || hostname)

case $(uname -m) in
  aarch64 | arm64) ARCH=arm64 ;;
  armv7l | armv6l) ARCH=arm ;;
  x86_64) ARCH=x64 ;;
  *) die 2 "unsupported CPU $(uname -m) for the GitHub runner" ;;
esac

if [[ -z $TOKEN ]] && ! { command -v gh >/dev/null 2>&1 && [[ -n $REPO ]]; }; then
  [[ $DRY_RUN == 1 ]] ||
    die 2 "no registration token: pass --token (Settings > Actions > Runners > New self-hosted runner), set RUNNER_TOKEN, or log in with gh"
  TOKEN=DRY-RUN-TOKEN
fi

say "runner '$NAME' for $URL with labels self-hosted,$LABELS ($ARCH) in $DIR"

# 1. packages --------------------------------------------------------------
if [[ $DEPS == 1 ]]; then
  say "installing packages"
  pkgs=(curl ca-certificates tar python3 jq ffmpeg)
  [[ $WHISPER == 1 ]] && pkgs+=(git build-essential cmake)
  run sudo apt-get update
  run sudo apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

# whisper.cpp (not packaged in Debian 12): build it and fetch a model.
WHISPER_SRC=${HOME:-}/whisper.cpp
WHISPER_BIN_PATH=""
if [[ $WHISPER == 1 ]]; then
  say "building whisper.cpp in $WHISPER_SRC (takes a while on a Pi)"
  if [[ -d $WHISPER_SRC/.git ]]; then
    run git -C "$WHISPER_SRC" pull --ff-only
  else
    run git clone --depth 1 https://github.com/ggml-org/whisper.cpp "$WHISPER_SRC"
  fi
  run cmake -S "$WHISPER_SRC" -B "$WHISPER_SRC/build" -DCMAKE_BUILD_TYPE=Release
  run cmake --build "$WHISPER_SRC/build" -j 2 --config Release
  run bash "$WHISPER_SRC/models/download-ggml-model.sh" "$MODEL"
  WHISPER_BIN_PATH=$WHISPER_SRC/build/bin/whisper-cli
fi

# 2. the runner ------------------------------------------------------------
if [[ -z $TOKEN ]]; then
  if command -v gh >/dev/null 2>&1 && [[ -n $REPO ]]; then
    say "asking gh for a registration token"
    if [[ $DRY_RUN == 1 ]]; then
      TOKEN=DRY-RUN-TOKEN
    else
      TOKEN=$(gh api -X POST "repos/$REPO/actions/runners/registration-token" --jq .token) ||
        die 1 "gh could not create a registration token (needs admin rights on $REPO)"
    fi
  else
    die 2 "no registration token: pass --token (Settings > Actions > Runners > New self-hosted runner) or set RUNNER_TOKEN"
  fi
fi

if [[ -z $RUNNER_VERSION ]]; then
  if [[ $DRY_RUN == 1 ]]; then
    RUNNER_VERSION=LATEST
  else
    RUNNER_VERSION=$(curl -fsSL https://api.github.com/repos/actions/runner/releases/latest |
      sed -n 's/.*"tag_name": *"v\([0-9.]*\)".*/\1/p' | head -n 1) || true
    [[ -n $RUNNER_VERSION ]] || die 1 "cannot find the latest runner release; pass --runner-version"
  fi
fi
tarball="actions-runner-linux-$ARCH-$RUNNER_VERSION.tar.gz"
say "installing runner $RUNNER_VERSION"
run mkdir -p "$DIR"
if [[ ! -x $DIR/config.sh ]]; then
  run curl -fL -o "$DIR/$tarball" "https://github.com/actions/runner/releases/download/v$RUNNER_VERSION/$tarball"
  run tar -xzf "$DIR/$tarball" -C "$DIR"
  run rm -f "$DIR/$tarball"
fi
if [[ $DEPS == 1 ]]; then
  run sudo "$DIR/bin/installdependencies.sh"
fi
(
  run cd "$DIR"
  run ./config.sh --url "$URL" --token "$TOKEN" --labels "$LABELS" --name "$NAME" --unattended --replace
)

# 3. the service -------------------------------------------------------------
if [[ $SERVICE == 1 ]]; then
  say "installing the runner service"
  (
    run cd "$DIR"
    run sudo ./svc.sh install "$(id -un)"
    run sudo ./svc.sh start
  )
fi

# 4. ~/.config/relayq/env ------------------------------------------------------
ENV_DIR=${HOME:-}/.config/relayq
ENV_FILE=$ENV_DIR/env
if [[ -e $ENV_FILE ]]; then
  say "$ENV_FILE exists; left as it is"
else
  say "writing $ENV_FILE (mode 0600)"
  if [[ $DRY_RUN == 0 ]]; then
    (
      umask 077
      mkdir -p "$ENV_DIR"
      cat >"$ENV_FILE" <<EOF
# relayq runner settings, read by the kit's transcribe.sh/summarize.sh.
# KEY=VALUE lines; parsed, never executed. Job inputs override these.
ASR_BACKEND=$DEFAULT_BACKEND
WHISPER_MODEL=$MODEL
WHISPER_BIN=$WHISPER_BIN_PATH
WHISPER_MODEL_DIR=$WHISPER_SRC/models
MAX_SIZE_MB=$MAX_SIZE_MB
# For the openai/openrouter backends and summaries:
#AI_API_KEY=
#AI_BASE_URL=https://api.openai.com/v1
#OPENROUTER_BASE_URL=https://openrouter.ai/api/v1
EOF
      chmod 600 "$ENV_FILE"
    )
  fi
fi

say "done: the runner shows up under $URL/settings/actions/runners"
