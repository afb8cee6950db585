#!/bin/bash
# bench/server.sh BUILD_DIR [--update RESULTS.md] — wisp's server beside nginx (issue 9).
#
# One run, both servers serving the same bytes (wisp-server's page, fetched from it
# and written to a file nginx serves) with the same ECDSA P-256 certificate
# (tests/certs/server.pem, the one in minimal-examples/server/policy.json), on TLS 1.2
# with ECDHE-ECDSA-AES128-GCM-SHA256 (Debian's mbedTLS 2.28 has no TLS 1.3). The
# server is pinned to CPU 0 (nginx: one worker, master and worker both there), the
# load generator to CPU 1 (taskset). Figures:
#   - server CPU per full handshake: openssl s_time -new for T s (one GET each);
#     the server's utime+stime from /proc over that window / connections made,
#   - resumed handshakes per second: openssl s_time -reuse (session-ID resumption),
#   - keep-alive requests per second: wrk -t1 -c10 for T s on the page,
#   - wisp's heap per idle keep-alive connection and per in-flight request: the
#     --stats heap_peak of runs holding K1 and K2 connections (bench/hold.py),
#     differenced so that start-up and the one handshake in progress cancel out.
# Prints a Markdown section (also left in BUILD_DIR/bench/server/results.md); with
# --update it replaces the section between the server-bench markers of RESULTS.md (or
# appends it). Nothing passes or fails on a figure; non-zero exit only when a run
# went wrong (a server did not start, wisp-server did not exit 0). Needs nginx-light, openssl, wrk, taskset.
# Environment: BENCH_T (seconds per timed run, default 5), BENCH_ROUNDS (3). About
# 2.5 minutes.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [--update RESULTS.md]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
work=$build/bench/server
out=$work/results.md
T=${BENCH_T:-5}
ROUNDS=${BENCH_ROUNDS:-3}
K1=20 K2=60
server=$build/minimal-examples/server/wisp-server
policy=$root/minimal-examples/server/policy.json
certs=$root/tests/certs
ca=$certs/ca.pem
nginx=$(command -v nginx || echo /usr/sbin/nginx)
SRV_CPU=0 GEN_CPU=1
CIPHER=ECDHE-ECDSA-AES128-GCM-SHA256

for tool in openssl wrk taskset curl "$nginx"; do
    command -v "$tool" >/dev/null || { echo "server.sh: $tool not found" >&2; exit 1; }
done
[ -x "$server" ] || cmake --build "$build" --target wisp-server
# shellcheck source=tests/interop/srvtest.sh
. "$root/tests/interop/srvtest.sh"
rm -rf "$work"
mkdir -p "$work/nginx/tmp"

gen() { taskset -c $GEN_CPU "$@"; }
# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# ---- The servers -------------------------------------------------------------------

load0=$(cut -d' ' -f1 /proc/loadavg)
SRV_WRAP="taskset -c $SRV_CPU"
trap 'srv_stop >/dev/null 2>&1 || true; stop_nginx' EXIT
stop_nginx() {
    [ -s "$work/nginx/nginx.pid" ] && kill -TERM "$(cat "$work/nginx/nginx.pid")" 2>/dev/null
    rm -f "$work/nginx/nginx.pid"
}
srv_start "$work/wisp" "$server" "$policy"
wport=$SRV_PORT
curl -sS --cacert "$ca" -o "$work/nginx/page.html" "${SRV_URL}"
page_bytes=$(wc -c <"$work/nginx/page.html")

# nginx: its own minimal configuration (the fixture's serves no such file), one
# worker, no access log, the session cache and tickets on as on wisp's vhost.
[ "$(id -u)" = 0 ] && user_line="user root;" || user_line=""
nport=""
for try in 1 2 3 4 5 6 7 8; do
    p=$((20000 + (RANDOM * 32768 + RANDOM + try * 997) % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    cat >"$work/nginx/nginx.conf" <<NGX
$user_line
worker_processes 1;
pid "$work/nginx/nginx.pid";
error_log "$work/nginx/error.log" warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path "$work/nginx/tmp";
    keepalive_requests 100000;
    ssl_protocols TLSv1.2;
    ssl_ciphers $CIPHER;
    ssl_session_cache shared:bench:1m;
    server {
        listen 127.0.0.1:$p ssl;
        ssl_certificate "$certs/server.pem";
        ssl_certificate_key "$certs/server.key";
        root "$work/nginx";
        location = / { default_type text/html; try_files /page.html =404; }
    }
}
NGX
    if taskset -c $SRV_CPU "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g "daemon on;" \
        -e "$work/nginx/error.log" 2>>"$work/nginx/start.err"; then
        nport=$p
        break
    fi
done
[ -n "$nport" ] || { echo "server.sh: nginx did not start:" >&2; cat "$work/nginx/start.err" >&2; exit 1; }
for ((i = 0; i < 50; i++)); do
    curl -sf -o /dev/null --cacert "$ca" "https://127.0.0.1:$nport/" && break
    sleep 0.1
done
npids="$(cat "$work/nginx/nginx.pid") $(pgrep -P "$(cat "$work/nginx/nginx.pid")" | tr '\n' ' ')"
cmp -s "$work/nginx/page.html" <(curl -sS --cacert "$ca" "https://127.0.0.1:$nport/") ||
    { echo "server.sh: nginx does not serve the page" >&2; exit 1; }
echo "server.sh: wisp-server on $wport (pid $SRV_PID), nginx on $nport (pids $npids), page $page_bytes B" >&2

# ---- Runs ----------------------------------------------------------------------------

# s_time NAME PORT PIDS FLAGS...: connections made, and server CPU ticks over the run.
s_time() {
    local name=$1 port=$2 pids=$3 before after
    shift 3
    # shellcheck disable=SC2086
    before=$(cpu_ticks $pids)
    gen openssl s_time -connect "127.0.0.1:$port" -tls1_2 -cipher $CIPHER -www / -time "$T" \
        "$@" >"$work/$name.out" 2>&1 || true
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    echo "$(awk '/connections in [0-9.]+s;/ { print $1; exit }' "$work/$name.out") $((after - before)) \
$(awk '/connections in [0-9.]+ real seconds/ { print $1, $5; exit }' "$work/$name.out")" >"$work/$name.fig"
}
# wrk_rps NAME PORT PIDS: "requests/s server-ticks requests" of a keep-alive run.
wrk_rps() {
    local before after
    # shellcheck disable=SC2086
    before=$(cpu_ticks $3)
    gen wrk -t1 -c10 -d"${T}s" "https://127.0.0.1:$2/" >"$work/$1.out" 2>&1 || true
    # shellcheck disable=SC2086
    after=$(cpu_ticks $3)
    echo "$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$work/$1.out") $((after - before)) \
$(awk '/ requests in / { print $1; exit }' "$work/$1.out")" >"$work/$1.fig"
}

echo "server.sh: full handshakes, resumed handshakes, keep-alive requests (${T} s each)" >&2
# ROUNDS interleaved rounds; each figure is its best round (a shared machine's noise
# only ever costs time).
for ((r = 1; r <= ROUNDS; r++)); do
    s_time full_wisp_$r "$wport" "$SRV_PID" -new
    s_time full_nginx_$r "$nport" "$npids" -new
    s_time res_wisp_$r "$wport" "$SRV_PID" -reuse
    s_time res_nginx_$r "$nport" "$npids" -reuse
    wrk_rps ka_wisp_$r "$wport" "$SRV_PID"
    wrk_rps ka_nginx_$r "$nport" "$npids"
done
srv_stop
wisp_stats=$SRV_STATS
wisp_rc=$SRV_RC
stop_nginx

# Heap: K1 and K2 connections held, idle or with a request in flight each.
# heap_peak MODE K: wisp's heap_peak over a run holding K connections in MODE.
heap_peak() {
    srv_start "$work/heap-$1-$2" "$server" "$policy"
    /usr/bin/python3 "$root/bench/hold.py" "$SRV_PORT" "$ca" "$2" "$1" >/dev/null
    srv_stop
    [ "$SRV_RC" = 0 ] || wisp_rc=$SRV_RC
    srv_stat heap_peak
}
idle1=$(heap_peak idle $K1)
idle2=$(heap_peak idle $K2)
infl1=$(heap_peak inflight $K1)
infl2=$(heap_peak inflight $K2)
# The starting figure (the same server, started and stopped with no traffic) and the
# figure after the last run above (listener destroyed, its connections drained).
srv_start "$work/heap-start" "$server" "$policy"
srv_stop
heap_start=$(srv_stat heap_in_use)
heap_end=$(sed -n 's/^{"heap_in_use":\([0-9]*\),.*/\1/p' "$work/heap-inflight-$K2/server.err")

# Instructions per full handshake (callgrind: repeatable, unlike CPU time on a shared
# machine): HS handshakes one at a time (burst.py, no reuse), the servers unpinned.
HS=20
SRV_WRAP="valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.wisp"
srv_start "$work/cg-wisp" "$server" "$policy"
/usr/bin/python3 "$root/tests/interop/burst.py" 127.0.0.1 "$SRV_PORT" "$ca" $HS 1 /count \
    >"$work/cg-wisp.out" || wisp_rc=1
srv_stop
SRV_WRAP=""
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.nginx" "$nginx" -p "$work/nginx" \
    -c "$work/nginx/nginx.conf" -g "daemon off; master_process off;" 2>"$work/cg-nginx.err" &
cgpid=$!
for ((i = 0; i < 300; i++)); do
    curl -sf -o /dev/null --cacert "$ca" "https://127.0.0.1:$nport/" && break # one handshake
    sleep 0.1
done
/usr/bin/python3 "$root/tests/interop/burst.py" 127.0.0.1 "$nport" "$ca" $HS 1 / \
    >"$work/cg-nginx.out" || true
kill -TERM "$cgpid"
wait "$cgpid" || true
# incl FILE FUNCTION: callgrind's inclusive instructions of FUNCTION.
incl() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v fn=":$2 [" 'index($0, fn) { v = $1; gsub(",", "", v); if (v + 0 > m) m = v + 0 }
                          END { print (m ? m : "?") }'
}
iw=$(incl "$work/callgrind.wisp" wisp__tls_handshake)
iecp=$(incl "$work/callgrind.wisp" mbedtls_ecp_mul_restartable)
in_=$(incl "$work/callgrind.nginx" ngx_ssl_handshake)
per() { awk -v a="$1" -v n="$2" 'BEGIN { if (a + 0 > 0) printf "%.2f", a / n / 1e6; else printf "?" }'; }
iw_hs=$(per "$iw" $HS)
iecp_hs=$(per "$iecp" $HS)
in_hs=$(per "$in_" $((HS + 1)))

# ---- Report ----------------------------------------------------------------------------

# fig NAME FIELD: of the best round of NAME (the lowest ticks per connection for
# -new, the most connections otherwise): field 1 connections, 2 server ticks.
fig() {
    local f
    for f in "$work/$1"_[0-9]*.fig; do
        awk '{ printf "%s %s %.9f\n", $1, $2, ($1 > 0 ? $2 / $1 : 1e9) }' "$f"
    done | if [ "${1#full}" != "$1" ]; then sort -k3,3g; else sort -k1,1nr; fi |
        head -1 | awk -v f="$2" '{ print $f }'
}
# best_cpu NAME: the lowest server ticks per connection (or request) over the rounds.
best_cpu() {
    # s_time figures: "connections ticks connections real"; wrk's: "rate ticks requests".
    cat "$work/$1"_[0-9]*.fig | awk '$1 > 0 { c = (NF == 3 ? $3 : $1); if (c > 0) print $2 / c }' |
        sort -g | head -1
}
ka_wisp=$(sort -nr "$work"/ka_wisp_[0-9]*.fig | head -1 | cut -d' ' -f1)
ka_nginx=$(sort -nr "$work"/ka_nginx_[0-9]*.fig | head -1 | cut -d' ' -f1)
# us TICKS_PER_ITEM: microseconds.
us() { awk -v t="$1" -v hz="$HZ" 'BEGIN { if (t != "") printf "%.1f", t / hz * 1e6; else printf "?" }'; }
rcw=$(us "$(best_cpu res_wisp)")
rcn=$(us "$(best_cpu res_nginx)")
kcw=$(us "$(best_cpu ka_wisp)")
kcn=$(us "$(best_cpu ka_nginx)")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "?" }'; }
ms_per() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n + 0 > 0) printf "%.3f", t / hz * 1000 / n; else printf "?" }'; }
per_sec() { awk -v n="$1" -v t="$T" 'BEGIN { if (n + 0 > 0) printf "%d", n / t; else printf "?" }'; }
fw=$(ms_per "$(fig full_wisp 2)" "$(fig full_wisp 1)")
fn=$(ms_per "$(fig full_nginx 2)" "$(fig full_nginx 1)")
rw=$(per_sec "$(fig res_wisp 1)")
rn=$(per_sec "$(fig res_nginx 1)")
idle=$(((idle2 - idle1) / (K2 - K1)))
infl=$(((infl2 - infl1 - idle2 + idle1) / (K2 - K1)))
verdict() { awk -v v="$1" -v lim="$2" -v dir="$3" 'BEGIN { if (v == "?") print "?"; else if ((dir == "le" && v <= lim) || (dir == "ge" && v >= lim)) print "met"; else print "**missed**" }'; }
{
echo "<!-- server-bench: generated by bench/server.sh; do not edit by hand -->"
echo "## Server: wisp-server against nginx ($(date -u +%Y-%m-%d))"
echo
echo "Command: \`bench/server.sh build\` (part of \`make bench\`). One run: wisp-server"
echo "(minimal-examples/server, Debian's mbedTLS $(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo ?)) and nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///')"
echo "($(openssl version | cut -d' ' -f1-2), one worker) serve the same $page_bytes-byte page with the same ECDSA P-256"
echo "certificate, TLS 1.2 $CIPHER; server pinned to CPU $SRV_CPU, load generator"
echo "(openssl s_time, wrk) to CPU $GEN_CPU; ${T} s per run, best of $ROUNDS interleaved rounds. Server CPU is utime+stime from"
echo "/proc over the run (clock ticks of 1/$HZ s) divided by the connections (requests) made;"
echo "unlike the rates it barely depends on what else the machine runs."
echo "Load average when the run started: $load0 on $(nproc) CPUs (above ~0.5 the machine is"
echo "shared: absolute rates are depressed for both servers, the ratios are the figure)."
echo
echo "| figure | wisp | nginx | wisp / nginx | target |"
echo "|---|---:|---:|---:|---|"
echo "| server CPU per full handshake (s_time -new, one GET each), ms | $fw ($(fig full_wisp 1) conns) | $fn ($(fig full_nginx 1) conns) | $(ratio "$fw" "$fn") | wisp ≤ 2.0 ms: $(verdict "$fw" 2.0 le) |"
echo "| resumed handshakes per second (s_time -reuse, one GET each) | $rw | $rn | $(ratio "$rw" "$rn") | ≥ 0.8: $(verdict "$(ratio "$rw" "$rn")" 0.8 ge) |"
echo "| ... server CPU per resumed handshake (with its GET), µs | $rcw | $rcn | $(ratio "$rcw" "$rcn") | |"
echo "| keep-alive requests per second (wrk -t1 -c10) | $ka_wisp | $ka_nginx | $(ratio "$ka_wisp" "$ka_nginx") | ≥ 0.8: $(verdict "$(ratio "$ka_wisp" "$ka_nginx")" 0.8 ge) |"
echo "| ... server CPU per keep-alive request, µs | $kcw | $kcn | $(ratio "$kcw" "$kcn") | |"
echo "| server instructions per full handshake (callgrind, $HS one at a time), M | $iw_hs | $in_hs | $(ratio "$iw_hs" "$in_hs") | |"
echo "| ... of which mbedTLS's scalar multiplications (\`mbedtls_ecp_mul_restartable\`), M | $iecp_hs | | | |"
echo
echo "wisp's heap (accounted allocator, from \`--stats\` heap_peak of runs holding $K1 and"
echo "$K2 connections, bench/hold.py; mbedTLS's own allocations — its two record buffers"
echo "and handshake state — are not in it with Debian's mbedTLS, which calls calloc):"
echo
echo "| figure | bytes |"
echo "|---|---:|"
echo "| per idle keep-alive connection ((peak$K2 − peak$K1) / $((K2 - K1))) | $idle |"
echo "| per request in flight, beyond its connection (a POST whose body is still coming) | $infl |"
echo "| heap_in_use at exit, no traffic (the loaded policy) | $heap_start |"
echo "| heap_in_use at exit after the $K2 in-flight run (listener destroyed, connections drained) | $heap_end ($([ "$heap_end" = "$heap_start" ] && echo "back to the starting figure" || echo "**not** the starting figure")) |"
echo
echo "wisp-server's stats over the timed runs: \`$wisp_stats\` (exit status $wisp_rc)."
echo "<!-- /server-bench -->"
} >"$out"
if [ "${2:-}" = "--update" ]; then
    /usr/bin/python3 "$root/bench/update-section.py" "${3:?--update needs RESULTS.md}" server-bench <"$out"
fi
cat "$out"
[ "$wisp_rc" = 0 ]
