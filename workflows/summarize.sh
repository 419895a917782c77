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
# The URL (--url, $URL, else the workflow_dispatch event's `url` input, else
# the "url" of transcript.json beside the transcript) is written only as
# scheme://host/path.
# Settings come from ~/.config/relayq/env, parsed like transcribe.sh does
# (never sourced); a non-empty environment variable wins over the file.
# Needs kit_lib.sh, the helpers it shares with transcribe.sh, in its own
# folder: copy the whole workflows folder.
#
# Exit codes: 0 success, 2 usage error, 3 configuration error or missing
# transcript, 7 summarization failed (API error).
set -euo pipefail

readonly EX_USAGE=2 EX_CONFIG=3 EX_FAILED=7
PROG=summarize.sh

# log, die, usage, need_arg, the env-file reader (parse_env_file, cfg) and
# redact_url, shared with transcribe.sh.
KIT_LIB="$(dirname "${BASH_SOURCE[0]}")/kit_lib.sh"
[[ -r $KIT_LIB ]] || { printf '%s: error: %s is missing (copy the whole workflows folder)\n' "$PROG" "$KIT_LIB" >&2; exit "$EX_CONFIG"; }
# shellcheck source-path=SCRIPTDIR source=kit_lib.sh
source "$KIT_LIB"

INPUT=${INPUT:-transcript}
SRC_URL=${URL-}
[[ -n $SRC_URL ]] || SRC_URL=$(event_input url)
OUT=${OUT_DIR:-$PWD/summary-out}
BACKEND_SEL=${SUMMARY_BACKEND_INPUT-}
ENV_FILE=${RELAYQ_ENV_FILE:-${HOME:-/nonexistent}/.config/relayq/env}

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

# Without a URL, the one transcribe.sh recorded beside the transcript
# (already redacted) names the source.
if [[ -z $SRC_URL && -d $INPUT && -r $INPUT/transcript.json ]] && command -v python3 >/dev/null 2>&1; then
  SRC_URL=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1],encoding="utf-8"))
v=d.get("url") if isinstance(d,dict) else None
sys.stdout.write(v if isinstance(v,str) else "")' "$INPUT/transcript.json" 2>/dev/null || true)
fi
# Only scheme://host/path of the URL is written (prompt, summary.json).
SRC_URL=$(redact_url "$SRC_URL")

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
