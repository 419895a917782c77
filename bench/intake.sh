#!/usr/bin/env bash
# bench/intake.sh: relayq's durable webhook ingest alone: bench/run.sh without
# the peers (one repetition, 16 connections, synchronous=full by default).
#
#   bench/intake.sh                                       # 16 connections, 10 s
#   CONNECTIONS="1 16 64" SECONDS_EACH=10 SYNC=normal bench/intake.sh
#
# Prints deliveries/s, p50 and p99 per connection count and for a steady
# 1,000/s, then relayq's start to first 2xx, idle and peak RSS; fails (exit 1)
# when an acknowledged delivery is missing from the store. Every other
# setting of bench/run.sh (SECONDS_EACH, WARMUP, REPS, STEADY_RATE, BUILD,
# KEEP) applies.
set -euo pipefail
export PEERS="" SYNCS="${SYNC:-full}" CONNECTIONS="${CONNECTIONS:-16}" REPS="${REPS:-1}"
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh"
