#!/bin/sh
# tests/firmware/text-budget.sh LIBWISP.a LIMIT
# Fails when the .text of the archive's objects together (arm-none-eabi-size's
# totals, what bench/firmware-sizes.sh reports as "libwisp .text, client only")
# exceeds LIMIT bytes. ctest firmware_text_budget runs it on the client-only
# static-policy libwisp with SPEC §11's 24 KiB: a change that grows the firmware
# library past its budget fails here, not only in bench/RESULTS.md.
set -eu
lib=${1:?usage: text-budget.sh LIBWISP.a LIMIT}
limit=${2:?usage: text-budget.sh LIBWISP.a LIMIT}
text=$(arm-none-eabi-size -t "$lib" | awk '$NF == "(TOTALS)" { print $1 }')
echo "$(basename "$lib"): $text bytes of .text, budget $limit ($((limit - text)) to spare)"
[ "${text:-0}" -gt 0 ] && [ "$text" -le "$limit" ]
