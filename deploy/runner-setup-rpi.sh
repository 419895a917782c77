#!/usr/bin/env bash
# runner-setup-rpi.sh — make a Raspberry Pi a GitHub self-hosted runner for
# the relayq kit.
#
# Usage:
#   deploy/runner-setup-rpi.sh --repo OWNER/NAME [--token TOKEN] [options]
#   deploy/runner-setup-rpi.sh --help
#
# Run it on the Pi, from a clone of relayq (it sources deploy/runner_lib.sh),
# as the user that will own the runner (not root; it uses sudo for apt-get and
# the service). It:
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
#   --model M            whisper model to download and name in a new env file
#                        (default: WHISPER_MODEL of an existing
#                        ~/.config/relayq/env, else base; an existing env
#                        file's WHISPER_MODEL is always fetched too)
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
# usage, die, say, the shared options (parse_args), run, the checks, the
# runner's download and registration and the env file, shared with
# runner-setup-macos.sh.
RUNNER_LIB="$(dirname "${BASH_SOURCE[0]}")/runner_lib.sh"
[[ -r $RUNNER_LIB ]] || { printf '%s: error: %s is missing (run this from a clone of relayq)\n' "$PROG" "$RUNNER_LIB" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=runner_lib.sh
source "$RUNNER_LIB"

PI3=0
# extra_arg WORD: the one option only this script takes.
extra_arg() {
  [[ $1 == --pi3 ]] || return 1
  PI3=1
}
parse_args "$@"
check_url_and_user
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

check_token
resolve_models

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
  for m in "${MODELS[@]}"; do
    run bash "$WHISPER_SRC/models/download-ggml-model.sh" "$m"
  done
  WHISPER_BIN_PATH=$WHISPER_SRC/build/bin/whisper-cli
fi

# 2. the runner ------------------------------------------------------------
download_runner linux
if [[ $DEPS == 1 ]]; then
  run sudo "$DIR/bin/installdependencies.sh"
fi
register_runner

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
write_env_file "$WHISPER_SRC/models"

say "done: the runner shows up under $URL/settings/actions/runners"
