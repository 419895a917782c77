#!/usr/bin/env bash
# bench/hostile.sh: relayq under anonymous attackers at full size (not a
# test; it prints figures). Builds relayq and bench/hostile_bench in Release
# (build-release/), starts two relayq daemons on loopback with default
# settings (one plain, one with a throw-away self-signed certificate for the
# TLS attack), runs every attack for SECONDS each (default 60) and then all
# of them together, and prints per attack: the signed delivery's answer time
# p50/p99/max, deliveries over 1 s or failed, relayq's peak RSS and open
# descriptors, and whether it stayed up. Exit 1 if any delivery failed or
# took over 1 s, or relayq died.
#
#   bench/hostile.sh                # ~7 minutes
#   SECONDS_EACH=10 bench/hostile.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-release}
SECONDS_EACH=${SECONDS_EACH:-60}
SECRET=bench-secret

"$ROOT/bin/install-deps" >/dev/null
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target relayq hostile_bench >/dev/null

WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
printf 'tls:\n  cert: %s\n  key: %s\n' "$WORK/cert.pem" "$WORK/key.pem" > "$WORK/tls.yaml"

# Starts relayq in $1 with extra args; prints "PID PUBLIC_PORT ADMIN_PORT".
start() {
  local dir=$1
  shift
  mkdir -p "$dir"
  # exec: $! is relayq itself, whose RSS and descriptors are measured.
  (cd "$dir" && exec env RELAYQ_WEBHOOK_SECRET=$SECRET RELAYQ_ADMIN_TOKEN=bench \
    "$BUILD/relayq" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "$@" \
    > "$dir/out.log" 2> "$dir/err.log") &
  local pid=$!
  for _ in $(seq 100); do
    grep -q 'listening public=' "$dir/out.log" 2>/dev/null && break
    sleep 0.1
  done
  local line
  line=$(grep 'listening public=' "$dir/out.log")
  local pub=${line#*public=http*://127.0.0.1:}
  pub=${pub%% *}
  local adm=${line#*admin=http://127.0.0.1:}
  echo "$pid $pub $adm"
}

read -r PID PUB ADM < <(start "$WORK/plain")
pids+=("$PID")
read -r TPID TPUB _ < <(start "$WORK/tls" --config "$WORK/tls.yaml")
pids+=("$TPID")
echo "hostile: relayq pid $PID (public $PUB, admin $ADM), TLS relayq pid $TPID (public $TPUB); $SECONDS_EACH s per attack" >&2
"$BUILD/bench/hostile_bench" --port "$PUB" --admin-port "$ADM" --pid "$PID" \
  --tls-port "$TPUB" --tls-pid "$TPID" --seconds "$SECONDS_EACH" --secret "$SECRET"
