#!/bin/bash
# bench/syscalls.sh BUILD_DIR [--update RESULTS.md]
#
# Syscalls and CPU per queued request (issue 13 §2), side by side for wisp with the
# socket read-ahead (BUILD_DIR's wisp-stream, WISP_SOCK_READAHEAD 2048), without it
# (the same sources built into BUILD_DIR/bench/noreadahead with
# -DWISP_SOCK_READAHEAD=0, configured here when missing) and, at depth 1, a bare
# mbedTLS client (`wisp-floor requests PORT CA N /1k`, bench/wisp-floor.c: poll,
# plain send/recv, the same suite, no library), in one run against the nginx fixture
# of tests/interop on a free loopback port.
#
#   syscalls: `strace -f -c` of `wisp-stream POLICY TYPE --count N`, N = 1,000 minus
#             N = 100, over 900, so start-up, the handshake and the teardown cancel;
#             `recvfrom` split into calls that brought bytes and EAGAIN errors.
#   CPU:      task-clock of the whole process (`perf stat -r RUNS`, RUNS 15: the mean,
#             with perf's spread), the same difference over 900; the four variants
#             measured one after another, twice (rounds interleaved), best round kept
#             (the bare client the same way, with its N).
#   instructions: callgrind's program total (user space only, exact), the same
#             difference over 900: the figure that does not move with the machine.
#             A best-of-few of single runs moved by ±30% here, the mean of 15 by ±8%.
#             Then the same again with the CPUs held out of their idle states (a PM
#             QoS request: 0 written to /dev/cpu_dma_latency, held open), when the
#             file is writable: what the sleep and wake-up per request costs.
#
#   server:   `strace -f -c -p` of wisp-server (minimal-examples/server, both builds)
#             while one curl fetches its page N times on one kept-alive TLS 1.2
#             connection (`--tls-max 1.2`), N = 500 minus N = 100, over 400.
#
# Types: `queued` (pipeline_depth 1) and `piped` (8), URL /1k (1,024 bytes of body)
# over TLS 1.2. nginx closes a connection after 1,000 requests (keepalive_requests),
# so N stays at 1,000. With --update the section between the "syscalls" markers of
# RESULTS.md is replaced (appended the first time). `make bench` runs it.
set -euo pipefail
[ $# -eq 1 ] || [ $# -eq 3 ] || { echo "usage: $0 BUILD_DIR [--update RESULTS.md]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
update=${3:-}
[ $# -eq 1 ] || [ "$2" = --update ] || { echo "usage: $0 BUILD_DIR [--update RESULTS.md]" >&2; exit 2; }
RUNS=${RUNS:-15}
work=$build/bench/syscalls
ngx=$work/nginx
ca=$root/tests/certs/ca.pem
nora=$build/bench/noreadahead
for tool in strace perf valgrind callgrind_annotate; do
    command -v $tool >/dev/null || { echo "syscalls.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
mkdir -p "$work" "$ngx"

cmake --build "$build" --target wisp-stream wisp-floor wisp-server >/dev/null
if [ ! -f "$nora/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$nora" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWISP_BUILD_TESTS=OFF \
        -DCMAKE_C_FLAGS=-DWISP_SOCK_READAHEAD=0 >/dev/null
fi
cmake --build "$nora" --target wisp-stream wisp-server >/dev/null
with=$build/tools/wisp-stream/wisp-stream
without=$nora/tools/wisp-stream/wisp-stream
floor=$build/bench/wisp-floor

# shellcheck source=bench/nginx-free-port.sh
. "$root/bench/nginx-free-port.sh"
start_nginx syscalls.sh

pol=$work/policy.json
cat >"$pol" <<EOF
{ "schema": 1,
  "certs": { "ca": "$(awk '{ printf "%s\\n", $0 }' "$ca")" },
  "trust_stores": { "test": { "certs": ["ca"] } },
  "streams": {
    "queued": { "endpoint": "localhost", "port": $port, "trust_store": "test", "url": "/1k" },
    "piped": { "endpoint": "localhost", "port": $port, "trust_store": "test", "url": "/1k",
               "pipeline_depth": 8 } } }
EOF

# argv BIN TYPE N: the command line of one run into cmd (BIN "bare": wisp-floor).
argv() {
    if [ "$1" = bare ]; then
        cmd=("$floor" requests "$port" "$ca" "$3" /1k)
    else
        cmd=("$1" "$pol" "$2" --count "$3")
    fi
}
# tally FILE: "poll sendto recv_data recv_eagain" from a `strace -c` summary.
tally() {
    awk '
        # % time, seconds, usecs/call, calls, [errors,] syscall: errors is blank when 0
        { err = NF == 6 ? $5 : 0 }
        $NF == "poll" || $NF == "ppoll" { poll += $4 }
        $NF == "sendto" || $NF == "sendmsg" { send += $4 }
        $NF == "recvfrom" { recv += $4 - err; eagain += err }
        END { printf "%d %d %d %d\n", poll, send, recv, eagain }' "$1"
}
# difference HI LO N: the four counts of HI minus LO, over N, and their total.
difference() {
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = 0
        for (i = 1; i <= 4; i++) { d = (x[i] - y[i]) / n; t += d; printf "%.2f ", d }
        printf "%.2f\n", t }'
}
# counts BIN TYPE N: the four counts of one strace run.
counts() {
    argv "$@"
    strace -f -c -o "$work/strace.txt" "${cmd[@]}" >/dev/null 2>&1
    tally "$work/strace.txt"
}
# per BIN TYPE: the five figures per request, (N=1000 - N=100) / 900.
per() { difference "$(counts "$1" "$2" 1000)" "$(counts "$1" "$2" 100)" 900; }
# cpu BIN TYPE N: mean task-clock of RUNS whole runs, in microseconds.
cpu() {
    argv "$@"
    perf stat -x, -e task-clock -r "$RUNS" -o "$work/perf.txt" "${cmd[@]}" >/dev/null 2>&1
    awk -F, '$3 ~ /^task-clock/ { printf "%d\n", $1 * 1000 }' "$work/perf.txt"
}

# cpu_rounds KEY_SUFFIX: two rounds of the five variants, the best of each into best.
declare -A best
cpu_rounds() {
    local r k type v bin hi lo d
    for ((r = 1; r <= 2; r++)); do
        for k in queued.with queued.without queued.bare piped.with piped.without; do
            type=${k%.*}
            v=${k#*.}
            case $v in with) bin=$with ;; without) bin=$without ;; bare) bin=bare ;; esac
            hi=$(cpu "$bin" "$type" 1000)
            lo=$(cpu "$bin" "$type" 100)
            d=$(((hi - lo) / 90)) # tenths of a microsecond per request, over 900
            if [ -z "${best[$k$1]:-}" ] || [ "$d" -lt "${best[$k$1]}" ]; then best[$k$1]=$d; fi
        done
    done
}
cpu_rounds ""
# The same with the CPUs held out of their idle states (bench/awake.sh).
# shellcheck source=bench/awake.sh
. "$root/bench/awake.sh"
qos_note="not measured: /dev/cpu_dma_latency is not writable here"
if awake_hold; then
    cpu_rounds .awake
    awake_release
    qos_note=""
fi
declare -A sc
for type in queued piped; do
    sc[$type.with]=$(per "$with" "$type")
    sc[$type.without]=$(per "$without" "$type")
done
sc[queued.bare]=$(per bare queued)
# ir BIN TYPE N: callgrind's instruction total of one run.
ir() {
    argv "$@"
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "${cmd[@]}" >/dev/null 2>&1
    callgrind_annotate "$work/callgrind.out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
declare -A irq
for k in queued.with queued.without queued.bare piped.with piped.without; do
    type=${k%.*}
    v=${k#*.}
    case $v in with) bin=$with ;; without) bin=$without ;; bare) bin=bare ;; esac
    irq[$k]=$((($(ir "$bin" "$type" 1000) - $(ir "$bin" "$type" 100)) / 900))
done
# ---- The server side: wisp-server under strace, curl keeping one connection --------
# shellcheck source=tests/interop/srvtest.sh
. "$root/tests/interop/srvtest.sh"
# srv_counts BIN N: the four counts of wisp-server over N requests on one connection.
srv_counts() {
    local d=$work/server-$2 urls=() i st
    rm -rf "$d"
    srv_start "$d" "$1" "$root/minimal-examples/server/policy.json" >/dev/null
    strace -f -c -o "$d/strace.txt" -p "$SRV_PID" 2>/dev/null &
    st=$!
    sleep 0.5 # attached
    for ((i = 0; i < $2; i++)); do urls+=("$SRV_URL"); done
    curl -s --tls-max 1.2 --cacert "$ca" "${urls[@]}" >/dev/null
    sleep 0.3
    kill -INT "$st"
    wait "$st" || true
    srv_stop >/dev/null 2>&1 || true
    tally "$d/strace.txt"
}
srv_per() { difference "$(srv_counts "$1" 500)" "$(srv_counts "$1" 100)" 400; }
sc[server.with]=$(srv_per "$build/minimal-examples/server/wisp-server")
sc[server.without]=$(srv_per "$nora/minimal-examples/server/wisp-server")
load=$(cut -d' ' -f1-3 /proc/loadavg)

us() { awk -v t="$1" 'BEGIN { printf "%.1f", t / 10 }'; }
col() { echo "${sc[$1]}" | awk -v i="$2" '{ print $i }'; }
section() {
    echo "<!-- syscalls: generated by bench/syscalls.sh; do not edit by hand -->"
    echo "## Syscalls and CPU per queued request (issue 13 §2)"
    echo
    echo "Run of $(date -u '+%Y-%m-%d %H:%M') UTC, load average $load at the end."
    echo "Command: \`bench/syscalls.sh build --update bench/RESULTS.md\` (part of \`make bench\`;"
    echo "how it measures is in the script's header). \`wisp-stream POLICY TYPE --count N\`,"
    echo "\`/1k\` over TLS 1.2 from the nginx fixture; per request = (N 1,000 − N 100) / 900."
    echo "*with*: the socket read-ahead (\`WISP_SOCK_READAHEAD\` 2048, the POSIX default);"
    echo "*without*: the same sources built with \`-DWISP_SOCK_READAHEAD=0\`, as firmware is;"
    echo "*bare mbedTLS*: \`wisp-floor requests PORT CA N /1k\`, the same requests one after another"
    echo "from a client written on mbedTLS and poll(2) alone (no library), measured the same way."
    echo
    echo "| per request | depth 1, bare mbedTLS | depth 1, without | depth 1, with | depth 8, without | depth 8, with |"
    echo "|---|---:|---:|---:|---:|---:|"
    local names=("poll" "sendto" "recvfrom with data" "recvfrom returning EAGAIN" "**total**")
    local i
    for i in 1 2 3 4 5; do
        echo "| ${names[$((i - 1))]} | $(col queued.bare $i) | $(col queued.without $i) | $(col queued.with $i) | $(col piped.without $i) | $(col piped.with $i) |"
    done
    echo "| CPU µs, whole process (task-clock, mean of $RUNS runs, better of 2 rounds) | $(us "${best[queued.bare]}") | $(us "${best[queued.without]}") | $(us "${best[queued.with]}") | $(us "${best[piped.without]}") | $(us "${best[piped.with]}") |"
    if [ -z "$qos_note" ]; then
        echo "| CPU µs, the same with the CPUs held out of idle (PM QoS: \`/dev/cpu_dma_latency\` 0) | $(us "${best[queued.bare.awake]}") | $(us "${best[queued.without.awake]}") | $(us "${best[queued.with.awake]}") | $(us "${best[piped.without.awake]}") | $(us "${best[piped.with.awake]}") |"
    else
        echo "| CPU µs, the CPUs held out of idle | $qos_note | | | | |"
    fi
    echo "| instructions, user space (callgrind) | ${irq[queued.bare]} | ${irq[queued.without]} | ${irq[queued.with]} | ${irq[piped.without]} | ${irq[piped.with]} |"
    echo
    echo "The server side: wisp-server (\`minimal-examples/server\`) under \`strace -c -p\` while"
    echo "one curl fetches its page 500 and 100 times on one kept-alive TLS 1.2 connection;"
    echo "per request = the difference over 400."
    echo
    echo "| per kept-alive request, server | without | with |"
    echo "|---|---:|---:|"
    for i in 1 2 3 4 5; do
        echo "| ${names[$((i - 1))]} | $(col server.without $i) | $(col server.with $i) |"
    done
    echo
    echo "The target is ≤ 15 µs of client CPU per queued request beyond the handshake. The"
    echo "syscall counts and instructions are exact and repeat; the CPU figures move between"
    echo "runs, so compare them within one run. At depth 1 every request waits for its answer"
    echo "in poll(2): the CPU goes idle and wakes once per request, and the second CPU row"
    echo "shows what that wake-up costs (the idle states of $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo "this machine's cpuidle driver") held off)."
    echo "The bare mbedTLS client is the reference at depth 1: what one request costs with no"
    echo "library at all. Its syscall counts depend on timing (under strace nginx's answer is"
    echo "often in before it reads, so it rarely polls); so do wisp's at depth 8."
    echo "<!-- /syscalls -->"
}
out=$(section)
echo "$out"
[ -z "$update" ] || echo "$out" | /usr/bin/python3 "$root/bench/update-section.py" "$update" syscalls
