#!/usr/bin/env bash
# summarize.sh — the chained follow-up of the relayq kit: summarizes a
# transcript written by transcribe.sh.
#
# Usage:
#   summarize.sh [--input FILE|DIR] [--url URL] [--out-dir DIR]
#                [--backend auto|api|local] [--env-file FILE]
#   summarize.sh --help
#
# --input is transcript.txt or a folder holding it (as downloaded from the
# source run's "transcript" artifact); default ./transcript. Writes
# OUT_DIR/summary.txt and OUT_DIR/summary.json.
#
# Backends: "api" posts the transcript to an OpenAI-compatible
# $AI_BASE_URL/chat/completions (default https://api.openai.com/v1) with
# AI_API_KEY and SUMMARY_MODEL (default gpt-4o-mini); "local" keeps the first
# sentences (up to SUMMARY_MAX_CHARS, default 1200) — free, private, crude;
# "auto" (default) is api when an AI_API_KEY is set, else local.
# Settings come from ~/.config/relayq/env, parsed like transcribe.sh does
# (never sourced); a non-empty environment variable wins over the file.
#
# Exit codes: 0 success, 2 usage error, 3 configuration error or missing
# transcript, 7 summarization failed (API error).
set -euo pipefail

readonly EX_USAGE=2 EX_CONFIG=3 EX_FAILED=7
PROG=summarize.sh

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  local code=$1
  shift
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit "$code"
}
usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"
}

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

redact_url() {
  local u=$1
  u=${u%%#*}
  u=${u%%\?*}
  if [[ $u =~ ^([A-Za-z]+://)[^/@]*@(.*)$ ]]; then
    u="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
  fi
  printf '%s' "$u"
}

INPUT=${INPUT:-transcript}
SRC_URL=${URL-}
OUT=${OUT_DIR:-$PWD/summary-out}
BACKEND_SEL=${SUMMARY_BACKEND_INPUT-}
ENV_FILE=${RELAYQ_ENV_FILE:-${HOME:-/nonexistent}/.config/relayq/env}

need_arg() { [[ $# -ge 2 ]] || die "$EX_USAGE" "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --input)
      need_arg "$@"
      INPUT=$2
      shift 2
      ;;
    --url)
      need_arg "$@"
      SRC_URL=$2
      shift 2
      ;;
    --out-dir)
      need_arg "$@"
      OUT=$2
      shift 2
      ;;
    --backend)
      need_arg "$@"
      BACKEND_SEL=$2
      shift 2
      ;;
    --env-file)
      need_arg "$@"
      ENV_FILE=$2
      shift 2
      ;;
    *) die "$EX_USAGE" "unknown argument: $1 (see --help)" ;;
  esac
done

if [[ -e $ENV_FILE ]]; then
  [[ -r $ENV_FILE ]] || die "$EX_CONFIG" "cannot read env file $ENV_FILE"
  parse_env_file "$ENV_FILE"
fi

[[ -d $INPUT ]] && INPUT="$INPUT/transcript.txt"
[[ -f $INPUT ]] || die "$EX_CONFIG" "no transcript at $INPUT (was the source run's \"transcript\" artifact downloaded?)"
[[ -s $INPUT ]] || die "$EX_CONFIG" "the transcript $INPUT is empty"

[[ -n $BACKEND_SEL ]] || BACKEND_SEL=$(cfg SUMMARY_BACKEND auto)
KEY=$(cfg AI_API_KEY "")
if [[ $BACKEND_SEL == auto ]]; then
  if [[ -n $KEY ]]; then BACKEND_SEL=api; else BACKEND_SEL=local; fi
fi
case $BACKEND_SEL in
  api | local) ;;
  *) die "$EX_USAGE" "unknown summary backend '$BACKEND_SEL' (expected auto, api or local)" ;;
esac

MAX_CHARS=$(cfg SUMMARY_MAX_CHARS 1200)
[[ $MAX_CHARS =~ ^[0-9]+$ ]] || die "$EX_CONFIG" "SUMMARY_MAX_CHARS must be a number"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relayq-summarize.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

command -v python3 >/dev/null 2>&1 || die "$EX_CONFIG" "python3 is needed to summarize"

MODEL="local-extract"
if [[ $BACKEND_SEL == local ]]; then
  # The first sentences up to MAX_CHARS: a free, private, crude summary.
  python3 - "$INPUT" "$MAX_CHARS" >"$OUT/summary.txt" <<'PY'
import re, sys
text = " ".join(open(sys.argv[1], encoding="utf-8", errors="replace").read().split())
limit = int(sys.argv[2])
out = ""
for s in re.split(r"(?<=[.!?])\s+", text):
    if out and len(out) + 1 + len(s) > limit:
        break
    out = (out + " " + s).strip()
print(out[:limit] if out else text[:limit])
PY
else
  [[ -n $KEY ]] || die "$EX_CONFIG" "the api summary backend needs AI_API_KEY"
  case $KEY in
    *[[:cntrl:]]* | *'"'* | *"\\"*) die "$EX_CONFIG" "AI_API_KEY contains characters that cannot be sent in a header" ;;
  esac
  BASE=$(cfg AI_BASE_URL https://api.openai.com/v1)
  MODEL=$(cfg SUMMARY_MODEL gpt-4o-mini)
  python3 - "$INPUT" "$MODEL" "$SRC_URL" >"$WORK/request.json" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()[:200000]
src = sys.argv[3]
prompt = "Summarize this transcript" + (" of " + src if src else "") + \
    " in a short paragraph followed by up to 7 bullet points of key points.\n\n" + text
print(json.dumps({"model": sys.argv[2], "messages": [
    {"role": "system", "content": "You write concise, faithful summaries."},
    {"role": "user", "content": prompt}]}))
PY
  log "summarizing with $(redact_url "$BASE") (model $MODEL)"
  set +e
  code=$(printf 'header = "Authorization: Bearer %s"\n' "$KEY" |
    curl -sS -K - --proto '=http,https' --connect-timeout 30 --max-time 600 \
      -H 'Content-Type: application/json' --data-binary "@$WORK/request.json" \
      -o "$WORK/answer.json" -w '%{http_code}' -- "${BASE%/}/chat/completions" 2>"$WORK/curl.err")
  rc=$?
  set -e
  ((rc == 0)) || die "$EX_FAILED" "API request failed (curl exit $rc): $(head -c 300 "$WORK/curl.err" | tr '\n' ' ')"
  [[ $code =~ ^2 ]] || die "$EX_FAILED" "API answered HTTP $code: $(head -c 400 "$WORK/answer.json" | tr '\n' ' ')"
  python3 - "$WORK/answer.json" >"$OUT/summary.txt" <<'PY' || die "$EX_FAILED" "the API answer has no message content: $(head -c 300 "$WORK/answer.json" | tr '\n' ' ')"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
c = d["choices"][0]["message"]["content"]
if not isinstance(c, str) or not c.strip():
    sys.exit(1)
print(c.strip())
PY
fi

python3 - "$OUT/summary.json" "$SRC_URL" "$BACKEND_SEL" "$MODEL" "${RELAYQ_ID:-}" "${SOURCE_RUN:-}" <<'PY'
import json, sys
path, url, backend, model, rid, run = sys.argv[1:7]
json.dump({"url": url, "backend": backend, "model": model, "relayq_id": rid,
           "source_run": run, "summary": "summary.txt"}, open(path, "w"))
PY
log "wrote $OUT/summary.txt"
