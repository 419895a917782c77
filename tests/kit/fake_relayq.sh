#!/usr/bin/env bash
# A fake relayq for dispatch_test.sh: prints each argument on its own line,
# then RELAYQ_SERVER when it is set, and exits with $FAKE_RC (default 0).
printf 'ARG %s\n' "$@"
if [[ -n ${RELAYQ_SERVER:-} ]]; then
  printf 'ENV RELAYQ_SERVER=%s\n' "$RELAYQ_SERVER"
fi
exit "${FAKE_RC:-0}"
