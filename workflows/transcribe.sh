#!/usr/bin/env bash
# transcribe.sh — the one script the relayq kit's transcribe workflows run.
#
# Fetches an audio file over http(s), transcribes it with the chosen backend
# and writes OUT_DIR/transcript.txt and OUT_DIR/transcript.json.
#
# Usage:
#   transcribe.sh [--url URL] [--backend local|openai|openrouter|runner]
#                 [--model MODEL] [--out-dir DIR] [--env-file FILE]
#   transcribe.sh --help
#
# Every option can also be given as an environment variable (URL, BACKEND,
# MODEL, OUT_DIR, RELAYQ_ENV_FILE); options win over variables. Without
# either, the URL is the `url` input of the workflow_dispatch event at
# $GITHUB_EVENT_PATH (how the kit's workflows pass it, so the signed URL never
# shows in the job log's env listing). Only scheme://host/path of the URL is
# ever written (log, step summary, transcript.json).
#
# Runner settings come from ~/.config/relayq/env (KEY=VALUE lines, see
# docs/kit.md). The file is parsed (by kit_lib.sh), never sourced: nothing in
# it is executed.
# Precedence, highest first: the job's inputs (--backend/--model, BACKEND/MODEL)
# > a non-empty process environment variable of the same key > the env file
# > built-in defaults. An empty BACKEND or MODEL (the workflows' defaults)
# means "the runner decides": ASR_BACKEND / WHISPER_MODEL; BACKEND "runner"
# means the same.
#
# Needs kit_lib.sh, the helpers it shares with summarize.sh, in its own
# folder: copy the whole workflows folder. Works with bash 3.2 (macOS
# /bin/bash) and later.
#
# Exit codes:
#   0 success
#   2 usage error (bad option, missing or non-http(s) URL, unknown backend)
#   3 configuration error (unreadable env file, missing API key, no whisper
#     binary or model, missing tool such as curl or ffmpeg, no kit_lib.sh)
#   4 download failed (HTTP error, network error, timeout)
#   5 download too large (over MAX_SIZE_MB)
#   6 audio conversion failed (ffmpeg)
#   7 transcription failed (whisper exited non-zero, API error, empty result)
set -euo pipefail

readonly EX_USAGE=2 EX_CONFIG=3 EX_DOWNLOAD=4 EX_TOO_LARGE=5 EX_CONVERT=6 EX_TRANSCRIBE=7

PROG=transcribe.sh
API_MAX_MB_DEFAULT=25     # OpenAI's upload limit for /audio/transcriptions

# log, die, usage, need_arg, the env-file reader (parse_env_file, cfg) and
# redact_url, shared with summarize.sh.
KIT_LIB="$(dirname "${BASH_SOURCE[0]}")/kit_lib.sh"
[[ -r $KIT_LIB ]] || { printf '%s: error: %s is missing (copy the whole workflows folder)\n' "$PROG" "$KIT_LIB" >&2; exit "$EX_CONFIG"; }
# shellcheck source-path=SCRIPTDIR source=kit_lib.sh
source "$KIT_LIB"

# --- helpers ----------------------------------------------------------------

json_escape() {
  local s=$1 out="" c i code
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '"') out+='\"' ;;
      "\\") out+="\\\\" ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        printf -v code '%d' "'$c" 2>/dev/null || code=32
        if ((code >= 0 && code < 32)); then
          printf -v c '\\u%04x' "$code"
        fi
        out+=$c
        ;;
    esac
  done
  printf '"%s"' "$out"
}

file_size() { wc -c <"$1" | tr -d '[:space:]'; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Whisper size names, which mean nothing to a hosted API.
is_whisper_size() {
  case $1 in
    tiny | tiny.en | base | base.en | small | small.en | medium | medium.en | \
      large | large-v1 | large-v2 | large-v3 | large-v3-turbo | turbo) return 0 ;;
  esac
  return 1
}

# Looks like a WAV file (RIFF....WAVE)?
is_wav() {
  local head
  head=$(head -c 12 "$1" 2>/dev/null | LC_ALL=C tr -c '[:upper:]' '.') || return 1
  [[ $head == RIFF....WAVE ]]
}

# Extract the "text" field of a JSON object with python3 or jq.
json_text() {
  local file=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1],encoding="utf-8"))
t=d.get("text") if isinstance(d,dict) else None
if not isinstance(t,str): sys.exit(1)
sys.stdout.write(t)' "$file"
  elif command -v jq >/dev/null 2>&1; then
    jq -er '.text | strings' "$file"
  else
    die "$EX_CONFIG" "python3 or jq is needed to read the API's JSON answer"
  fi
}

# --- arguments --------------------------------------------------------------

ARG_URL=${URL-}
ARG_BACKEND=${BACKEND-}
ARG_MODEL=${MODEL-}
ARG_OUT_DIR=${OUT_DIR-}
ENV_FILE=${RELAYQ_ENV_FILE:-${HOME:-/nonexistent}/.config/relayq/env}

while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --url)
      need_arg "$@"
      ARG_URL=$2
      shift 2
      ;;
    --url=*)
      ARG_URL=${1#*=}
      shift
      ;;
    --backend)
      need_arg "$@"
      ARG_BACKEND=$2
      shift 2
      ;;
    --backend=*)
      ARG_BACKEND=${1#*=}
      shift
      ;;
    --model)
      need_arg "$@"
      ARG_MODEL=$2
      shift 2
      ;;
    --model=*)
      ARG_MODEL=${1#*=}
      shift
      ;;
    --out-dir)
      need_arg "$@"
      ARG_OUT_DIR=$2
      shift 2
      ;;
    --out-dir=*)
      ARG_OUT_DIR=${1#*=}
      shift
      ;;
    --env-file)
      need_arg "$@"
      ENV_FILE=$2
      shift 2
      ;;
    --env-file=*)
      ENV_FILE=${1#*=}
      shift
      ;;
    *) die "$EX_USAGE" "unknown argument: $1 (see --help)" ;;
  esac
done

if [[ -e $ENV_FILE ]]; then
  [[ -r $ENV_FILE ]] || die "$EX_CONFIG" "cannot read env file $ENV_FILE"
  parse_env_file "$ENV_FILE"
fi

[[ -n $ARG_URL ]] || ARG_URL=$(event_input url)
[[ -n $ARG_URL ]] || die "$EX_USAGE" "no URL given (--url URL or URL=...)"
mask_url "$ARG_URL"
case $ARG_URL in
  http://* | https://* | HTTP://* | HTTPS://*) ;;
  *) die "$EX_USAGE" "only http:// and https:// URLs are accepted, got: $(redact_url "$ARG_URL")" ;;
esac

BACKEND_SEL=$ARG_BACKEND
if [[ -z $BACKEND_SEL || $BACKEND_SEL == runner ]]; then
  BACKEND_SEL=$(cfg ASR_BACKEND local)
fi
case $BACKEND_SEL in
  local | openai | openrouter) ;;
  *) die "$EX_USAGE" "unknown backend '$BACKEND_SEL' (expected local, openai or openrouter)" ;;
esac

MODEL_SEL=$ARG_MODEL
[[ -n $MODEL_SEL ]] || MODEL_SEL=$(cfg WHISPER_MODEL base)

OUT=${ARG_OUT_DIR:-$PWD/transcript-out}
mkdir -p "$OUT" || die "$EX_CONFIG" "cannot create output directory $OUT"

MAX_SIZE_MB=$(cfg MAX_SIZE_MB 1000)
is_uint "$MAX_SIZE_MB" || die "$EX_CONFIG" "MAX_SIZE_MB must be a whole number of megabytes, got '$MAX_SIZE_MB'"
DOWNLOAD_TIMEOUT=$(cfg DOWNLOAD_TIMEOUT 3600)
is_uint "$DOWNLOAD_TIMEOUT" || die "$EX_CONFIG" "DOWNLOAD_TIMEOUT must be seconds, got '$DOWNLOAD_TIMEOUT'"
CONVERT=$(cfg CONVERT auto)
case $CONVERT in auto | always | never) ;; *) die "$EX_CONFIG" "CONVERT must be auto, always or never" ;; esac

command -v curl >/dev/null 2>&1 || die "$EX_CONFIG" "curl is not installed"

FFMPEG_BIN=$(cfg FFMPEG ffmpeg)
have_ffmpeg() { command -v "$FFMPEG_BIN" >/dev/null 2>&1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/relayq-transcribe.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

START=$(date +%s)
SAFE_URL=$(redact_url "$ARG_URL")

# --- download ---------------------------------------------------------------

# Keep the URL's extension (the API and whisper guess the format from it).
path_part=${ARG_URL%%[?#]*}
base_name=${path_part##*/}
ext=""
if [[ $base_name == *.* ]]; then
  ext=${base_name##*.}
  ext=$(printf '%s' "$ext" | tr '[:upper:]' '[:lower:]')
  [[ $ext =~ ^[a-z0-9]{1,5}$ ]] || ext=""
fi
AUDIO="$WORK/audio${ext:+.$ext}"
max_bytes=$((MAX_SIZE_MB * 1024 * 1024))

log "downloading $SAFE_URL (limit ${MAX_SIZE_MB} MB)"
set +e
# --max-filesize stops a download whose announced size is too large; for one
# without a Content-Length the file-size limit (ulimit -f, in KiB here) stops
# curl once the file outgrows the cap, so the disk never fills.
http_code=$(
  ulimit -f $((max_bytes / 1024 + 2)) 2>/dev/null || true
  exec curl -sS -L --max-redirs 5 --proto '=http,https' --proto-redir '=http,https' \
    --fail --connect-timeout 30 --max-time "$DOWNLOAD_TIMEOUT" \
    --max-filesize "$max_bytes" -o "$AUDIO" -w '%{http_code}' \
    -- "$ARG_URL" 2>"$WORK/curl.err"
)
rc=$?
set -e
if ((rc != 0)) && [[ -f $AUDIO ]] && (($(file_size "$AUDIO") > max_bytes)); then
  die "$EX_TOO_LARGE" "download too large: $SAFE_URL is over MAX_SIZE_MB=$MAX_SIZE_MB"
fi
if ((rc != 0)); then
  err=$(head -c 300 "$WORK/curl.err" | tr '\n' ' ')
  case $rc in
    63) die "$EX_TOO_LARGE" "download too large: $SAFE_URL is over MAX_SIZE_MB=$MAX_SIZE_MB" ;;
    22) die "$EX_DOWNLOAD" "download failed: HTTP ${http_code:-error} from $SAFE_URL" ;;
    28) die "$EX_DOWNLOAD" "download failed: timed out fetching $SAFE_URL" ;;
    1) die "$EX_DOWNLOAD" "download failed: $SAFE_URL redirected to a protocol other than http(s)" ;;
    *) die "$EX_DOWNLOAD" "download failed (curl exit $rc) for $SAFE_URL: $err" ;;
  esac
fi
[[ -f $AUDIO ]] || die "$EX_DOWNLOAD" "download failed: no data from $SAFE_URL"
BYTES=$(file_size "$AUDIO")
if ((BYTES > max_bytes)); then
  die "$EX_TOO_LARGE" "download too large: $SAFE_URL is $BYTES bytes, over MAX_SIZE_MB=$MAX_SIZE_MB"
fi
((BYTES > 0)) || die "$EX_DOWNLOAD" "download failed: $SAFE_URL is empty"
log "downloaded $BYTES bytes"

# convert_audio KIND OUT: KIND wav16k (whisper.cpp input) or mp3 (small upload).
convert_audio() {
  local kind=$1 out=$2
  have_ffmpeg || die "$EX_CONFIG" "ffmpeg is needed to convert the audio but '$FFMPEG_BIN' was not found (install ffmpeg, or set FFMPEG=/path/to/ffmpeg)"
  log "converting with ffmpeg ($kind)"
  local args=(-nostdin -hide_banner -loglevel error -y -i "$AUDIO" -vn -ac 1 -ar 16000)
  if [[ $kind == wav16k ]]; then
    args+=(-c:a pcm_s16le "$out")
  else
    args+=(-c:a libmp3lame -b:a 48k "$out")
  fi
  if ! "$FFMPEG_BIN" "${args[@]}" 2>"$WORK/ffmpeg.err"; then
    log "$(head -c 500 "$WORK/ffmpeg.err")"
    die "$EX_CONVERT" "ffmpeg could not convert the audio from $SAFE_URL"
  fi
  [[ -s $out ]] || die "$EX_CONVERT" "ffmpeg produced no output"
}

TRANSCRIPT="$OUT/transcript.txt"
rm -f "$TRANSCRIPT" "$OUT/transcript.json"

# --- local whisper ----------------------------------------------------------

find_whisper_bin() {
  local b
  b=$(cfg WHISPER_BIN "")
  if [[ -n $b ]]; then
    if [[ $b == */* ]]; then
      [[ -x $b ]] || die "$EX_CONFIG" "WHISPER_BIN=$b is not an executable file"
      printf '%s' "$b"
      return
    fi
    command -v "$b" >/dev/null 2>&1 || die "$EX_CONFIG" "WHISPER_BIN=$b is not on PATH"
    command -v "$b"
    return
  fi
  for b in whisper-cli whisper-cpp whisper; do
    if command -v "$b" >/dev/null 2>&1; then
      command -v "$b"
      return
    fi
  done
  die "$EX_CONFIG" "no local whisper found: set WHISPER_BIN in $ENV_FILE to whisper.cpp's whisper-cli (or main) or openai-whisper's whisper"
}

transcribe_local() {
  local bin kind name modelfile input lang threads
  bin=$(find_whisper_bin)
  kind=$(cfg WHISPER_KIND "")
  if [[ -z $kind ]]; then
    name=${bin##*/}
    case $name in
      whisper | whisper.py | whisper-openai) kind=openai ;;
      *) kind=cpp ;;
    esac
  fi
  lang=$(cfg WHISPER_LANGUAGE "")
  threads=$(cfg WHISPER_THREADS "")
  # Extra flags, split on whitespace (no quoting, no expansion).
  local extra_str extra=()
  extra_str=$(cfg WHISPER_ARGS "")
  if [[ -n $extra_str ]]; then
    read -r -a extra <<<"$extra_str"
  fi
  case $kind in
    cpp | whisper.cpp)
      if [[ $MODEL_SEL == */* || $MODEL_SEL == *.bin ]]; then
        modelfile=$MODEL_SEL
      else
        modelfile="$(cfg WHISPER_MODEL_DIR "${HOME:-}/.local/share/whisper.cpp/models")/ggml-$MODEL_SEL.bin"
      fi
      [[ -f $modelfile ]] || die "$EX_CONFIG" "whisper.cpp model file not found: $modelfile (download it with whisper.cpp's models/download-ggml-model.sh $MODEL_SEL, or set WHISPER_MODEL_DIR)"
      input=$AUDIO
      if [[ $CONVERT == always ]] || { [[ $CONVERT == auto ]] && ! is_wav "$AUDIO"; }; then
        input="$WORK/audio16k.wav"
        convert_audio wav16k "$input"
      fi
      local args=(-m "$modelfile" -f "$input" -otxt -of "$WORK/transcript")
      [[ -n $lang ]] && args+=(-l "$lang")
      [[ -n $threads ]] && args+=(-t "$threads")
      log "transcribing locally with whisper.cpp ($bin, model $MODEL_SEL)"
      if ! "$bin" "${args[@]}" ${extra[@]+"${extra[@]}"} >"$WORK/whisper.log" 2>&1; then
        tail -n 20 "$WORK/whisper.log" >&2 || true
        die "$EX_TRANSCRIBE" "whisper.cpp failed on $SAFE_URL"
      fi
      [[ -f $WORK/transcript.txt ]] || die "$EX_TRANSCRIBE" "whisper.cpp wrote no transcript (expected $WORK/transcript.txt)"
      mv "$WORK/transcript.txt" "$TRANSCRIPT"
      ;;
    openai | openai-whisper)
      input=$AUDIO
      if [[ $CONVERT == always ]]; then
        input="$WORK/audio16k.wav"
        convert_audio wav16k "$input"
      fi
      mkdir -p "$WORK/whisper-out"
      local args=("$input" --model "$MODEL_SEL" --output_format txt --output_dir "$WORK/whisper-out")
      [[ -n $lang ]] && args+=(--language "$lang")
      [[ -n $threads ]] && args+=(--threads "$threads")
      log "transcribing locally with openai-whisper ($bin, model $MODEL_SEL)"
      if ! "$bin" "${args[@]}" ${extra[@]+"${extra[@]}"} >"$WORK/whisper.log" 2>&1; then
        tail -n 20 "$WORK/whisper.log" >&2 || true
        die "$EX_TRANSCRIBE" "whisper failed on $SAFE_URL"
      fi
      local stem=${input##*/}
      stem=${stem%.*}
      [[ -f $WORK/whisper-out/$stem.txt ]] || die "$EX_TRANSCRIBE" "whisper wrote no transcript (expected $WORK/whisper-out/$stem.txt)"
      mv "$WORK/whisper-out/$stem.txt" "$TRANSCRIPT"
      ;;
    *) die "$EX_CONFIG" "WHISPER_KIND must be cpp or openai, got '$kind'" ;;
  esac
}

# --- OpenAI-compatible API --------------------------------------------------

transcribe_api() {
  local provider=$1 base key model upload api_max_mb size
  if [[ $provider == openrouter ]]; then
    base=$(cfg OPENROUTER_BASE_URL https://openrouter.ai/api/v1)
    key=$(cfg OPENROUTER_API_KEY "")
    [[ -n $key ]] || key=$(cfg AI_API_KEY "")
    model=$(cfg OPENROUTER_MODEL "")
    [[ -n $model ]] || model=$(cfg AI_MODEL openai/whisper-1)
  else
    base=$(cfg AI_BASE_URL https://api.openai.com/v1)
    key=$(cfg AI_API_KEY "")
    model=$(cfg AI_MODEL whisper-1)
  fi
  # A whisper size name (the workflow's default 'base') means "the API's model".
  if [[ -n $MODEL_SEL ]] && ! is_whisper_size "$MODEL_SEL"; then
    model=$MODEL_SEL
  fi
  MODEL_SEL=$model
  [[ -n $key ]] || die "$EX_CONFIG" "backend $provider needs AI_API_KEY (in $ENV_FILE or the job's environment)"
  case $base in
    http://* | https://*) ;;
    *) die "$EX_CONFIG" "the API base URL must be http(s), got '$base'" ;;
  esac
  case $key in
    *[[:cntrl:]]* | *'"'* | *"\\"*) die "$EX_CONFIG" "AI_API_KEY contains characters that cannot be sent in a header" ;;
  esac

  api_max_mb=$(cfg API_MAX_MB "$API_MAX_MB_DEFAULT")
  is_uint "$api_max_mb" || api_max_mb=$API_MAX_MB_DEFAULT
  upload=$AUDIO
  case $ext in
    mp3 | mp4 | mpeg | mpga | m4a | wav | webm | ogg | oga | flac) ;;
    *)
      if [[ $CONVERT != never ]] && have_ffmpeg; then
        CONVERT=always
      fi
      ;;
  esac
  size=$(file_size "$AUDIO")
  if [[ $CONVERT == always ]] || { [[ $CONVERT == auto ]] && ((size > api_max_mb * 1024 * 1024)) && have_ffmpeg; }; then
    upload="$WORK/upload.mp3"
    convert_audio mp3 "$upload"
    size=$(file_size "$upload")
  fi
  if ((size > api_max_mb * 1024 * 1024)); then
    log "warning: the upload is $size bytes, over the API's usual ${api_max_mb} MB limit; the API may refuse it (install ffmpeg to shrink it)"
  fi

  log "transcribing with the $provider API ($(redact_url "$base"), model $model)"
  local code rc
  set +e
  # The key goes to curl as a config file on stdin, so it is never on a
  # command line (ps) and never printed.
  code=$(printf 'header = "Authorization: Bearer %s"\n' "$key" |
    curl -sS -K - --proto '=http,https' --connect-timeout 30 --max-time "$DOWNLOAD_TIMEOUT" \
      -o "$WORK/api.json" -w '%{http_code}' \
      -F "file=@$upload" -F "model=$model" -F "response_format=json" \
      -- "${base%/}/audio/transcriptions" 2>"$WORK/api.err")
  rc=$?
  set -e
  if ((rc != 0)); then
    die "$EX_TRANSCRIBE" "$provider API request failed (curl exit $rc): $(head -c 300 "$WORK/api.err" | tr '\n' ' ')"
  fi
  if [[ ! $code =~ ^2 ]]; then
    die "$EX_TRANSCRIBE" "$provider API answered HTTP $code: $(head -c 400 "$WORK/api.json" 2>/dev/null | tr '\n' ' ')"
  fi
  local text
  text=$(json_text "$WORK/api.json") || die "$EX_TRANSCRIBE" "$provider API answer has no \"text\" field: $(head -c 300 "$WORK/api.json" | tr '\n' ' ')"
  printf '%s\n' "$text" >"$TRANSCRIPT"
}

case $BACKEND_SEL in
  local) transcribe_local ;;
  openai | openrouter) transcribe_api "$BACKEND_SEL" ;;
esac

[[ -s $TRANSCRIPT ]] || die "$EX_TRANSCRIBE" "the transcript is empty"

END=$(date +%s)
SECONDS_TAKEN=$((END - START))
{
  printf '{"url": %s, "backend": %s, "model": %s, "seconds": %s, "bytes": %s, "relayq_id": %s, "transcript": "transcript.txt"}\n' \
    "$(json_escape "$SAFE_URL")" "$(json_escape "$BACKEND_SEL")" "$(json_escape "$MODEL_SEL")" \
    "$SECONDS_TAKEN" "$BYTES" "$(json_escape "${RELAYQ_ID:-}")"
} >"$OUT/transcript.json"

log "wrote $TRANSCRIPT ($(file_size "$TRANSCRIPT") bytes) in ${SECONDS_TAKEN}s"
# The run page's summary says what was transcribed (the title does not carry
# the URL).
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  printf 'Transcribed %s with %s (model %s): %s bytes in %ss\n' \
    "$SAFE_URL" "$BACKEND_SEL" "$MODEL_SEL" "$BYTES" "$SECONDS_TAKEN" >>"$GITHUB_STEP_SUMMARY" || true
fi
