#!/bin/sh
# Fails when two source folders' files include each other: for every pair of
# units A, B (a unit is a path without its .h/.cc), A's files include B's
# header and B's files include A's. An X_internal.h belongs to unit X.
# Run from the repository root.
set -eu
pairs=$(grep -rnoE '^#include "(cli|server|handlers|store|policy|github|common)/[a-z0-9_]+\.h"' \
          --include=*.cc --include=*.h cli server handlers store policy github common |
        sed -E 's#^([a-z]+/[a-z0-9_]+)\.(cc|h):[0-9]+:\#include "([^"]+)\.h"#\1 \3#' |
        sed -E 's#_internal( |$)#\1#g' |
        awk '$1 != $2' | sort -u)
found=$(printf '%s\n' "$pairs" | awk 'NF == 2 { seen[$1 " " $2] = 1 }
  END { for (p in seen) { split(p, a, " "); if ((a[2] " " a[1]) in seen && a[1] < a[2]) print a[1] " <-> " a[2] } }')
if [ -n "$found" ]; then
  echo "files that include each other:"
  echo "$found"
  exit 1
fi
