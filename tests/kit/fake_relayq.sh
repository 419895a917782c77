#!/usr/bin/env bash
# A fake relayq for dispatch_test.sh: prints each argument on its own line.
printf 'ARG %s\n' "$@"
