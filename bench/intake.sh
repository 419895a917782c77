#!/usr/bin/env bash
# bench/intake.sh: relayq's durable webhook ingest, measured.
#
#   bench/intake.sh                      # 16 connections, 10 s, synchronous=full
#   CONNECTIONS="1 16 64" SECONDS_EACH=10 SYNC=normal bench/intake.sh
#
# Builds relayq in Release (build-release/), starts `relayq serve` on a fresh
# store on loopback, and drives it with bench/loadgen (signed ~8 KB
# workflow_job deliveries, unique delivery ids, keep-alive). Prints, per
# connection count: deliveries/s, p50, p99, max latency, errors; then a
# steady 1,000/s run's p99; relayq's time from start to first 2xx, idle RSS
# and peak RSS. Afterwards every acknowledged delivery id is looked up in the
# store: a run that lost one fails (exit 1). Loopback only; bounded in time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-release}
CONNECTIONS=${CONNECTIONS:-16}
SECONDS_EACH=${SECONDS_EACH:-10}
WARMUP=${WARMUP:-2}
SYNC=${SYNC:-full}
STEADY_RATE=${STEADY_RATE:-1000}

"$ROOT/bin/install-deps" >/dev/null
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target relayq loadgen >/dev/null
RELAYQ=$BUILD/relayq
LOADGEN=$BUILD/bench/loadgen

WORK=$(mktemp -d "${TMPDIR:-/tmp}/relayq-bench.XXXXXX")
PID=""
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

PORT=$(free_port)
ADMIN=$(free_port)
cat >"$WORK/relayq.yaml" <<YAML
store:
  path: $WORK/relayq.db
  synchronous: $SYNC
log:
  level: warn
YAML

T0=$(now_ms)
RELAYQ_WEBHOOK_SECRET=bench-secret "$RELAYQ" serve --config "$WORK/relayq.yaml" \
  --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN" >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
BODY=$WORK/first.json
echo '{"zen":"first","repository":{"full_name":"octo-org/media-kit"}}' >"$BODY"
until RELAYQ_WEBHOOK_SECRET=bench-secret "$RELAYQ" send "$BODY" --event ping \
        --url "http://127.0.0.1:$PORT/webhook" >/dev/null 2>&1; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/stderr"; exit 1; }
done
T1=$(now_ms)
sleep 2
IDLE_RSS=$(rss_kb "$PID" VmRSS)

echo "relayq intake benchmark: synchronous=$SYNC, ${SECONDS_EACH}s per run after ${WARMUP}s warm-up, $(nproc) cores"
printf '%-12s %10s %9s %9s %9s %8s\n' connections deliv/s p50_ms p99_ms max_ms errors
: >"$WORK/acked"
rps="" p50_ms="" p99_ms="" max_ms="" errors=0 non2xx=0
for c in $CONNECTIONS; do
  out=$("$LOADGEN" --port "$PORT" --connections "$c" --seconds "$SECONDS_EACH" --warmup "$WARMUP" \
          --secret bench-secret --prefix "c$c" --ids-out "$WORK/ids.$c")
  cat "$WORK/ids.$c" >>"$WORK/acked"
  eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(rps|p50_ms|p99_ms|max_ms|errors|non2xx)=')"
  printf '%-12s %10s %9s %9s %9s %8s\n' "$c" "$rps" "$p50_ms" "$p99_ms" "$max_ms" "$((errors + non2xx))"
done
out=$("$LOADGEN" --port "$PORT" --connections 16 --seconds "$SECONDS_EACH" --warmup 1 \
        --rate "$STEADY_RATE" --secret bench-secret --prefix steady --ids-out "$WORK/ids.steady")
cat "$WORK/ids.steady" >>"$WORK/acked"
eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(rps|p50_ms|p99_ms|max_ms|errors|non2xx)=')"
printf 'steady %s/s (16 conns): p50 %s ms, p99 %s ms, max %s ms\n' "$rps" "$p50_ms" "$p99_ms" "$max_ms"
PEAK_RSS=$(rss_kb "$PID" VmHWM)

kill -TERM "$PID"
wait "$PID" || true
PID=""
ACKED=$(wc -l <"$WORK/acked")
MISSING=$(sqlite3 "$WORK/relayq.db" <<SQL
CREATE TEMP TABLE acked(id TEXT);
.import $WORK/acked acked
SELECT count(*) FROM acked WHERE id NOT IN (SELECT id FROM deliveries);
SQL
)
echo "start to first 2xx: $((T1 - T0)) ms (includes starting relayq send)"
echo "idle RSS: $((IDLE_RSS / 1024)) MiB (${IDLE_RSS} KiB); peak RSS: $((PEAK_RSS / 1024)) MiB (${PEAK_RSS} KiB)"
echo "acknowledged: $ACKED; missing from the store: $MISSING"
if [[ $MISSING != 0 ]]; then
  echo "FAILED: acknowledged deliveries are missing from the store" >&2
  exit 1
fi
