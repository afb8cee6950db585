#!/bin/sh
# bench/firmware-sizes.sh FW_BUILD_DIR [--update RESULTS.md]
#
# The firmware figures of SPEC §11, from the Cortex-M4 build `make firmware` leaves in
# FW_BUILD_DIR (default build-firmware): libwisp .text/.data/.bss per module
# (client only and client + server, static policy, -Os), the flash of the whole
# client image (tests/firmware/wisp-fw-client.elf: wisp + the embedded mbedTLS
# profile + newlib-nano + the board, linked --gc-sections, without the in-image TLS
# peer), and the peak heap of one TLS GET with mbedTLS counted, read from a QEMU run
# of wisp-fw-test.elf. Prints a Markdown section; with --update it replaces the
# section between the "firmware-sizes" markers of RESULTS.md (appending it the first
# time). `make bench` runs it.
set -eu
fw=${1:-build-firmware}
here=$(cd "$(dirname "$0")/.." && pwd)
client=$fw/client/lib/libwisp.a
both=$fw/client-server/lib/libwisp.a
image=$fw/client/tests/firmware/wisp-fw-client.elf
test_image=$fw/client/tests/firmware/wisp-fw-test.elf
lwip_image=$fw/client/tests/firmware/wisp-fw-lwip.elf
for f in "$client" "$both" "$image" "$test_image"; do
    [ -f "$f" ] || { echo "firmware-sizes: $f missing: run 'make firmware' first" >&2; exit 1; }
done

# text data bss per module of an archive (objects are <module>/<file>.c.obj in the
# archive's member names only as files, so group by the source file's module).
modules() { # ARCHIVE
    arm-none-eabi-size "$1" | awk -v src="$here/lib" '
        NR > 1 && $6 != "" {
            f = $6; sub(/\.c\.obj.*/, "", f); sub(/ \(ex .*/, "", f)
            cmd = "ls " src "/*/" f ".c " src "/plat/*/" f ".c 2>/dev/null | head -n 1"
            cmd | getline path; close(cmd)
            m = path; sub(src "/", "", m); sub(/\/[^\/]*$/, "", m)
            t[m] += $1; d[m] += $2; b[m] += $3; T += $1; D += $2; B += $3
        }
        END {
            for (m in t) printf "%s %d %d %d\n", m, t[m], d[m], b[m]
            printf "TOTAL %d %d %d\n", T, D, B
        }' | sort
}
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

mc=$(modules "$client")
mb=$(modules "$both")
ct=$(echo "$mc" | awk '$1 == "TOTAL" { print $2 }')
bt=$(echo "$mb" | awk '$1 == "TOTAL" { print $2 }')
flash=$(arm-none-eabi-size -A "$image" |
        awk '$1 == ".vectors" || $1 == ".text" || $1 == ".ARM.exidx" || $1 == ".data" ||
             $1 ~ /_array$/ { s += $2 } END { print s }')
run=$(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
      -semihosting-config enable=on,target=native -kernel "$test_image")
peak=$(echo "$run" | sed -n 's/^heap peak (client, mbedTLS counted): \([0-9]*\).*/\1/p')
stack=$(echo "$run" | sed -n 's/^stack high-water: \([0-9]*\).*/\1/p')
# The image's second run: four streams queued on one connection, a context of its own.
q4() { sed -n 's/^heap peak, 4 streams queued (client, mbedTLS counted): \([0-9]*\).*/\1/p'; }
peak4=$(echo "$run" | q4)
# The same GET over the raw lwIP port (built when lwIP's source was available).
lwip_run=""
if [ -f "$lwip_image" ]; then
    lwip_run=$(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
          -semihosting-config enable=on,target=native -kernel "$lwip_image")
fi
lwip_peak=$(echo "$lwip_run" | sed -n 's/^heap peak (client, mbedTLS counted): \([0-9]*\).*/\1/p')
lwip_stack=$(echo "$lwip_run" | sed -n 's/^stack high-water: \([0-9]*\).*/\1/p')

# The same test image on mbedTLS 3.6 (TLS 1.3, the 3.6 embedded profile), if built.
img36=$fw/client-3.6/tests/firmware/wisp-fw-client.elf
run36=""
if [ -f "$img36" ]; then
    run36=$(qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
          -semihosting-config enable=on,target=native -kernel "$fw/client-3.6/tests/firmware/wisp-fw-test.elf")
    flash36=$(arm-none-eabi-size -A "$img36" |
        awk '$1 == ".vectors" || $1 == ".text" || $1 == ".ARM.exidx" || $1 == ".data" ||
             $1 ~ /_array$/ { s += $2 } END { print s }')
fi
peak36=$(echo "$run36" | sed -n 's/^heap peak (client, mbedTLS counted): \([0-9]*\).*/\1/p')
peak4_36=$(echo "$run36" | q4)

# by_library MAP: flash bytes (.text, .rodata, .data) per archive of a link map.
by_library() {
    /usr/bin/python3 - "$1" <<'PY'
import collections, re, sys
sizes, pending = collections.Counter(), False
for line in open(sys.argv[1]):
    m = re.match(r"^ \.(text|rodata|data)\S*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
    if not m and pending:
        m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
        m = m and (None, m.group(1), m.group(2))
    else:
        m = m and m.groups()
    pending = bool(re.match(r"^ \.(text|rodata|data)\S*$", line.rstrip()))
    if not m:
        continue
    f = re.sub(r".*/", "", m[2].split("(")[0])
    sizes[f if f.endswith(".a") else "image objects (main, board, policy, peer)"] += int(m[1], 16)
for f, n in sizes.most_common():
    if n:
        print(f"| {f} | {n} |")
PY
}
verdict() { [ "$1" -le "$2" ] && echo met || echo "**over**"; }

section=$(
    echo "<!-- firmware-sizes: generated by bench/firmware-sizes.sh; do not edit by hand -->"
    echo "## Firmware (Cortex-M4, $(date -u '+%Y-%m-%d'))"
    echo
    echo "Command: \`make firmware && bench/firmware-sizes.sh $fw\` (part of \`make bench\`)."
    echo "$(arm-none-eabi-gcc --version | head -n 1); -Os, -ffunction-sections -fdata-sections,"
    echo "newlib-nano, --gc-sections; static policy, WISP_LOG_LEVEL 1, WISP_WITH_ERROR_TEXT 0; mbedTLS $(echo "$run" | sed -n 's/.*mbedTLS \([0-9.]*\).*/\1/p'):"
    echo "the client-only library and the images with the client-only profile"
    echo "(cmake/mbedtls/wisp-embedded-client-config.h: ECDHE-ECDSA, AES-128-GCM, P-256, SHA-256),"
    echo "the client + server library with the embedded profile (wisp-embedded-config.h)."
    echo
    echo "| SPEC §11 figure | measured | budget | |"
    echo "|---|---:|---:|---|"
    echo "| libwisp .text, client only (archive total) | $ct B ($(kib "$ct")) | 24 KiB | $(verdict "$ct" 24576) |"
    echo "| libwisp .text, client + server (archive total) | $bt B ($(kib "$bt")) | 40 KiB | $(verdict "$bt" 40960) |"
    echo "| whole client image, flash (wisp-fw-client.elf) | $flash B ($(kib "$flash")) | 80 KiB | $(verdict "$flash" 81920) |"
    echo "| peak heap, one TLS GET, mbedTLS counted (QEMU run) | $peak B ($(kib "$peak")) | 24 KiB | $(verdict "$peak" 24576) |"
    echo "| peak heap, four streams queued on one connection, mbedTLS counted (QEMU run) | $peak4 B ($(kib "$peak4")) | 28 KiB | $(verdict "$peak4" 28672) |"
    echo "| main stack high-water of that run (whole image) | $stack B | | |"
    if [ -n "$lwip_run" ]; then
        echo "| peak heap, the same GET over the raw lwIP port (QEMU, wisp-fw-lwip.elf) | $lwip_peak B ($(kib "$lwip_peak")) | 24 KiB | $(verdict "$lwip_peak" 24576) |"
        echo "| main stack high-water of the lwIP run | $lwip_stack B | | |"
    fi
    if [ -n "$run36" ]; then
        echo "| mbedTLS 3.6 (TLS 1.3, 3.6 embedded profile): client image flash | $flash36 B ($(kib "$flash36")) | (the budget is the 2.28 client profile's) | |"
        echo "| mbedTLS 3.6: peak heap, one TLS 1.3 GET (QEMU, client-3.6) | $peak36 B ($(kib "$peak36")) | 24 KiB | $(verdict "$peak36" 24576) |"
        echo "| mbedTLS 3.6: peak heap, four TLS 1.3 GETs queued on one connection | $peak4_36 B ($(kib "$peak4_36")) | 28 KiB | $(verdict "$peak4_36" 28672) |"
    fi
    echo
    echo "libwisp per module (bytes: .text / .data / .bss):"
    echo
    echo "| module | client only | client + server |"
    echo "|---|---:|---:|"
    echo "$mc" | while read -r m t d b; do
        [ "$m" = TOTAL ] && continue
        o=$(echo "$mb" | awk -v m="$m" '$1 == m { printf "%d / %d / %d", $2, $3, $4 }')
        echo "| $m | $t / $d / $b | $o |"
    done
    echo
    echo "Image flash by library (wisp-fw-client.elf, from its link map):"
    echo
    echo "| part | bytes |"
    echo "|---|---:|"
    by_library "$fw/client/tests/firmware/wisp-fw-client.map"
    echo
    echo "The image objects are one LTO partition, so the map cannot split wisp, the board"
    echo "and the policy apart; the raw lwIP test image is linked the same way, and the lwIP"
    echo "ports' own sizes are in \"lwIP ports on Cortex-M4\" below."
    echo "<!-- /firmware-sizes -->"
)

if [ "${2:-}" = "--update" ]; then
    echo "$section" | /usr/bin/python3 "$here/bench/update-section.py" "${3:?--update needs RESULTS.md}" firmware-sizes
fi
echo "$section"
