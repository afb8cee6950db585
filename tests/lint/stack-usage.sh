#!/bin/sh
# Fails when a function of lib/ has a stack frame over LIMIT bytes (default 512), as
# GCC's -fstack-usage reports it in the .su files next to the library's objects
# (lib/CMakeLists.txt adds the flag). An MCU thread's whole stack is a few KiB.
#
#   stack-usage.sh OBJECT_DIR [LIMIT]
#
# Known offenders listed in tests/lint/stack-known.txt (function name and the file
# that owns it) are reported as KNOWN and do not fail the check: each is a promise to
# shrink it, and the line goes when the frame does. Any other frame over the limit,
# or dynamic stack use ("dynamic" without "bounded"), fails.
set -eu
dir=${1:?usage: stack-usage.sh OBJECT_DIR [LIMIT]}
limit=${2:-512}
known="$(dirname "$0")/stack-known.txt"
files=$(find "$dir" -name '*.su' | sort)
[ -n "$files" ] || { echo "stack-usage: no .su files under $dir (built without -fstack-usage?)"; exit 1; }
# shellcheck disable=SC2086
awk -F'\t' -v limit="$limit" -v known="$known" '
BEGIN { while ((getline l < known) > 0) { sub(/#.*/, "", l); n = split(l, f, " "); if (n) ok[f[1]] = 1 } }
{
    split($1, loc, ":"); fn = loc[length(loc)]; file = loc[1]; sub(/.*\//, "", file)
    if ($3 ~ /dynamic/ && $3 !~ /bounded/) { printf "FAIL %s (%s): dynamic stack\n", fn, file; bad++ }
    if ($2 + 0 > limit) {
        if (fn in ok) printf "KNOWN %s (%s): %d bytes > %d\n", fn, file, $2, limit
        else { printf "FAIL %s (%s): %d bytes > %d\n", fn, file, $2, limit; bad++ }
    }
    funcs++
}
END {
    printf "stack-usage: %d functions, limit %d bytes, %d over it unlisted\n", funcs, limit, bad
    exit bad ? 1 : 0
}' $files
