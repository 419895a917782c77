#!/usr/bin/env bash
# runner-setup-macos.sh — make a Mac (the kit's Mac mini) a GitHub self-hosted
# runner for the relayq kit.
#
# Usage:
#   deploy/runner-setup-macos.sh --repo OWNER/NAME [--token TOKEN] [options]
#   deploy/runner-setup-macos.sh --help
#
# Run it on the Mac, from a clone of relayq (it sources deploy/runner_lib.sh),
# as the user that will own the runner (not root). It:
#   1. installs ffmpeg and whisper.cpp (whisper-cli) with Homebrew and
#      downloads a ggml model to ~/.local/share/whisper.cpp/models
#      (skip with --no-deps / --no-whisper);
#   2. downloads the GitHub Actions runner into --dir and registers it with
#        ./config.sh --url https://github.com/OWNER/NAME --token TOKEN \
#                    --labels LABELS --name NAME --unattended --replace
#   3. installs and starts it as a launchd agent (./svc.sh install; start);
#   4. writes ~/.config/relayq/env (mode 0600) if it does not exist yet.
#
# Labels (self-hosted, macOS and the architecture are added by GitHub itself):
#   self-hosted, macmini, audio, ffmpeg, heavy
#
# Options:
#   --repo OWNER/NAME    repository to serve (or --url https://github.com/OWNER[/NAME])
#   --token TOKEN        registration token (Settings > Actions > Runners > New
#                        self-hosted runner), or $RUNNER_TOKEN; without one the
#                        script asks `gh api` for it when gh is logged in
#   --name NAME          runner name (default: the host name)
#   --extra-labels L     more comma-separated labels
#   --dir DIR            where the runner lives (default ~/actions-runner)
#   --runner-version V   runner release, e.g. 2.321.0 (default: the latest)
#   --model M            whisper model to download and name in a new env file
#                        (default: WHISPER_MODEL of an existing
#                        ~/.config/relayq/env, else base; an existing env
#                        file's WHISPER_MODEL is always fetched too)
#   --no-whisper         do not install whisper.cpp or download a model
#   --no-deps            do not brew install anything
#   --no-service         register only; run ./run.sh yourself
#   --dry-run            print what would be done, change nothing
#   -h, --help           this text
#
# The runner agent runs only while you are logged in (a launchd agent); enable
# automatic login on a headless Mac mini, and keep it from sleeping
# (System Settings > Energy, or `sudo pmset -a sleep 0`).
set -euo pipefail

PROG=runner-setup-macos.sh
# usage, die, say, the shared options (parse_args), run, the checks, the
# runner's download and registration and the env file, shared with
# runner-setup-rpi.sh.
RUNNER_LIB="$(dirname "${BASH_SOURCE[0]}")/runner_lib.sh"
[[ -r $RUNNER_LIB ]] || { printf '%s: error: %s is missing (run this from a clone of relayq)\n' "$PROG" "$RUNNER_LIB" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=runner_lib.sh
source "$RUNNER_LIB"

# extra_arg WORD: this script takes no options beyond the shared ones.
extra_arg() { return 1; }
parse_args "$@"
check_url_and_user
[[ $(uname -s) == Darwin || $DRY_RUN == 1 ]] || die 2 "this script is for macOS; use runner-setup-rpi.sh on a Raspberry Pi"

LABELS="macmini,audio,ffmpeg,heavy"
MAX_SIZE_MB=1000
DEFAULT_BACKEND=local
[[ -n $EXTRA_LABELS ]] && LABELS="$LABELS,$EXTRA_LABELS"
[[ -n $NAME ]] || NAME=$(hostname -s 2>/dev/null || hostname)

case $(uname -m) in
  arm64) ARCH=arm64 ;;
  x86_64) ARCH=x64 ;;
  *) die 2 "unsupported CPU $(uname -m) for the GitHub runner" ;;
esac

check_token

say "runner '$NAME' for $URL with labels self-hosted,$LABELS ($ARCH) in $DIR"

# 1. packages --------------------------------------------------------------
MODEL_DIR=$(env_value WHISPER_MODEL_DIR)
[[ -n $MODEL_DIR ]] || MODEL_DIR=${HOME:-}/.local/share/whisper.cpp/models
resolve_models
WHISPER_BIN_PATH=""
if [[ $DEPS == 1 ]]; then
  BREW=$(command -v brew || true)
  [[ -n $BREW || $DRY_RUN == 1 ]] || die 2 "Homebrew is needed (https://brew.sh), or pass --no-deps"
  BREW=${BREW:-brew}
  say "installing packages with Homebrew"
  pkgs=(ffmpeg jq)
  [[ $WHISPER == 1 ]] && pkgs+=(whisper-cpp)
  run "$BREW" install "${pkgs[@]}"
  if [[ $WHISPER == 1 ]]; then
    WHISPER_BIN_PATH="$("$BREW" --prefix 2>/dev/null || echo /opt/homebrew)/bin/whisper-cli"
  fi
fi
if [[ $WHISPER == 1 ]]; then
  for m in "${MODELS[@]}"; do
    model_file=$MODEL_DIR/ggml-$m.bin
    if [[ -f $model_file ]]; then
      say "$model_file already there"
    else
      say "downloading the whisper.cpp model $m to $MODEL_DIR"
      run mkdir -p "$MODEL_DIR"
      run curl -fL -o "$model_file.part" "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-$m.bin"
      run mv "$model_file.part" "$model_file"
    fi
  done
fi

# 2. the runner ------------------------------------------------------------
download_runner osx
register_runner

# 3. the service -------------------------------------------------------------
if [[ $SERVICE == 1 ]]; then
  say "installing the runner service"
  (
    run cd "$DIR"
    run ./svc.sh install
    run ./svc.sh start
  )
fi

# 4. ~/.config/relayq/env ------------------------------------------------------
write_env_file "$MODEL_DIR"

say "done: the runner shows up under $URL/settings/actions/runners"
