#!/bin/sh
# tests/firmware/flash-budget.sh IMAGE.elf LIMIT
# Fails when the flash IMAGE takes (the sections placed in flash: vectors, code,
# read-only data, exception index, init arrays and the load image of .data, as
# bench/firmware-sizes.sh counts them) exceeds LIMIT bytes. ctest firmware_flash_budget
# runs it on wisp-fw-client.elf with SPEC §11's 80 KiB.
set -eu
image=${1:?usage: flash-budget.sh IMAGE.elf LIMIT}
limit=${2:?usage: flash-budget.sh IMAGE.elf LIMIT}
flash=$(arm-none-eabi-size -A "$image" |
        awk '$1 == ".vectors" || $1 == ".text" || $1 == ".ARM.exidx" || $1 == ".data" ||
             $1 ~ /_array$/ { s += $2 } END { print s + 0 }')
echo "$(basename "$image"): $flash bytes of flash, budget $limit ($((limit - flash)) to spare)"
[ "$flash" -gt 0 ] && [ "$flash" -le "$limit" ]
