# shellcheck shell=bash disable=SC2034  # the option variables are read by the sourcing scripts
# runner_lib.sh — what deploy/runner-setup-macos.sh and deploy/runner-setup-rpi.sh
# share: the common options, the --dry-run runner, the checks, downloading and
# registering the GitHub Actions runner, and writing ~/.config/relayq/env.
# They source it from their own folder (run them from a clone of relayq); it
# is not run on its own.
#
# The sourcing script sets PROG (its name, the prefix of error messages) and
# defines extra_arg (below) before calling parse_args. Sourcing sets the
# option defaults (REPO URL TOKEN NAME EXTRA_LABELS DIR RUNNER_VERSION MODEL
# WHISPER DEPS SERVICE DRY_RUN) and defines functions; it prints nothing.
# MODEL stays empty unless --model is given: resolve_models decides.

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}
say() { printf '==> %s\n' "$*"; }

REPO="" URL="" TOKEN=${RUNNER_TOKEN:-} NAME="" EXTRA_LABELS=""
DIR=${HOME:-}/actions-runner RUNNER_VERSION="" MODEL=""
WHISPER=1 DEPS=1 SERVICE=1 DRY_RUN=0

need_arg() { [[ $# -ge 2 ]] || die 2 "option $1 needs a value (see --help)"; }

# parse_args "$@": sets the option variables from the options both scripts
# take. Any other word goes to the script's `extra_arg WORD`, which consumes
# it (return 0) or refuses it (return 1: an unknown argument, exit 2).
parse_args() {
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
      --extra-labels) need_arg "$@"; EXTRA_LABELS=$2; shift 2 ;;
      --dir) need_arg "$@"; DIR=$2; shift 2 ;;
      --runner-version) need_arg "$@"; RUNNER_VERSION=${2#v}; shift 2 ;;
      --model) need_arg "$@"; MODEL=$2; shift 2 ;;
      --no-whisper) WHISPER=0; shift ;;
      --no-deps) DEPS=0; shift ;;
      --no-service) SERVICE=0; shift ;;
      --dry-run) DRY_RUN=1; shift ;;
      *)
        extra_arg "$1" || die 2 "unknown argument: $1 (see --help)"
        shift
        ;;
    esac
  done
}

ENV_FILE=${HOME:-}/.config/relayq/env

# env_value KEY: KEY's value in an existing ~/.config/relayq/env (the last
# KEY=VALUE line, an `export ` prefix and one level of quotes removed), or
# nothing. Read like the kit's transcribe.sh reads it: never sourced.
env_value() {
  local key=$1 line v=""
  [[ -r $ENV_FILE ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line#"${line%%[![:space:]]*}"}
    line=${line#export }
    [[ $line == "$key="* ]] || continue
    v=${line#*=}
    v=${v%$'\r'}
    case $v in
      \"*\") v=${v:1:${#v}-2} ;;
      \'*\') v=${v:1:${#v}-2} ;;
      *) v=${v%%[[:space:]]#*} ;;
    esac
  done <"$ENV_FILE"
  printf '%s' "$v"
}

# resolve_models: sets MODEL (what a new env file names: --model, else the
# existing env file's WHISPER_MODEL, else base) and MODELS, the whisper.cpp
# models to fetch: MODEL, plus the existing env file's WHISPER_MODEL when it
# names another one (the file is left as it is, and transcribe.sh will look
# for that model). A WHISPER_MODEL that is a path to a .bin file is not
# fetched.
resolve_models() {
  local from_env
  from_env=$(env_value WHISPER_MODEL)
  [[ $from_env == */* || $from_env == *.bin ]] && from_env=""
  [[ -n $MODEL ]] || MODEL=${from_env:-base}
  MODELS=("$MODEL")
  if [[ -n $from_env && $from_env != "$MODEL" ]]; then
    say "$ENV_FILE names WHISPER_MODEL=$from_env; fetching it as well as $MODEL"
    MODELS+=("$from_env")
  fi
}

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

# check_url_and_user: sets URL from --repo unless --url was given, dies (exit
# 2) on a malformed one, and refuses root outside --dry-run.
check_url_and_user() {
  if [[ -z $URL ]]; then
    [[ -n $REPO ]] || die 2 "--repo OWNER/NAME (or --url) is required"
    [[ $REPO =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die 2 "--repo must be OWNER/NAME, got '$REPO'"
    URL="https://github.com/$REPO"
  fi
  case $URL in https://*) ;; *) die 2 "--url must be https://..., got '$URL'" ;; esac
  [[ $DRY_RUN == 1 || ${EUID:-$(id -u)} -ne 0 ]] ||
    die 2 "run this as the user that will own the runner, not root (it uses sudo where needed)"
}

# check_token: dies (exit 2) before anything is installed when there is no
# token and gh cannot get one; under --dry-run uses a placeholder instead.
check_token() {
  if [[ -z $TOKEN ]] && ! { command -v gh >/dev/null 2>&1 && [[ -n $REPO ]]; }; then
    [[ $DRY_RUN == 1 ]] ||
      die 2 "no registration token: pass --token (Settings > Actions > Runners > New self-hosted runner), set RUNNER_TOKEN, or log in with gh"
    TOKEN=DRY-RUN-TOKEN
  fi
}

# download_runner OS: gets a token from gh if none was given, finds the latest
# runner release unless --runner-version, and unpacks the runner for OS (osx
# or linux) and ARCH into DIR unless DIR/config.sh is already there.
download_runner() {
  local os=$1 tarball
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
  tarball="actions-runner-$os-$ARCH-$RUNNER_VERSION.tar.gz"
  say "installing runner $RUNNER_VERSION"
  run mkdir -p "$DIR"
  if [[ ! -x $DIR/config.sh ]]; then
    run curl -fL -o "$DIR/$tarball" "https://github.com/actions/runner/releases/download/v$RUNNER_VERSION/$tarball"
    run tar -xzf "$DIR/$tarball" -C "$DIR"
    run rm -f "$DIR/$tarball"
  fi
}

# register_runner: ./config.sh in DIR with URL, TOKEN, LABELS and NAME.
# The sourcing scripts run under set -e, which stops on a failed cd:
# shellcheck disable=SC2164
register_runner() {
  (
    run cd "$DIR"
    run ./config.sh --url "$URL" --token "$TOKEN" --labels "$LABELS" --name "$NAME" --unattended --replace
  )
}

# write_env_file MODEL_DIR: writes ~/.config/relayq/env (mode 0600) from
# DEFAULT_BACKEND, MODEL, WHISPER_BIN_PATH, MAX_SIZE_MB and the MODEL_DIR
# given, unless it exists already; under --dry-run only says so.
write_env_file() {
  local model_dir=$1 env_dir=${ENV_FILE%/*} env_file=$ENV_FILE
  if [[ -e $env_file ]]; then
    say "$env_file exists; left as it is"
  else
    say "writing $env_file (mode 0600)"
    if [[ $DRY_RUN == 0 ]]; then
      (
        umask 077
        mkdir -p "$env_dir"
        cat >"$env_file" <<EOF
# relayq runner settings, read by the kit's transcribe.sh/summarize.sh.
# KEY=VALUE lines; parsed, never executed. Job inputs override these.
ASR_BACKEND=$DEFAULT_BACKEND
WHISPER_MODEL=$MODEL
WHISPER_BIN=$WHISPER_BIN_PATH
WHISPER_MODEL_DIR=$model_dir
MAX_SIZE_MB=$MAX_SIZE_MB
# For the openai/openrouter backends and summaries:
#AI_API_KEY=
#AI_BASE_URL=https://api.openai.com/v1
#OPENROUTER_BASE_URL=https://openrouter.ai/api/v1
EOF
        chmod 600 "$env_file"
      )
    fi
  fi
}
