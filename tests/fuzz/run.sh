#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET... SECONDS: build the libFuzzer targets with clang
# into build-fuzz/ (-DRELAYQ_FUZZ=ON: only the libraries they need, with
# ASan + UBSan) and run each TARGET for SECONDS. TARGET is one of
# decode_fuzz signature_fuzz policy_fuzz template_fuzz filter_fuzz, or `all`.
#
# Corpora: build-fuzz/corpus/TARGET, seeded from tests/fuzz/seeds/TARGET
# (checked in) and from the tests' realistic GitHub payloads (fuzz_seeds);
# inputs the fuzzer finds are kept there between runs. A crash, leak, UB
# report or failed property leaves its input in build-fuzz/artifacts/ and
# makes this script exit 1. Prints one summary line per target.
# Environment: RELAYQ_FUZZ_JOBS (build parallelism, default 1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ALL=(decode_fuzz signature_fuzz policy_fuzz template_fuzz filter_fuzz)
if (($# < 2)); then
  echo "usage: tests/fuzz/run.sh TARGET... SECONDS   (TARGET: ${ALL[*]} or all)" >&2
  exit 2
fi
SECONDS_EACH=${!#}
TARGETS=("${@:1:$#-1}")
[[ ${TARGETS[0]} == all ]] && TARGETS=("${ALL[@]}")
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] || { echo "run.sh: SECONDS must be a whole number" >&2; exit 2; }

# clang and its libFuzzer runtime come from Debian; installed here (not by
# bin/install-deps) so the quick start stays small. Idempotent.
if ! command -v clang++ >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "fuzz: installing clang and libclang-rt-14-dev"
  if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi

BUILD="$ROOT/build-fuzz"
start=$(date +%s)
# RelWithDebInfo with line tables only (-g1): a crash's stack still names
# function, file and line, and the build is shorter (CI builds it fresh).
cmake -S "$ROOT" -B "$BUILD" -DRELAYQ_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$BUILD" -j "${RELAYQ_FUZZ_JOBS:-1}" --target fuzz_seeds "${TARGETS[@]}"
echo "fuzz: build took $(( $(date +%s) - start )) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
generated="$BUILD/seeds"
rm -rf "$generated"
"$BUILD/tests/fuzz/fuzz_seeds" "$generated"
mkdir -p "$BUILD/artifacts"
failed=0
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$t"
  mkdir -p "$corpus"
  for src in "$ROOT/tests/fuzz/seeds/$t" "$generated/$t"; do
    if [[ -d $src ]]; then cp -f "$src"/* "$corpus"/ 2>/dev/null || true; fi
  done
  log="$BUILD/$t.log"
  t0=$(date +%s)
  rc=0
  "$BUILD/tests/fuzz/$t" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$t-" >"$log" 2>&1 || rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if ((rc == 0)); then
    echo "fuzz: $t ran $(( $(date +%s) - t0 )) s, $runs inputs, coverage $cov, no finding"
  else
    failed=1
    echo "fuzz: $t FAILED after $(( $(date +%s) - t0 )) s (log $log):"
    grep -m1 -A12 'ERROR:\|runtime error\|deadly signal' "$log" || tail -20 "$log"
  fi
done
exit $failed
