#!/usr/bin/env bash
# A fake local whisper for the kit's tests. Records its arguments (one per
# line) in $FAKE_WHISPER_LOG and writes a known transcript where the real
# program would:
#   whisper.cpp   (-m MODEL -f FILE -otxt -of OUTBASE)  -> OUTBASE.txt
#   openai-whisper (FILE --model M --output_format txt --output_dir DIR)
#                                                       -> DIR/<FILE stem>.txt
# FAKE_WHISPER_FAIL=1 makes it fail like a crashed whisper.
set -euo pipefail
log=${FAKE_WHISPER_LOG:-/dev/null}
printf '%s\n' "$@" >"$log"
if [[ ${FAKE_WHISPER_FAIL:-0} == 1 ]]; then
  echo "fake whisper: simulated failure" >&2
  exit 1
fi
text=${FAKE_WHISPER_TEXT:-hello from the fake whisper}
of="" outdir="" input=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -of) of=$2; shift 2 ;;
    --output_dir) outdir=$2; shift 2 ;;
    -m | -f | -l | -t | --model | --output_format | --language | --threads) shift 2 ;;
    -*) shift ;;
    *) input=$1; shift ;;
  esac
done
if [[ -n $of ]]; then
  printf '%s\n' "$text" >"$of.txt"
elif [[ -n $outdir && -n $input ]]; then
  stem=${input##*/}
  stem=${stem%.*}
  printf '%s\n' "$text" >"$outdir/$stem.txt"
else
  echo "fake whisper: cannot tell where to write" >&2
  exit 2
fi
