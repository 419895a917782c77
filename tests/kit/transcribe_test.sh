#!/usr/bin/env bash
# Tests for workflows/transcribe.sh (and workflows/summarize.sh; both source
# workflows/kit_lib.sh) against a fake OpenAI-compatible server on 127.0.0.1,
# a fake whisper binary and a fake ffmpeg. Self-contained: needs bash, curl
# and python3. Prints "N passed, M failed" last and exits non-zero when
# anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCRIPT=$ROOT/workflows/transcribe.sh
SUMMARIZE=$ROOT/workflows/summarize.sh
KEY="sk-test-$$-not-a-real-key"

for tool in curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "transcribe_test: $tool is required" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/relayq-kit-test.XXXXXX")
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
CURRENT=""
ok() { PASS=$((PASS + 1)); echo "ok   - $CURRENT"; }
not_ok() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $CURRENT: $*"
  if [[ -f $TMP/stderr ]]; then
    sed 's/^/       stderr: /' "$TMP/stderr" | head -n 15
  fi
}
# expect DESCRIPTION COMMAND...: one assertion; the test fails on the first.
ASSERT_FAILED=0
expect() {
  local what=$1
  shift
  if ! "$@"; then
    [[ $ASSERT_FAILED == 1 ]] || not_ok "$what"
    ASSERT_FAILED=1
  fi
}
begin() { CURRENT=$1; ASSERT_FAILED=0; rm -f "$TMP/record.jsonl"; : >"$TMP/record.jsonl"; }
finish() { [[ $ASSERT_FAILED == 1 ]] || ok; }

contains() { grep -qF -- "$2" "$1"; }
not_contains() { ! grep -qF -- "$2" "$1"; }
file_has() { [[ -f $1 ]] && [[ $(cat "$1") == "$2" ]]; }
rc_is() { [[ $RC == "$1" ]]; }
# record_py EXPR: evaluate a Python expression over the recorded requests
# (list `reqs`, the POSTs only); true when it is truthy.
record_py() {
  python3 - "$TMP/record.jsonl" "$1" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [r for r in reqs if r["method"] == "POST"]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# --- fake server ------------------------------------------------------------
: >"$TMP/record.jsonl"
python3 "$HERE/fake_openai.py" --key "$KEY" --record "$TMP/record.jsonl" \
  --big-bytes $((3 * 1024 * 1024)) >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$TMP/server.out" 2>/dev/null)
  [[ -n $PORT ]] && break
  sleep 0.1
done
if [[ -z $PORT ]]; then
  echo "transcribe_test: the fake server did not start:" >&2
  cat "$TMP/server.err" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
BASE="http://127.0.0.1:$PORT"

# --- fixtures ---------------------------------------------------------------
HOME_DIR=$TMP/home
mkdir -p "$HOME_DIR/.config/relayq" "$TMP/models" "$TMP/bin"
: >"$TMP/models/ggml-base.bin"
: >"$TMP/models/ggml-small.bin"
cp "$HERE/fake_whisper.sh" "$TMP/bin/whisper-cli"
cp "$HERE/fake_whisper.sh" "$TMP/bin/whisper"
cp "$HERE/fake_ffmpeg.sh" "$TMP/bin/fake-ffmpeg"
chmod +x "$TMP/bin/"*
ENVFILE=$HOME_DIR/.config/relayq/env

# run_t VAR=VALUE... -- ARGS...: run transcribe.sh in a clean environment
# (a temporary HOME, no inherited API keys); sets RC, $TMP/stdout, $TMP/stderr.
run_script() {
  local script=$1
  shift
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  rm -rf "$TMP/out"
  env -i PATH="$PATH" HOME="$HOME_DIR" TMPDIR="$TMP" LANG=C \
    FFMPEG=ffmpeg-absent-in-tests \
    FAKE_WHISPER_LOG="$TMP/whisper.args" FAKE_FFMPEG_LOG="$TMP/ffmpeg.args" \
    ${envs[@]+"${envs[@]}"} \
    bash "$script" --out-dir "$TMP/out" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  RC=$?
}
run_t() { run_script "$SCRIPT" "$@"; }
write_env() { printf '%s\n' "$@" >"$ENVFILE"; }

# --- local backend ----------------------------------------------------------

begin "local whisper.cpp: WAV input, transcript.txt and transcript.json written"
write_env "# runner settings" "ASR_BACKEND=local" "WHISPER_BIN=$TMP/bin/whisper-cli" \
  "WHISPER_MODEL_DIR=$TMP/models"
rm -f "$TMP/whisper.args"
run_t -- --url "$BASE/audio/episode.wav" --backend local --model base
expect "exit 0 (got $RC)" rc_is 0
expect "transcript text" file_has "$TMP/out/transcript.txt" "hello from the fake whisper"
expect "-m model file passed" contains "$TMP/whisper.args" "$TMP/models/ggml-base.bin"
expect "-otxt passed" contains "$TMP/whisper.args" "-otxt"
expect "-of passed" contains "$TMP/whisper.args" "-of"
expect "-f passed" contains "$TMP/whisper.args" "-f"
expect "transcript.json fields" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["url"]==sys.argv[2] and d["backend"]=="local" and d["model"]=="base", d
assert isinstance(d["seconds"], int) and d["seconds"]>=0, d
' "$TMP/out/transcript.json" "$BASE/audio/episode.wav"
finish

begin "local whisper.cpp: MP3 is converted to 16 kHz WAV with ffmpeg first"
rm -f "$TMP/ffmpeg.args"
run_t FFMPEG="$TMP/bin/fake-ffmpeg" -- --url "$BASE/audio/episode.mp3" --model base
expect "exit 0 (got $RC)" rc_is 0
expect "ffmpeg called with -ar 16000" contains "$TMP/ffmpeg.args" "16000"
expect "whisper given the converted file" contains "$TMP/whisper.args" "audio16k.wav"
expect "transcript text" file_has "$TMP/out/transcript.txt" "hello from the fake whisper"
finish

begin "local whisper.cpp: MP3 without ffmpeg fails with a clear message"
run_t -- --url "$BASE/audio/episode.mp3"
expect "exit 3 (got $RC)" rc_is 3
expect "mentions ffmpeg" contains "$TMP/stderr" "ffmpeg"
finish

begin "local openai-whisper: picked by binary name, its flags and output file"
write_env "WHISPER_BIN=$TMP/bin/whisper"
run_t -- --url "$BASE/audio/episode.mp3" --model small
expect "exit 0 (got $RC)" rc_is 0
expect "--model small" contains "$TMP/whisper.args" "small"
expect "--output_format txt" contains "$TMP/whisper.args" "--output_format"
expect "--output_dir" contains "$TMP/whisper.args" "--output_dir"
expect "transcript text" file_has "$TMP/out/transcript.txt" "hello from the fake whisper"
finish

begin "local: a failing whisper exits 7"
write_env "WHISPER_BIN=$TMP/bin/whisper-cli" "WHISPER_MODEL_DIR=$TMP/models"
run_t FAKE_WHISPER_FAIL=1 -- --url "$BASE/audio/episode.wav"
expect "exit 7 (got $RC)" rc_is 7
expect "says whisper failed" contains "$TMP/stderr" "failed"
finish

begin "local whisper.cpp: a missing model file is a configuration error"
run_t -- --url "$BASE/audio/episode.wav" --model medium
expect "exit 3 (got $RC)" rc_is 3
expect "names the model file" contains "$TMP/stderr" "ggml-medium.bin"
finish

# --- OpenAI-compatible API --------------------------------------------------

begin "openai backend: key, multipart file and model reach the server"
write_env "AI_API_KEY=$KEY" "AI_BASE_URL=$BASE/v1"
run_t -- --url "$BASE/audio/episode.mp3" --backend openai --model base
expect "exit 0 (got $RC)" rc_is 0
expect "transcript text" file_has "$TMP/out/transcript.txt" "hello from the fake api"
expect "Authorization: Bearer KEY arrived" record_py 'len(reqs)==1 and reqs[0]["auth_ok"]'
expect "multipart file arrived whole" record_py 'reqs[0]["files"]["file"]["size"]==2052 and reqs[0]["files"]["file"]["head"].startswith("ID3")'
expect "whisper size name mapped to whisper-1" record_py 'reqs[0]["fields"]["model"]=="whisper-1"'
expect "json backend openai" contains "$TMP/out/transcript.json" '"backend": "openai"'
expect "key not printed" not_contains "$TMP/stderr" "$KEY"
expect "key not printed (stdout)" not_contains "$TMP/stdout" "$KEY"
finish

begin "openai backend: an explicit API model is sent as given"
run_t -- --url "$BASE/audio/episode.mp3" --backend openai --model gpt-4o-mini-transcribe
expect "exit 0 (got $RC)" rc_is 0
expect "model field" record_py 'reqs[0]["fields"]["model"]=="gpt-4o-mini-transcribe"'
finish

begin "openai backend: a key from the job environment overrides the env file"
write_env "AI_API_KEY=wrong-key-in-file" "AI_BASE_URL=$BASE/v1"
run_t AI_API_KEY="$KEY" -- --url "$BASE/audio/episode.mp3" --backend openai
expect "exit 0 (got $RC)" rc_is 0
expect "server saw the right key" record_py 'reqs[0]["auth_ok"]'
finish

begin "openai backend: a rejected key exits 7 without printing the key"
run_t -- --url "$BASE/audio/episode.mp3" --backend openai
expect "exit 7 (got $RC)" rc_is 7
expect "says HTTP 401" contains "$TMP/stderr" "HTTP 401"
expect "key not printed" not_contains "$TMP/stderr" "wrong-key-in-file"
finish

begin "openai backend: no API key is a configuration error"
write_env "AI_BASE_URL=$BASE/v1"
run_t -- --url "$BASE/audio/episode.mp3" --backend openai
expect "exit 3 (got $RC)" rc_is 3
expect "names AI_API_KEY" contains "$TMP/stderr" "AI_API_KEY"
expect "no request sent" record_py 'len(reqs)==0'
finish

begin "openrouter backend: its own base URL and default model"
write_env "AI_API_KEY=$KEY" "OPENROUTER_BASE_URL=$BASE/v1" "AI_BASE_URL=http://127.0.0.1:9/unused"
run_t -- --url "$BASE/audio/episode.mp3" --backend openrouter
expect "exit 0 (got $RC)" rc_is 0
expect "reached the router with the key" record_py 'len(reqs)==1 and reqs[0]["auth_ok"]'
expect "router model" record_py 'reqs[0]["fields"]["model"]=="openai/whisper-1"'
finish

# --- env file ---------------------------------------------------------------

begin "env file: comments, export, quotes; \$(...) and backticks are never run"
cat >"$ENVFILE" <<EOF
# relayq runner settings

export ASR_BACKEND="openai"   # the API, not local
AI_API_KEY='$KEY'
  AI_BASE_URL = $BASE/v1
AI_MODEL=\$(touch $TMP/pwned-model)
X=\$(touch $TMP/pwned)
Y=\`touch $TMP/pwned-backtick\`
WHISPER_LANGUAGE="en" ; touch $TMP/pwned-semicolon
this line is junk
MAX_SIZE_MB=50 # inline comment
EOF
run_t -- --url "$BASE/audio/episode.mp3"
expect "exit 0 (got $RC)" rc_is 0
expect "ASR_BACKEND from the file chose the API" record_py 'len(reqs)==1 and reqs[0]["auth_ok"]'
expect "the \$(...) value is sent literally" record_py "reqs[0]['fields']['model']=='\$(touch $TMP/pwned-model)'"
expect "no code ran (\$(...))" test ! -e "$TMP/pwned"
expect "no code ran (AI_MODEL)" test ! -e "$TMP/pwned-model"
expect "no code ran (backticks)" test ! -e "$TMP/pwned-backtick"
expect "no code ran (;)" test ! -e "$TMP/pwned-semicolon"
expect "junk line warned about" contains "$TMP/stderr" "not KEY=VALUE"
finish

begin "env file: an explicit job backend overrides ASR_BACKEND"
cat >"$ENVFILE" <<EOF
ASR_BACKEND=openai
AI_API_KEY=$KEY
AI_BASE_URL=$BASE/v1
WHISPER_BIN=$TMP/bin/whisper-cli
WHISPER_MODEL_DIR=$TMP/models
WHISPER_MODEL=small
EOF
rm -f "$TMP/whisper.args"
run_t BACKEND=local -- --url "$BASE/audio/episode.wav"
expect "exit 0 (got $RC)" rc_is 0
expect "no API request" record_py 'len(reqs)==0'
expect "whisper ran with WHISPER_MODEL from the file" contains "$TMP/whisper.args" "ggml-small.bin"
finish

begin "env file: backend 'runner' defers to ASR_BACKEND"
run_t URL="$BASE/audio/episode.mp3" BACKEND=runner MODEL=base --
expect "exit 0 (got $RC)" rc_is 0
expect "API used" record_py 'len(reqs)==1'
finish

# --- as the kit's workflows run it -------------------------------------------
# The workflows pass empty backend/model inputs through (they mean "the
# runner decides") and no URL variable: the URL is the workflow_dispatch
# event's `url` input, whose query (a signed link's token) must never be
# written anywhere.
SIGNED_QUERY="X-Amz-Signature=s3cr3t-sig-$$&X-Amz-Credential=cred-$$"
write_event() {
  printf '{"inputs": {"url": "%s", "backend": "", "model": "", "size_mb": "", "relayq_id": "7"}, "ref": "refs/heads/main"}\n' "$1" >"$TMP/event.json"
}

begin "workflow run: empty backend/model inputs mean the runner's ASR_BACKEND and WHISPER_MODEL"
write_env "ASR_BACKEND=local" "WHISPER_MODEL=small" "WHISPER_BIN=$TMP/bin/whisper-cli" \
  "WHISPER_MODEL_DIR=$TMP/models" "AI_API_KEY=$KEY" "AI_BASE_URL=$BASE/v1"
write_event "$BASE/audio/episode.wav?$SIGNED_QUERY"
rm -f "$TMP/whisper.args" "$TMP/step-summary.md"
run_t BACKEND= MODEL= RELAYQ_ID=7 GITHUB_ACTIONS=true GITHUB_EVENT_PATH="$TMP/event.json" \
  GITHUB_STEP_SUMMARY="$TMP/step-summary.md" --
expect "exit 0 (got $RC)" rc_is 0
expect "local backend from ASR_BACKEND (no API request)" record_py 'len(reqs)==0'
expect "model from WHISPER_MODEL" contains "$TMP/whisper.args" "$TMP/models/ggml-small.bin"
expect "transcript written" file_has "$TMP/out/transcript.txt" "hello from the fake whisper"
finish

begin "workflow run: ASR_BACKEND=openai applies to an empty backend input"
write_env "ASR_BACKEND=openai" "AI_API_KEY=$KEY" "AI_BASE_URL=$BASE/v1"
run_t BACKEND= MODEL= GITHUB_EVENT_PATH="$TMP/event.json" --
expect "exit 0 (got $RC)" rc_is 0
expect "the API was used" record_py 'len(reqs)==1'
finish

begin "workflow run: the URL's query is masked and never written (log, transcript.json, step summary)"
write_env "ASR_BACKEND=local" "WHISPER_BIN=$TMP/bin/whisper-cli" "WHISPER_MODEL_DIR=$TMP/models"
rm -f "$TMP/step-summary.md"
run_t BACKEND= MODEL= GITHUB_ACTIONS=true GITHUB_EVENT_PATH="$TMP/event.json" \
  GITHUB_STEP_SUMMARY="$TMP/step-summary.md" --
expect "exit 0 (got $RC)" rc_is 0
expect "the query is masked for GitHub's log" contains "$TMP/stdout" "::add-mask::$SIGNED_QUERY"
expect "stderr names the URL without its query" contains "$TMP/stderr" "$BASE/audio/episode.wav"
expect "no signature in stderr" not_contains "$TMP/stderr" "s3cr3t-sig"
expect "transcript.json url is scheme://host/path" python3 -c '
import json,sys
sys.exit(0 if json.load(open(sys.argv[1]))["url"]==sys.argv[2] else 1)' "$TMP/out/transcript.json" "$BASE/audio/episode.wav"
expect "no signature in transcript.json" not_contains "$TMP/out/transcript.json" "s3cr3t-sig"
expect "the step summary names the redacted URL" contains "$TMP/step-summary.md" "$BASE/audio/episode.wav"
expect "no signature in the step summary" not_contains "$TMP/step-summary.md" "s3cr3t-sig"
finish

begin "workflow run: a URL with user:password@ is written without it"
write_event "http://user:pa55word@127.0.0.1:$PORT/audio/episode.wav"
run_t BACKEND= MODEL= GITHUB_ACTIONS=true GITHUB_EVENT_PATH="$TMP/event.json" --
expect "exit 0 (got $RC)" rc_is 0
expect "credentials masked" contains "$TMP/stdout" "::add-mask::user:pa55word"
expect "no password in stderr" not_contains "$TMP/stderr" "pa55word"
expect "no password in transcript.json" not_contains "$TMP/out/transcript.json" "pa55word"
finish

# --- download failures ------------------------------------------------------

begin "HTTP 404 audio fails with a clear message"
write_env "WHISPER_BIN=$TMP/bin/whisper-cli" "WHISPER_MODEL_DIR=$TMP/models"
run_t -- --url "$BASE/audio/missing.mp3?token=secret-token"
expect "exit 4 (got $RC)" rc_is 4
expect "says HTTP 404" contains "$TMP/stderr" "HTTP 404"
expect "names the URL" contains "$TMP/stderr" "$BASE/audio/missing.mp3"
expect "query string redacted" not_contains "$TMP/stderr" "secret-token"
expect "no transcript" test ! -e "$TMP/out/transcript.txt"
finish

begin "oversize download (Content-Length) fails"
run_t MAX_SIZE_MB=1 -- --url "$BASE/audio/big.mp3"
expect "exit 5 (got $RC)" rc_is 5
expect "says too large" contains "$TMP/stderr" "too large"
finish

begin "oversize download (chunked, no length) fails"
run_t MAX_SIZE_MB=1 -- --url "$BASE/audio/big-chunked.mp3"
expect "exit 5 (got $RC)" rc_is 5
expect "says too large" contains "$TMP/stderr" "too large"
finish

begin "MAX_SIZE_MB from the env file applies"
write_env "WHISPER_BIN=$TMP/bin/whisper-cli" "WHISPER_MODEL_DIR=$TMP/models" "MAX_SIZE_MB=2"
run_t -- --url "$BASE/audio/big.mp3"
expect "exit 5 (got $RC)" rc_is 5
finish

begin "non-http(s) URLs are refused"
run_t -- --url "file:///etc/passwd"
expect "exit 2 (got $RC)" rc_is 2
expect "says http" contains "$TMP/stderr" "http"
finish

begin "a redirect to file:// is refused"
run_t -- --url "$BASE/audio/redirect-file"
expect "exit 4 (got $RC)" rc_is 4
finish

begin "no URL is a usage error"
run_t --
expect "exit 2 (got $RC)" rc_is 2
expect "says no URL" contains "$TMP/stderr" "URL"
finish

begin "unknown backend is a usage error"
run_t -- --url "$BASE/audio/episode.wav" --backend whisperx
expect "exit 2 (got $RC)" rc_is 2
finish

# --- summarize.sh -----------------------------------------------------------

if [[ -f $SUMMARIZE ]]; then
  mkdir -p "$TMP/in"
  printf 'First sentence of the episode. Second sentence here. Third one.\n' >"$TMP/in/transcript.txt"

  begin "summarize: OpenAI-compatible chat API gets the transcript"
  write_env "AI_API_KEY=$KEY" "AI_BASE_URL=$BASE/v1"
  run_script "$SUMMARIZE" -- --input "$TMP/in/transcript.txt" --url "https://example.com/e.mp3"
  expect "exit 0 (got $RC)" rc_is 0
  expect "summary text" contains "$TMP/out/summary.txt" "fake summary of the transcript"
  expect "key sent" record_py 'len(reqs)==1 and reqs[0]["auth_ok"]'
  expect "transcript in the prompt" record_py '"Second sentence" in json.dumps(reqs[0]["json"])'
  expect "key not printed" not_contains "$TMP/stderr" "$KEY"
  finish

  begin "summarize: local fallback without an API key"
  write_env "# nothing"
  run_script "$SUMMARIZE" -- --input "$TMP/in/transcript.txt"
  expect "exit 0 (got $RC)" rc_is 0
  expect "summary from the transcript" contains "$TMP/out/summary.txt" "First sentence of the episode."
  expect "no request" record_py 'len(reqs)==0'
  finish

  begin "summarize: without a URL, the redacted one from transcript.json; never a query"
  write_env "AI_API_KEY=$KEY" "AI_BASE_URL=$BASE/v1"
  mkdir -p "$TMP/in2"
  cp "$TMP/in/transcript.txt" "$TMP/in2/"
  printf '{"url": "https://cdn.example.com/e.mp3", "backend": "local"}\n' >"$TMP/in2/transcript.json"
  run_script "$SUMMARIZE" SOURCE_RUN=99 -- --input "$TMP/in2"
  expect "exit 0 (got $RC)" rc_is 0
  expect "summary.json names the transcript's URL" python3 -c '
import json,sys
sys.exit(0 if json.load(open(sys.argv[1]))["url"]=="https://cdn.example.com/e.mp3" else 1)' "$TMP/out/summary.json"
  printf '{"inputs": {"url": "https://cdn.example.com/e.mp3?%s", "source_run": "99"}}\n' "$SIGNED_QUERY" >"$TMP/event-s.json"
  run_script "$SUMMARIZE" SOURCE_RUN=99 GITHUB_EVENT_PATH="$TMP/event-s.json" -- --input "$TMP/in2"
  expect "exit 0 with the event's URL (got $RC)" rc_is 0
  expect "no signature in summary.json" not_contains "$TMP/out/summary.json" "s3cr3t-sig"
  expect "no signature in the prompt" record_py 'all("s3cr3t-sig" not in json.dumps(r["json"]) for r in reqs)'
  finish

  begin "summarize: a missing transcript fails clearly"
  run_script "$SUMMARIZE" -- --input "$TMP/in/nope.txt"
  expect "exit 3 (got $RC)" rc_is 3
  expect "names the file" contains "$TMP/stderr" "nope.txt"
  finish
fi

# --- the workflows folder copied elsewhere (kit_lib.sh beside the scripts) ----

KIT_COPY=$TMP/repo/.github/relayq
mkdir -p "$KIT_COPY" "$TMP/lonely"
cp "$ROOT/workflows/transcribe.sh" "$ROOT/workflows/summarize.sh" "$ROOT/workflows/kit_lib.sh" "$KIT_COPY/"
cp "$ROOT/workflows/transcribe.sh" "$TMP/lonely/"

begin "copied workflows folder: transcribe.sh finds kit_lib.sh beside it"
write_env "ASR_BACKEND=local" "WHISPER_BIN=$TMP/bin/whisper-cli" "WHISPER_MODEL_DIR=$TMP/models"
run_script "$KIT_COPY/transcribe.sh" -- --url "$BASE/audio/episode.wav"
expect "exit 0 (got $RC)" rc_is 0
expect "transcript text" file_has "$TMP/out/transcript.txt" "hello from the fake whisper"
finish

begin "copied workflows folder: summarize.sh finds kit_lib.sh beside it"
write_env "# nothing"
printf 'Only sentence.\n' >"$TMP/copy-transcript.txt"
run_script "$KIT_COPY/summarize.sh" -- --input "$TMP/copy-transcript.txt"
expect "exit 0 (got $RC)" rc_is 0
expect "summary" file_has "$TMP/out/summary.txt" "Only sentence."
finish

begin "transcribe.sh without kit_lib.sh is a configuration error"
run_script "$TMP/lonely/transcribe.sh" -- --url "$BASE/audio/episode.wav"
expect "exit 3 (got $RC)" rc_is 3
expect "names kit_lib.sh" contains "$TMP/stderr" "kit_lib.sh is missing"
finish

echo "$PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
