#!/bin/sh
# Fails when malloc, calloc, realloc, free, strcpy, sprintf or strcat appear under lib/
# outside the allocator (lib/core/alloc.c) and the POSIX port's default allocator.
# STYLE.md: all memory goes through the context allocator; no unbounded string calls.
set -eu
root=${1:-.}
hits=$(grep -rnE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free|strcpy|sprintf|strcat)[[:space:]]*\(' \
        --include='*.c' --include='*.h' "$root/lib" |
       grep -v -e "^$root/lib/core/alloc.c:" |
       grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' || true)
if [ -n "$hits" ]; then
    echo "libc allocation or unbounded string calls under lib/:"
    echo "$hits"
    exit 1
fi
echo "lint: no libc allocation or unbounded string calls under lib/"
