#!/bin/sh
# Fails when a printf conversion that newlib-nano lacks appears in lib/: the length
# modifiers z, j, t, ll, hh and L (%zu, %llu, %jd, ...) and the PRI*64 / PRI*MAX
# macros. newlib-nano prints nothing for them and consumes no argument, so every
# later conversion reads the wrong one (the vhost-created log line crashed on a
# firmware build). Use %lu with an (unsigned long) cast, or format 64-bit values
# by hand (lib/core/stats.c). Comment lines are ignored.
set -eu
root=${1:-.}
hits=$(grep -rnE '%[-+ #0]*[0-9*]*(\.[0-9*]+)?(z|j|t|ll|hh|L)[diouxXfFeEgGaAcsn]|PRI[diouxX](64|MAX|PTR)' \
        --include='*.c' --include='*.h' "$root/lib" |
       grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' || true)
if [ -n "$hits" ]; then
    echo "printf conversions newlib-nano lacks, under lib/:"
    echo "$hits"
    exit 1
fi
echo "lint: every printf conversion under lib/ exists in newlib-nano"
