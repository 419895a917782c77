#!/usr/bin/env bash
# bench/idle_wakeups.sh: how often an idle `relayq serve` wakes up.
#
#   bench/idle_wakeups.sh                       # build/relayq, 60 s after 8 s of start-up
#   RELAYQ=/path/to/relayq SECONDS_IDLE=300 SETTLE=10 bench/idle_wakeups.sh
#   RUNNER="qemu-aarch64-static -L build-arm64/sysroot" RELAYQ=build-arm64/relayq bench/idle_wakeups.sh
#   TRAFFIC=98000 bench/idle_wakeups.sh         # idle after a week of a busy homelab's deliveries
#
# Starts the daemon in a fresh directory (default config, no GitHub
# credentials, an admin token, loopback ports), lets it settle, then counts
# per thread the change in voluntary_ctxt_switches + nonvoluntary_ctxt_switches
# (/proc/PID/task/TID/status) across SECONDS_IDLE: every wake-up of a
# sleeping thread is one switch. Prints one line per thread (tid, name,
# wake-ups, per second), the total, the CPU ticks and the daemon's resident
# memory (VmRSS, and its peak VmHWM) at the end. With TRAFFIC=N it first
# sends N signed deliveries (build/bench/loadgen, real ~7 KB workflow_job
# payloads, TRAFFIC_RATE a second, default 1000; 98,000 is a week at 2,000
# jobs a day, about 7 deliveries each), settles again, then measures: idle
# after traffic rather than after start-up. Extra arguments go to `relayq serve`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RELAYQ="${RELAYQ:-$ROOT/build/relayq}"
SECONDS_IDLE="${SECONDS_IDLE:-60}"
SETTLE="${SETTLE:-8}"
RUNNER="${RUNNER:-}"
TRAFFIC="${TRAFFIC:-0}"
TRAFFIC_RATE="${TRAFFIC_RATE:-1000}"
LOADGEN="${LOADGEN:-$ROOT/build/bench/loadgen}"

dir="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
# shellcheck disable=SC2086
RELAYQ_WEBHOOK_SECRET=idle-secret RELAYQ_ADMIN_TOKEN=idle-admin-token \
  $RUNNER "$RELAYQ" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "$@" \
  >"$dir/out.log" 2>"$dir/err.log" &
pid=$!

# The daemon (under qemu-user the emulator is the process itself).
sleep "$SETTLE"
if ! kill -0 "$pid" 2>/dev/null; then
  echo "relayq exited during start-up:" >&2
  cat "$dir/err.log" >&2
  exit 1
fi

if ((TRAFFIC > 0)); then
  port="$(sed -n 's/.*listening public=[^ ]*:\([0-9]*\).*/\1/p' "$dir/out.log" | head -n 1)"
  if [[ -z $port ]]; then
    echo "no 'listening public=' line from relayq:" >&2
    cat "$dir/out.log" "$dir/err.log" >&2
    exit 1
  fi
  secs=$(((TRAFFIC + TRAFFIC_RATE - 1) / TRAFFIC_RATE))
  echo "traffic: $((secs * TRAFFIC_RATE)) deliveries at $TRAFFIC_RATE/s to port $port"
  "$LOADGEN" --port "$port" --secret idle-secret --connections 4 --rate "$TRAFFIC_RATE" \
    --seconds "$secs" --warmup 0
  sleep "$SETTLE"
fi

snapshot() {
  for t in /proc/"$pid"/task/*; do
    local tid name v n
    tid="${t##*/}"
    name="$(cat "$t/comm" 2>/dev/null || echo '?')"
    v="$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null || echo 0)"
    n="$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null || echo 0)"
    echo "$tid $name $((v + n))"
  done
}

snapshot >"$dir/before"
ticks_before="$(awk '{print $14 + $15}' /proc/"$pid"/stat)"
sleep "$SECONDS_IDLE"
snapshot >"$dir/after"
ticks_after="$(awk '{print $14 + $15}' /proc/"$pid"/stat)"

if ((TRAFFIC > 0)); then
  after="after the traffic and ${SETTLE} s"
else
  after="after ${SETTLE} s of start-up"
fi
echo "relayq idle wake-ups over ${SECONDS_IDLE} s (${after}): $RELAYQ"
printf '%-8s %-16s %8s %10s\n' tid thread wake-ups per-second
join -a 2 -e 0 -o 2.1,2.2,1.3,2.3 "$dir/before" "$dir/after" | sort -n |
  awk -v s="$SECONDS_IDLE" '
    { d = $4 - $3; total += d; threads++
      printf "%-8s %-16s %8d %10.3f\n", $1, $2, d, d / s }
    END { printf "total: %d wake-ups in %d threads, %.3f per second\n", total, threads, total / s }'
echo "CPU: $((ticks_after - ticks_before)) ticks ($(getconf CLK_TCK)/s) in ${SECONDS_IDLE} s"
echo "memory: $(awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {printf "RSS %.1f MiB, peak %.1f MiB", r / 1024, h / 1024}' /proc/"$pid"/status)"
