#!/usr/bin/env bash
# A fake ffmpeg for the kit's tests: records its arguments in $FAKE_FFMPEG_LOG
# and writes a small file at the output path (its last argument).
set -euo pipefail
printf '%s\n' "$@" >"${FAKE_FFMPEG_LOG:-/dev/null}"
out=${*: -1}
printf 'RIFF\0\0\0\0WAVEfmt converted' >"$out"
