#!/bin/bash
# bench/handshake.sh BUILD_DIR [--update RESULTS.md]
#
# Client CPU per full handshake against the mbedTLS crypto floor (issue 13 §2), both
# measured in this run on this machine, so the ratio holds on any machine:
#
#   floor: `wisp-floor handshake x25519 N ...` (bench/wisp-floor.c): per iteration the crypto
#          any ECDHE-ECDSA client handshake computes, with mbedTLS's primitives on
#          keys as fresh as in a handshake: both public keys parsed, an X25519 key
#          pair and shared secret, two P-256 ECDSA verifications with SHA-256. X25519
#          is the group wisp offers first and nginx takes; the instruction counts
#          below show it (wisp's ECDH costs what the floor's X25519 ECDH costs).
#   wisp:  `wisp-bench handshakes PORT CA N`: N whole lifecycles one after another,
#          each a full handshake (the vhost and its session cache go with the stream:
#          keepalive_ms and linger_ms 0): vhost, resolve, connect, handshake, one GET
#          of /hello, teardown. CPU = user + system of the process, resolver thread
#          included.
#
# CPU: ROUNDS (11) rounds of N (40) each, floor and wisp back to back (which goes
# first alternates); the figure is the median of the rounds' wisp/floor ratios (the
# pair in one round shares the machine's moment), with the range, and the best round
# of each. On the shared machine of 2026-12-03 the best of 5 rounds alone gave 1.12
# in one run and 1.38 in the next. Instructions
# (callgrind, exact): the difference between N = 3 and N = 1 over 2, for the floor
# and for wisp's lifecycle, and wisp's handshake alone (inclusive cost of
# wisp__tls_handshake over 3). With --update the section between the "handshake"
# markers of RESULTS.md is replaced (appended the first time). `make bench` runs it.
set -euo pipefail
[ $# -eq 1 ] || [ $# -eq 3 ] || { echo "usage: $0 BUILD_DIR [--update RESULTS.md]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
update=${3:-}
[ $# -eq 1 ] || [ "$2" = --update ] || { echo "usage: $0 BUILD_DIR [--update RESULTS.md]" >&2; exit 2; }
ROUNDS=${ROUNDS:-11}
N=${N:-40}
work=$build/bench/handshake
ngx=$work/nginx
certs=$root/tests/certs
ca=$certs/ca.pem
for tool in valgrind callgrind_annotate; do
    command -v $tool >/dev/null || { echo "handshake.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
mkdir -p "$work" "$ngx"
cmake --build "$build" --target wisp-bench wisp-floor >/dev/null
bench=$build/bench/wisp-bench
floor=$build/bench/wisp-floor

# shellcheck source=bench/nginx-free-port.sh
. "$root/bench/nginx-free-port.sh"
start_nginx handshake.sh

# key FILE NAME: the value of a "NAME value" line.
key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
run_floor() { "$floor" handshake x25519 "$1" "$ca" "$certs/server.pem" "$certs/server.key" >"$work/floor.out"; }
run_wisp() { "$bench" handshakes "$port" "$ca" "$1" >"$work/wisp.out"; }

best_floor="" best_wisp="" ratios=""
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        run_floor "$N"
        run_wisp "$N"
    else
        run_wisp "$N"
        run_floor "$N"
    fi
    [ "$(key "$work/wisp.out" handshakes_full)" = "$N" ] || {
        echo "handshake.sh: wisp-bench did not make $N full handshakes:" >&2
        cat "$work/wisp.out" >&2
        exit 1
    }
    f=$(key "$work/floor.out" cpu_us)
    w=$(key "$work/wisp.out" cpu_us)
    echo "handshake.sh: round $r: floor $((f / N)) µs, wisp $((w / N)) µs per handshake" >&2
    ratios="$ratios $(awk -v a="$w" -v b="$f" 'BEGIN { printf "%.4f", a / b }')"
    if [ -z "$best_floor" ] || [ "$f" -lt "$best_floor" ]; then best_floor=$f; fi
    if [ -z "$best_wisp" ] || [ "$w" -lt "$best_wisp" ]; then best_wisp=$w; fi
done
# "median min max" of the rounds' ratios.
read -r r_med r_min r_max <<<"$(echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f", v[int((NR + 1) / 2)], v[1], v[NR] }')"

# Ir OUT: the program total of a callgrind output file.
ir() { callgrind_annotate "$1" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
# fn OUT FUNC: FUNC's inclusive cost.
fn() {
    callgrind_annotate --inclusive=yes "$1" |
        awk -v f="$2" '!n && index($0, ":" f " ") { gsub(",", "", $1); print $1; n = 1 }'
}
cg() { valgrind --tool=callgrind --callgrind-out-file="$1" "${@:2}" >/dev/null 2>&1; }
cg "$work/cg.floor.1" "$floor" handshake x25519 1 "$ca" "$certs/server.pem" "$certs/server.key"
cg "$work/cg.floor.3" "$floor" handshake x25519 3 "$ca" "$certs/server.pem" "$certs/server.key"
cg "$work/cg.wisp.1" "$bench" handshakes "$port" "$ca" 1
cg "$work/cg.wisp.3" "$bench" handshakes "$port" "$ca" 3
ir_floor=$((($(ir "$work/cg.floor.3") - $(ir "$work/cg.floor.1")) / 2))
ir_life=$((($(ir "$work/cg.wisp.3") - $(ir "$work/cg.wisp.1")) / 2))
ir_hs=$(($(fn "$work/cg.wisp.3" wisp__tls_handshake) / 3))
# ecdh OUT: the ECDH calls' inclusive cost (key pair + shared secret).
ecdh() { echo $(($(fn "$1" mbedtls_ecdh_gen_public) + $(fn "$1" mbedtls_ecdh_compute_shared))); }
ir_fecdh=$((($(ecdh "$work/cg.floor.3") - $(ecdh "$work/cg.floor.1")) / 2))
ir_wecdh=$(($(ecdh "$work/cg.wisp.3") / 3))
load=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
us() { awk -v t="$1" -v n="$N" 'BEGIN { printf "%.0f", t / n }'; }
m() { awk -v x="$1" 'BEGIN { printf "%.2f M", x / 1e6 }'; }
section() {
    echo "<!-- handshake: generated by bench/handshake.sh; do not edit by hand -->"
    echo "## Client CPU per full handshake against the crypto floor (issue 13 §2)"
    echo
    echo "Run of $(date -u '+%Y-%m-%d %H:%M') UTC, load average $load at the end."
    echo "Command: \`bench/handshake.sh build --update bench/RESULTS.md\` (part of \`make bench\`;"
    echo "how it measures is in the script's header). The floor is \`wisp-floor\`: X25519"
    echo "ECDHE and two P-256 ECDSA verifications with mbedTLS's primitives on fresh keys;"
    echo "wisp is \`wisp-bench handshakes\`: whole lifecycles, each a full TLS 1.2 handshake"
    echo "to the nginx fixture and one GET. CPU: $ROUNDS rounds of $N, floor and wisp back to back."
    echo
    echo "| per full handshake | floor | wisp | wisp / floor |"
    echo "|---|---:|---:|---:|"
    echo "| CPU, user + system, whole lifecycle: median of the rounds' ratios (range) | | | **$r_med** ($r_min–$r_max) |"
    echo "| CPU µs, the best round of each | $(us "$best_floor") | $(us "$best_wisp") | $(ratio "$best_wisp" "$best_floor") |"
    echo "| instructions, whole lifecycle (vhost, resolve, connect, handshake, GET, teardown) | $(m "$ir_floor") | $(m "$ir_life") | $(ratio "$ir_life" "$ir_floor") |"
    echo "| instructions, the handshake alone (\`wisp__tls_handshake\`, inclusive) | $(m "$ir_floor") | $(m "$ir_hs") | $(ratio "$ir_hs" "$ir_floor") |"
    echo "| ... of which ECDH (key pair + shared secret) | $(m "$ir_fecdh") | $(m "$ir_wecdh") | $(ratio "$ir_wecdh" "$ir_fecdh") |"
    echo "<!-- /handshake -->"
}
out=$(section)
echo "$out"
[ -z "$update" ] || echo "$out" | /usr/bin/python3 "$root/bench/update-section.py" "$update" handshake
