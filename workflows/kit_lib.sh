# shellcheck shell=bash
# kit_lib.sh — helpers shared by the relayq kit's transcribe.sh and
# summarize.sh, which source it from their own folder; it is not run on its
# own. Copy it along with them (copy the whole workflows folder).
#
# The sourcing script sets PROG (its name, the prefix of every message) and
# EX_USAGE (need_arg's exit code) before calling anything here. Sourcing it
# defines functions and CONFIG_KEYS and sets every file_KEY to empty; it reads
# no file and prints nothing. Works with bash 3.2 (macOS /bin/bash) and later.

# log MESSAGE...: "PROG: MESSAGE" on stderr.
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# die CODE MESSAGE...: "PROG: error: MESSAGE" on stderr, then exit CODE.
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}

# usage: prints the running script's header comment (line 2 up to its
# `set -euo pipefail` line) without the leading '# '.
usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"
}

# need_arg "$@": dies with EX_USAGE unless option $1 has a value after it.
need_arg() { [[ $# -ge 2 ]] || die "$EX_USAGE" "option $1 needs a value (see --help)"; }

# --- configuration ----------------------------------------------------------

# Keys the env file may set. Anything else is ignored with a warning.
CONFIG_KEYS="ASR_BACKEND WHISPER_MODEL WHISPER_BIN WHISPER_KIND WHISPER_MODEL_DIR
WHISPER_LANGUAGE WHISPER_THREADS WHISPER_ARGS AI_API_KEY AI_BASE_URL AI_MODEL
OPENROUTER_API_KEY OPENROUTER_BASE_URL OPENROUTER_MODEL MAX_SIZE_MB API_MAX_MB
DOWNLOAD_TIMEOUT FFMPEG CONVERT SUMMARY_BACKEND SUMMARY_MODEL SUMMARY_MAX_CHARS"

# Every key starts empty (file_KEY holds the env file's value).
for _k in $CONFIG_KEYS; do printf -v "file_$_k" '%s' ''; done
unset _k

is_config_key() {
  local k
  for k in $CONFIG_KEYS; do
    [[ $k == "$1" ]] && return 0
  done
  return 1
}

# parse_env_file FILE: sets file_KEY for every recognised KEY=VALUE line.
# Accepted syntax: blank lines, '# comments', an optional 'export ' prefix,
# VALUE bare (an unquoted ' #' starts a comment), 'single quoted' (literal) or
# "double quoted" (\" and \\ escapes). Nothing is expanded or executed: a
# value like $(cmd) or `cmd` is kept as the literal text.
parse_env_file() {
  local file=$1 line key value lineno=0 q
  while IFS= read -r line || [[ -n $line ]]; do
    lineno=$((lineno + 1))
    line=${line%$'\r'}
    # trim leading whitespace
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || ${line:0:1} == "#" ]] && continue
    if [[ $line == export[[:space:]]* ]]; then
      line=${line#export}
      line=${line#"${line%%[![:space:]]*}"}
    fi
    if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
      log "warning: $file:$lineno: not KEY=VALUE, ignored"
      continue
    fi
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    q=${value:0:1}
    if [[ $q == "'" ]]; then
      value=${value:1}
      if [[ $value != *"'"* ]]; then
        log "warning: $file:$lineno: unterminated quote, line ignored"
        continue
      fi
      value=${value%%"'"*}
    elif [[ $q == '"' ]]; then
      value=${value:1}
      local out="" c i=0 closed=0
      while ((i < ${#value})); do
        c=${value:i:1}
        if [[ $c == "\\" && $((i + 1)) -lt ${#value} ]]; then
          i=$((i + 1))
          out+=${value:i:1}
        elif [[ $c == '"' ]]; then
          closed=1
          break
        else
          out+=$c
        fi
        i=$((i + 1))
      done
      if ((closed == 0)); then
        log "warning: $file:$lineno: unterminated quote, line ignored"
        continue
      fi
      value=$out
    else
      # unquoted: strip an inline comment (' #...') and trailing whitespace
      if [[ $value =~ ^(.*[^[:space:]])?[[:space:]]+#.*$ ]]; then
        value=${BASH_REMATCH[1]:-}
      fi
      value=${value%"${value##*[![:space:]]}"}
    fi
    if is_config_key "$key"; then
      printf -v "file_$key" '%s' "$value"
    else
      log "warning: $file:$lineno: unknown key $key, ignored"
    fi
  done <"$file"
}

# cfg KEY DEFAULT: process environment (non-empty) > env file > DEFAULT.
cfg() {
  local key=$1 def=${2-} envv filev
  envv=$(printenv "$key" 2>/dev/null || true)
  if [[ -n $envv ]]; then
    printf '%s' "$envv"
    return
  fi
  filev="file_$key"
  if [[ -n ${!filev} ]]; then
    printf '%s' "${!filev}"
    return
  fi
  printf '%s' "$def"
}

# --- helpers ----------------------------------------------------------------

# The URL as scheme://host[:port]/path: any query string, fragment and
# user:password@ removed. Everything the kit writes (messages, the step
# summary, transcript.json, summary.json, prompts) uses this form: signed
# URLs carry their tokens in the query.
redact_url() {
  local u=$1
  u=${u%%#*}
  u=${u%%\?*}
  if [[ $u =~ ^([A-Za-z]+://)[^/@]*@(.*)$ ]]; then
    u="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
  fi
  printf '%s' "$u"
}

# event_input NAME: the workflow_dispatch input NAME from the event payload at
# $GITHUB_EVENT_PATH (set by GitHub Actions), or nothing when there is no
# payload, no such input, or neither python3 nor jq to read it. The workflows
# hand the audio URL over this way rather than through a step's env:, which
# GitHub prints in the job log.
event_input() {
  local name=$1 ev=${GITHUB_EVENT_PATH:-}
  [[ -n $ev && -r $ev ]] || return 0
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1],encoding="utf-8"))
v=((d.get("inputs") or {}) if isinstance(d,dict) else {}).get(sys.argv[2])
sys.stdout.write(v if isinstance(v,str) else "")' "$ev" "$name" 2>/dev/null || true
  elif command -v jq >/dev/null 2>&1; then
    jq -jr --arg n "$name" '(.inputs // {})[$n] // "" | strings' "$ev" 2>/dev/null || true
  fi
}

# mask_url URL: under GitHub Actions, asks the runner to mask the parts of
# URL that redact_url drops (query, fragment, user:password) in everything
# the job logs afterwards; elsewhere does nothing.
mask_url() {
  local u=$1 secret
  [[ ${GITHUB_ACTIONS:-} == true ]] || return 0
  if [[ $u == *\?* ]]; then
    secret=${u#*\?}
    [[ -n $secret ]] && printf '::add-mask::%s\n' "$secret"
  fi
  if [[ $u =~ ^[A-Za-z]+://([^/@]*)@ ]]; then
    printf '::add-mask::%s\n' "${BASH_REMATCH[1]}"
  fi
  return 0
}
