#!/usr/bin/env bash
# bench/run.sh: relayq against peer webhook receivers, side by side.
#
#   bench/run.sh                                   # the full run (~10 minutes)
#   REPS=1 SECONDS_EACH=3 WARMUP=1 bench/run.sh    # quick mode (~2 minutes)
#
# On a fresh Debian 12 machine (as root): builds relayq in Release
# (build-release/), installs the peers -- adnanh/webhook (Debian `webhook`,
# a payload-hmac-sha256 rule on X-Hub-Signature-256, default mode, running
# /bin/true) and @octokit/webhooks 14 (npm, into bench/peers/octokit/,
# createNodeMiddleware on node:http with a workflow_job handler) -- and
# drives each with the same bench/loadgen: signed ~7 KB workflow_job
# deliveries with unique delivery ids over keep-alive connections, on
# loopback only.
#
# All receivers run side by side for the whole benchmark and are driven in
# turn (each repetition: every connection count on every receiver), so a
# change in the machine's load falls on all of them alike. For each
# receiver and connection count: REPS runs of SECONDS_EACH seconds after
# WARMUP seconds of warm-up; the table shows medians (errors are summed). A further open-loop run at STEADY_RATE deliveries/s over 16
# connections gives the latency at a steady load. relayq runs on a fresh
# store once per SYNCS mode (synchronous=full is the default and the durable
# one) with its default log level (one line per delivery, to a file).
# After its runs, relayq is stopped and every acknowledged delivery id is
# looked up in its store: one missing fails the whole benchmark (exit 1).
# relayq's start to first 2xx, idle RSS and peak RSS are printed per mode.
#
# Settings (environment): CONNECTIONS ("1 16 64"), SECONDS_EACH (10),
# WARMUP (2), REPS (3), STEADY_RATE (1000; 0 skips the steady run),
# SYNCS ("full normal"), PEERS ("webhook octokit"; empty for none), BUILD (build-release),
# HOSTILE (1: run the hostile mix of bench/hostile.sh against relayq meanwhile),
# KEEP (1: keep the work directory and print its path).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-release}
CONNECTIONS=${CONNECTIONS:-1 16 64}
SECONDS_EACH=${SECONDS_EACH:-10}
WARMUP=${WARMUP:-2}
REPS=${REPS:-3}
STEADY_RATE=${STEADY_RATE:-1000}
SYNCS=${SYNCS:-full normal}
PEERS=${PEERS-webhook octokit}  # empty: relayq alone (bench/intake.sh)
SECRET=bench-secret

log() { echo "bench: $*" >&2; }

# --- build and install ------------------------------------------------------
"$ROOT/bin/install-deps" >/dev/null
log "building relayq (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target relayq loadgen >/dev/null
RELAYQ=$BUILD/relayq
LOADGEN=$BUILD/bench/loadgen

install_peers() {
  local need=()
  [[ " $PEERS " == *" webhook "* ]] && ! command -v webhook >/dev/null && need+=(webhook)
  if [[ " $PEERS " == *" octokit "* ]] && ! command -v npm >/dev/null; then need+=(nodejs npm); fi
  if ((${#need[@]})); then
    log "installing ${need[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if [[ " $PEERS " == *" octokit "* ]]; then
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if ((major < 20)); then
      echo "bench: @octokit/webhooks 14 needs node >= 20; this machine has $(node --version)" >&2
      exit 1
    fi
    if [[ ! -d $ROOT/bench/peers/octokit/node_modules/@octokit/webhooks ]]; then
      log "installing @octokit/webhooks (npm) into bench/peers/octokit"
      (cd "$ROOT/bench/peers/octokit" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    fi
  fi
}
install_peers

# --- helpers ---------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relayq-run.XXXXXX")
PIDS=()
cleanup() {
  if declare -F stop_receiver >/dev/null; then stop_receiver; fi
  if [[ ${KEEP:-0} == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
RESULTS=$WORK/results.tsv  # receiver conns rep rps p50 p99 errors
: >"$RESULTS"
EXTRA=$WORK/extra.txt
: >"$EXTRA"

# measure NAME PORT PATH CONNS REP [RATE]: one loadgen run, appended to RESULTS.
measure() {
  local name=$1 port=$2 path=$3 c=$4 rep=$5 rate=${6:-0} label out warm=$WARMUP
  label=$c
  if [[ $rate != 0 ]]; then label=steady; warm=1; fi
  out=$("$LOADGEN" --port "$port" --path "$path" --connections "$c" --seconds "$SECONDS_EACH" \
          --warmup "$warm" --rate "$rate" --secret "$SECRET" --prefix "$name-$label-r$rep" \
          --ids-out "$WORK/ids.$name.$label.$rep")
  echo "$out" | awk -v n="$name" -v c="$label" -v r="$rep" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    print n "\t" c "\t" r "\t" f["rps"] "\t" f["p50_ms"] "\t" f["p99_ms"] "\t" f["errors"] + f["non2xx"]
  }' >>"$RESULTS"
  log "$name $label rep=$rep: $out"
  echo "$out" | sed -n 's/.*body_bytes=\([0-9]*\).*/\1/p' >"$WORK/body_bytes"
}

# wait_ready PORT PATH: until one signed delivery gets a 2xx.
wait_ready() {
  "$LOADGEN" --port "$1" --path "$2" --secret "$SECRET" --first-ok 20 --prefix ready >/dev/null
}

# Every receiver runs for the whole benchmark and they are driven in turn,
# one run each per connection count and repetition, so a change in the
# machine's load (it may be shared) falls on all of them alike.
NAMES=() PORTS=() PATHS=() PIDS=()
stop_receiver() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# --- start relayq (one per durability mode) ---------------------------------
declare -A T_START IDLE
for sync in $SYNCS; do
  name="relayq-$sync"
  dir=$WORK/$name
  mkdir -p "$dir"
  port=$(free_port)
  admin=$(free_port)
  cat >"$dir/relayq.yaml" <<YAML
store:
  path: $dir/relayq.db
  synchronous: $sync
YAML
  log "starting $name"
  t0=$(now_ms)
  RELAYQ_WEBHOOK_SECRET=$SECRET "$RELAYQ" serve --config "$dir/relayq.yaml" \
    --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" >"$dir/stdout" 2>"$dir/stderr" &
  pid=$!
  PIDS+=("$pid")
  if ! wait_ready "$port" /webhook; then
    cat "$dir/stderr" >&2
    exit 1
  fi
  T_START[$name]=$(($(now_ms) - t0))
  sleep 2
  IDLE[$name]=$(rss_kb "$pid" VmRSS)
  NAMES+=("$name") PORTS+=("$port") PATHS+=(/webhook)
done

# --- start the peers ---------------------------------------------------------
for peer in $PEERS; do
  port=$(free_port)
  case $peer in
    webhook)
      cat >"$WORK/hooks.json" <<JSON
[{"id": "relayq-bench", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$SECRET",
    "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
JSON
      webhook -hooks "$WORK/hooks.json" -ip 127.0.0.1 -port "$port" >"$WORK/webhook.log" 2>&1 &
      path=/hooks/relayq-bench
      ;;
    octokit)
      (cd "$ROOT/bench/peers/octokit" && exec env PORT="$port" SECRET="$SECRET" node server.mjs) \
        >"$WORK/octokit.log" 2>&1 &
      path=/webhook
      ;;
    *) echo "bench: unknown peer $peer" >&2; exit 2 ;;
  esac
  PIDS+=("$!")
  log "starting $peer"
  wait_ready "$port" "$path" || { cat "$WORK/$peer.log" >&2; exit 1; }
  NAMES+=("$peer") PORTS+=("$port") PATHS+=("$path")
done

# --- optional: the hostile mix against relayq while it is measured -----------
# HOSTILE=1 runs bench/hostile_bench's whole attack mix (1,000 idle, 200
# tricklers, 200 slow bodies, an endless header line) against every relayq
# for the whole benchmark, so its figures show what the attack costs.
ATTACK_PIDS=()
if [[ ${HOSTILE:-0} == 1 ]]; then
  cmake --build "$BUILD" -j "$(nproc)" --target hostile_bench >/dev/null
  for i in "${!NAMES[@]}"; do
    [[ ${NAMES[$i]} == relayq-* ]] || continue
    "$BUILD/bench/hostile_bench" --attack-only "${PORTS[$i]}" --seconds 100000 >/dev/null 2>&1 &
    ATTACK_PIDS+=("$!")
  done
  log "hostile mix running against relayq"
fi

# --- drive them in turn ------------------------------------------------------
for ((rep = 1; rep <= REPS; rep++)); do
  for c in $CONNECTIONS; do
    for i in "${!NAMES[@]}"; do measure "${NAMES[$i]}" "${PORTS[$i]}" "${PATHS[$i]}" "$c" "$rep"; done
  done
  if [[ $STEADY_RATE != 0 ]]; then
    for i in "${!NAMES[@]}"; do
      measure "${NAMES[$i]}" "${PORTS[$i]}" "${PATHS[$i]}" 16 "$rep" "$STEADY_RATE"
    done
  fi
done

for p in "${ATTACK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done

# --- stop; check relayq's stores ---------------------------------------------
declare -A PEAK
for i in "${!NAMES[@]}"; do
  if [[ ${NAMES[$i]} == relayq-* ]]; then PEAK[${NAMES[$i]}]=$(rss_kb "${PIDS[$i]}" VmHWM); fi
done
stop_receiver
FAILED=0
for sync in $SYNCS; do
  name="relayq-$sync"
  dir=$WORK/$name
  cat "$WORK"/ids."$name".* >"$dir/acked"
  acked=$(wc -l <"$dir/acked")
  missing=$(sqlite3 "$dir/relayq.db" <<SQL
CREATE TEMP TABLE acked(id TEXT);
.import $dir/acked acked
SELECT count(*) FROM acked WHERE id NOT IN (SELECT id FROM deliveries);
SQL
)
  logged=$(grep -c ' delivery id=' "$dir/stderr" || true)
  printf '%s: start to first 2xx %d ms; idle RSS %.1f MiB; peak RSS %.1f MiB; acknowledged %d, missing from the store %d; delivery log lines %d\n' \
    "$name" "${T_START[$name]}" "$(awk -v k="${IDLE[$name]}" 'BEGIN{print k/1024}')" \
    "$(awk -v k="${PEAK[$name]}" 'BEGIN{print k/1024}')" "$acked" "$missing" "$logged" >>"$EXTRA"
  if [[ $missing != 0 ]]; then FAILED=1; fi
done

# --- report ----------------------------------------------------------------
echo
echo "relayq vs peers: $(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${SECONDS_EACH}s per run after ${WARMUP}s warm-up, medians of $REPS; signed workflow_job body of $(cat "$WORK/body_bytes") bytes; steady = ${STEADY_RATE}/s over 16 connections"
python3 - "$RESULTS" "$PEERS" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
order = []
for line in open(sys.argv[1]):
    n, c, r, rps, p50, p99, err = line.rstrip("\n").split("\t")
    if (n, c) not in rows: order.append((n, c))
    rows[(n, c)].append((float(rps or 0), float(p50 or 0), float(p99 or 0), int(float(err or 0))))
peers = sys.argv[2].split()
med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
           statistics.median(x[2] for x in v), sum(x[3] for x in v)) for k, v in rows.items()}
print(f"{'receiver':<16}{'conns':>8}{'deliv/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  vs fastest peer")
for n, c in order:
    rps, p50, p99, err = med[(n, c)]
    ratio = ""
    if n.startswith("relayq") and c != "steady":
        best = max((med[(p, c)][0] for p in peers if (p, c) in med), default=0)
        if best > 0: ratio = f"{rps / best:.2f}x"
    print(f"{n:<16}{c:>8}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{err:>8}  {ratio}")
# Every repetition, not only the medians: each receiver's deliveries/s in the
# same round (they ran one after another), and relayq's ratio to each peer.
reps = defaultdict(dict)
for line in open(sys.argv[1]):
    n, c, r, rps, *_ = line.rstrip("\n").split("\t")
    reps[(c, int(r))][n] = float(rps or 0)
names = list(dict.fromkeys(n for n, _ in order))
print()
print("every pair (deliveries/s per repetition; relayq / peer):")
for (c, r) in sorted(reps, key=lambda k: (k[0] == "steady", k[0].isdigit() and int(k[0]), k[1])):
    if c == "steady": continue
    got = reps[(c, r)]
    cells = "  ".join(f"{n}={got[n]:.0f}" for n in names if n in got)
    ratios = "  ".join(f"{q}/{p}={got[q] / got[p]:.2f}x" for q in got if q.startswith("relayq")
                       for p in peers if p in got and got[p] > 0)
    print(f"  conns={c:<4} rep={r}: {cells}   {ratios}")
PY
echo
cat "$EXTRA"
if [[ $FAILED != 0 ]]; then
  echo "FAILED: acknowledged deliveries are missing from relayq's store" >&2
  exit 1
fi
