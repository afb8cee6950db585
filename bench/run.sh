#!/bin/bash
# bench/run.sh BUILD_DIR — the figures of bench/RESULTS.md, side by side with curl.
#
# What `make bench` runs. Starts the nginx fixture of tests/interop on a free loopback
# port under BUILD_DIR/bench/run, then measures one GET stream lifecycle and 100
# streams at once, wisp (build/bench/wisp-bench) against curl fetching the same URL:
#   - wisp's own heap through its accounted allocator (wisp-bench figures),
#   - whole-process peak heap with valgrind massif (heap + extra, exact peak),
#   - instructions with valgrind callgrind (repeatable, unlike seconds),
#   - requests per TLS handshake, from wisp's stats and from nginx's access log.
# Prints a Markdown report (also left in BUILD_DIR/bench/run/results.md). Nothing is
# timed and nothing passes or fails on a figure; the exit status is non-zero only if
# a run itself went wrong (a stream not answered 200, heap not back, a tool missing).
#
# Needs valgrind, curl and nginx-light (scripts/install-deps.sh installs them;
# `make bench` runs it first). Installs nothing itself. About a minute.
# Environment: WISP_BENCH_PORT picks the port (it and the 7 above must be free).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
bench=$build/bench/wisp-bench
ca=$root/tests/certs/ca.pem
work=$build/bench/run
ngx=$work/nginx
N=100

for tool in valgrind curl callgrind_annotate ms_print; do
    command -v "$tool" >/dev/null || {
        echo "run.sh: $tool not found (scripts/install-deps.sh installs it)" >&2
        exit 1
    }
done
[ -x "$bench" ] || cmake --build "$build" --target wisp-bench
mkdir -p "$work" "$ngx"
rm -f "$work"/*.out "$work"/*.err "$work"/*.log "$work"/massif.* "$work"/callgrind.*

# ---- nginx on a free port -----------------------------------------------------------

# shellcheck source=bench/nginx-free-port.sh
. "$root/bench/nginx-free-port.sh"
start_nginx run.sh
url="https://localhost:$port/hello"
urls=()
for ((i = 0; i < N; i++)); do urls+=("$url"); done
alog=$ngx/access.log

# ---- Runs ---------------------------------------------------------------------------

failed=""
# run NAME CMD...: stdout/stderr to $work/NAME.out/.err; a failure is noted, not fatal.
run() {
    local name=$1 rc=0
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        failed="$failed $name(exit $rc)"
        echo "run.sh: $name failed (exit $rc), see $work/$name.err" >&2
    fi
}
# logged NAME CMD...: run, then note which access-log lines the run produced.
logged() {
    local name=$1 before after
    before=$(wc -l <"$alog")
    run "$@"
    sleep 0.2 # nginx logs at request end; let the last line land
    after=$(wc -l <"$alog")
    sed -n "$((before + 1)),${after}p" "$alog" >"$work/$name.log"
}
massif() {
    local name=$1
    shift
    logged "$name" valgrind --tool=massif --peak-inaccuracy=0 \
        --massif-out-file="$work/massif.$name" "$@"
}
callgrind() {
    local name=$1
    shift
    logged "$name" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.$name" "$@"
}
curl_get() { curl --cacert "$ca" "$@"; }

echo "run.sh: nginx on 127.0.0.1:$port; measuring (about a minute)" >&2
run figures "$bench" figures "$port" "$ca"
massif m_wisp_get "$bench" get "$port" "$ca"
massif m_curl_get curl --cacert "$ca" "$url"
massif m_wisp_many "$bench" many "$port" "$ca" "$N"
massif m_curl_many curl --cacert "$ca" "${urls[@]}"
callgrind c_wisp_get "$bench" get "$port" "$ca"
callgrind c_curl_get curl --cacert "$ca" "$url"
callgrind c_curl12_get curl --tls-max 1.2 --cacert "$ca" "$url"
callgrind c_wisp_many "$bench" many "$port" "$ca" "$N"
callgrind c_curl_many curl --cacert "$ca" "${urls[@]}"

# Wall time, 100 GETs of 1 KiB (/1k) to one endpoint, whole processes (bench/rusage.py):
# curl with 100 URLs in one invocation against wisp-stream --count 100, queued on one
# connection (pipeline_depth 1) and pipelined (pipeline_depth 8). Interleaved rounds,
# best of each; nginx's log of the pipelined runs shows the connections and $pipe.
WALL_ROUNDS=7
wpol=$work/wall-policy.json
cat >"$wpol" <<EOF
{ "schema": 1,
  "certs": { "ca": "$(awk '{ printf "%s\\n", $0 }' "$ca")" },
  "trust_stores": { "test": { "certs": ["ca"] } },
  "streams": {
    "queued": { "endpoint": "localhost", "port": $port, "trust_store": "test", "url": "/1k" },
    "piped": { "endpoint": "localhost", "port": $port, "trust_store": "test", "url": "/1k",
               "pipeline_depth": 8 } } }
EOF
urls1k=()
for ((i = 0; i < N; i++)); do urls1k+=("https://localhost:$port/1k"); done
wstream=$build/tools/wisp-stream/wisp-stream
for ((round = 1; round <= WALL_ROUNDS; round++)); do
    logged "w_curl_$round" /usr/bin/python3 "$root/bench/rusage.py" \
        curl -s --cacert "$ca" "${urls1k[@]}"
    logged "w_queued_$round" /usr/bin/python3 "$root/bench/rusage.py" \
        "$wstream" "$wpol" queued --count "$N"
    logged "w_piped_$round" /usr/bin/python3 "$root/bench/rusage.py" \
        "$wstream" "$wpol" piped --count "$N"
done

# Scaling: N streams created and queued at once on one endpoint, in the bench loop and
# through wisp-stream (policy below). nginx closes a connection after 1,000 requests
# (keepalive_requests), so 10,000 streams also cross 9 reconnects with resumption.
SCALES="10 100 1000 10000"
spol=$work/scale-policy.json
cat >"$spol" <<EOF
{ "schema": 1,
  "certs": { "ca": "$(awk '{ printf "%s\\n", $0 }' "$ca")" },
  "trust_stores": { "test": { "certs": ["ca"] } },
  "streams": { "get": { "endpoint": "localhost", "port": $port, "trust_store": "test",
                        "url": "/hello", "timeout_ms": 300000 } } }
EOF
# Three interleaved rounds; the report takes each figure's best round (a shared
# machine's noise only ever adds time).
for round in 1 2 3; do
    for n in $SCALES; do
        run "s_bench_${n}_$round" "$bench" many "$port" "$ca" "$n"
        run "s_tool_${n}_$round" /usr/bin/python3 "$root/bench/rusage.py" \
            "$build/tools/wisp-stream/wisp-stream" "$spol" get --count "$n" --stats
    done
done
# Instructions do not depend on the machine's load: the repeatable check of
# "no quadratic paths" (the first 1,000 include the handshake; 4,000 add 3 resumed).
callgrind c_scale_1000 "$bench" many "$port" "$ca" 1000
callgrind c_scale_4000 "$bench" many "$port" "$ca" 4000
# bestof KEY FILE...: the smallest KEY value over the files (one per round).
bestof() {
    local k=$1
    shift
    cat "$@" | awk -v k="$k" '$1 == k && (m == "" || $2 < m) { m = $2 } END { print (m == "" ? "?" : m) }'
}
# best KIND N KEY: the smallest KEY value over the rounds of s_KIND_N.
best() {
    cat "$work"/s_"$1"_"$2"_[123].out | awk -v k="$3" '$1 == k && (m == "" || $2 < m) { m = $2 } END { print (m == "" ? "?" : m) }'
}
stop_nginx

# ---- Reading the results ------------------------------------------------------------

# val FILE KEY: the value of a "key value" line of a wisp-bench output.
val() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; f = 1 } END { if (!f) print "?" }' "$1"; }
# n N: thousands separators.
n() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }
# ratio A B: A/B to three digits, "?" if either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else printf "?" }'; }
# arith EXPR: integer arithmetic through awk ("?" propagates as an error).
arith() { awk "BEGIN { printf \"%d\", $1 }" 2>/dev/null || echo "?"; }
# peak FILE: "heap+extra heap" at massif's largest snapshot.
peak() {
    [ -s "$1" ] || { echo "? ?"; return; }
    awk -F= '/^mem_heap_B=/ { h = $2 } /^mem_heap_extra_B=/ { if (h + $2 > m) { m = h + $2; mh = h } }
             END { print m + 0, mh + 0 }' "$1"
}
# ir FILE: callgrind's total instruction count.
ir() { [ -s "$1" ] && awk '/^totals:/ { print $2 }' "$1" || echo "?"; }
# incl FILE FUNCTION: callgrind's inclusive instructions of FUNCTION (all calls).
incl() {
    [ -s "$1" ] || { echo "?"; return; }
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v fn=":$2 [" 'index($0, fn) && $2 ~ /^\(/ { v = $1; gsub(",", "", v); if (v + 0 > m) m = v + 0 }
                          END { if (m) print m; else print "?" }'
}
# conns LOG: "requests connections full-handshakes" from access-log lines.
conns() {
    awk '{ c[$9] = 1; r++; if ($11 == ".") full[$9] = 1 }
         END { printf "%d %d %d\n", r, length(c), length(full) }' "$1"
}
# ir_parts FILE: instructions by object, summed into the parts named below.
ir_parts() {
    callgrind_annotate --threshold=100 "$1" 2>/dev/null | awk '
        /^ *[0-9,]+ .*\[.*\]$/ {
            v = $1; gsub(",", "", v); o = $NF; gsub(/[][]/, "", o); sub(/.*\//, "", o)
            if (o ~ /^wisp-bench$/) p = "wisp + bench code"
            else if (o ~ /^libmbed/) p = "mbedTLS"
            else if (o ~ /^(libssl|libcrypto)/) p = "OpenSSL"
            else if (o ~ /^(libcurl|curl$)/) p = "curl + libcurl"
            else if (o ~ /^libc\.so/) p = "libc (malloc, ...)"
            else if (o ~ /^ld-linux/) p = "dynamic loader"
            else p = "other libraries"
            s[p] += v; t += v
        }
        END { for (p in s) printf "%d\t%s %.2f M (%.1f%%)\n", s[p], p, s[p] / 1e6, 100 * s[p] / t }' |
        sort -rn | cut -f2 | paste -sd ';' | sed 's/;/; /g'
}
# top FILE K: massif's peak snapshot as its K largest allocation sites: the first frame
# above the allocator wrappers, "wisp:" when it came through wisp's accounted allocator.
top() {
    [ -s "$1" ] || return 0
    awk '
    function is_wrapper(s) {
        return s ~ /^(wisp__alloc|wisp__zalloc|wisp__strndup|libc_alloc|cnt_alloc|CRYPTO_malloc|CRYPTO_zalloc|CRYPTO_realloc|CRYPTO_memdup|CRYPTO_strdup|CRYPTO_strndup|strdup|__strdup|strndup) /
    }
    /^heap_tree=peak/ { on = 1; skip = -1; next }
    /^heap_tree=/ || /^snapshot=/ { on = 0 }
    on && /^ *n[0-9]+: / {
        match($0, /^ */); d = RLENGTH
        if (d == 0) next
        if (skip >= 0 && d > skip) next
        skip = -1
        split($0, f, " "); b = f[2]
        s = $0; sub(/^ *n[0-9]+: [0-9]+ /, "", s); sub(/^0x[0-9A-Fa-f]+: /, "", s)
        if (is_wrapper(s) && $1 != "n0:") { via[d] = (s ~ /^(wisp__|libc_alloc|cnt_alloc)/) ? 1 : via[d - 1]; next }
        k = s
        if (k ~ /\(in \//) { lib = k; sub(/.*\//, "", lib); sub(/\)$/, "", lib); sub(/ \(in \/.*$/, "", k); k = k " [" lib "]" }
        sub(/ \([^()]*:[0-9]+\)$/, "", k)
        if (k ~ /^in [0-9]+ places?, /) k = "(sites below massif'"'"'s 1% threshold)"
        if (d > 1 && via[d - 1]) k = "wisp: " k
        sum[k] += b; skip = d
    }
    END { for (k in sum) printf "%d\t%s\n", sum[k], k }' "$1" | sort -rn | head -n "$2"
}

# owners FILE: massif's peak snapshot split by who allocated it.
owners() {
    top "$1" 100000 | awk -F'\t' '
        { k = $2
          if (k ~ /^wisp/) o = "wisp"
          else if (k ~ /\[libmbed/) o = "mbedTLS"
          else if (k ~ /^(mode_streams|mode_figures|make_policy|make_context|main)$/) o = "bench program"
          else if (k ~ /\[(libssl|libcrypto)/) o = "OpenSSL"
          else if (k ~ /\[(libcurl|curl)/) o = "curl"
          else o = "C library, other libraries, sites below 1%"
          s[o] += $1; t += $1 }
        END { for (o in s) printf "%d\t%s %d (%.0f%%)\n", s[o], o, s[o], 100 * s[o] / t }' |
        sort -rn | cut -f2 | paste -sd ';' | sed 's/;/; /g'
}

F=$work/figures.out
read -r mw_get mw_get_h <<<"$(peak "$work/massif.m_wisp_get")"
read -r mc_get mc_get_h <<<"$(peak "$work/massif.m_curl_get")"
read -r mw_many mw_many_h <<<"$(peak "$work/massif.m_wisp_many")"
read -r mc_many mc_many_h <<<"$(peak "$work/massif.m_curl_many")"
iw_get=$(ir "$work/callgrind.c_wisp_get")
ic_get=$(ir "$work/callgrind.c_curl_get")
ic12_get=$(ir "$work/callgrind.c_curl12_get")
iw_many=$(ir "$work/callgrind.c_wisp_many")
ic_many=$(ir "$work/callgrind.c_curl_many")
hw_get=$(incl "$work/callgrind.c_wisp_get" wisp__tls_handshake)
hw_many=$(incl "$work/callgrind.c_wisp_many" wisp__tls_handshake)
hc_get=$(incl "$work/callgrind.c_curl_get" SSL_connect)
hc12_get=$(incl "$work/callgrind.c_curl12_get" SSL_connect)
hc_many=$(incl "$work/callgrind.c_curl_many" SSL_connect)
ow_get=$(arith "$iw_get - $hw_get")
oc_get=$(arith "$ic_get - $hc_get")
ow_many=$(arith "$iw_many - $hw_many")
oc_many=$(arith "$ic_many - $hc_many")
read -r lw_req lw_conns lw_full <<<"$(conns "$work/m_wisp_many.log")"
read -r lc_req lc_conns lc_full <<<"$(conns "$work/m_curl_many.log")"
read -r _ lw1_conns lw1_full <<<"$(conns "$work/m_wisp_get.log")"
read -r _ lc1_conns lc1_full <<<"$(conns "$work/m_curl_get.log")"

W=$work/m_wisp_many.out
w_tx=$(val "$W" transactions)
w_hs=$(arith "$(val "$W" handshakes_full) + $(val "$W" handshakes_resumed)")
w_rph=$(awk -v t="$w_tx" -v h="$w_hs" 'BEGIN { if (h > 0) printf "%g", t / h; else print "?" }')
c_rph=$(awk -v t="$lc_req" -v h="$lc_conns" 'BEGIN { if (h > 0) printf "%g", t / h; else print "?" }')

h_ctx=$(val "$F" heap_context)
h_created=$(val "$F" heap_stream_created)
h_one=$(val "$F" heap_one_stream)
h_two=$(val "$F" heap_two_streams)
h_100=$(val "$F" heap_hundred_streams)
stream_b=$(arith "$h_two - $h_one")
stream_avg=$(arith "($h_100 - $h_one) / 99")
vhost_b=$(arith "$h_one - $h_ctx - $stream_b")
conn_b=$(arith "$(val "$F" heap_connected) - $h_created")
peak_get=$(val "$F" heap_peak_get)
after_get=$(arith "$(val "$F" heap_stream_idle_after_get) - $h_created")
delta_end=$(arith "$(val "$F" heap_after) - $h_ctx")
ka_held=$(arith "$(val "$F" ka_heap_idle) - $h_ctx")
ka_delta=$(arith "$(val "$F" ka_heap_after) - $h_ctx")
many_peak=$(val "$W" heap_peak)
per_stream_many=$(arith "($many_peak - $(val "$work/m_wisp_get.out" heap_peak)) / ($N - 1)")
KiB100=102400

verdict() { # verdict VALUE LIMIT: met / MISSED for value <= limit
    awk -v v="$1" -v l="$2" 'BEGIN { if (v == "?" || v == "") print "?"; else if (v + 0 <= l + 0) print "met"; else print "**MISSED**" }'
}
exact() { [ "$1" = "0" ] && echo "met" || echo "**MISSED**"; }
mio() { awk -v v="$1" 'BEGIN { if (v + 0 > 0) printf "%.2f M", v / 1e6; else print "?" }'; }

mbedtls_deb=$(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo "?")
curl_v=$(curl --version | head -n1 | awk '{ print $1, $2, $5 }')
nginx_v=$( (nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1) | sed 's/^nginx version: nginx\///' | head -n1)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

out=$work/results.md
{
echo "## Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Command: \`make bench\` (\`bench/run.sh $1\`). Machine: $(nproc) CPUs, $cpu;"
echo "$(uname -sr). mbedTLS $(val "$F" mbedtls) (Debian libmbedtls-dev $mbedtls_deb),"
echo "$curl_v, nginx $nginx_v (nginx-light), $(valgrind --version)."
echo "URL: \`$url\` (tests/interop fixture, P-256 server certificate); every byte figure is bytes."
if [ "${WISP_BENCH_AWAKE:-0}" = 1 ]; then
    echo "CPUs held out of their idle states for the whole run (\`bench/awake.sh\`, PM QoS)."
else
    echo "CPUs free to idle (not under \`bench/awake.sh\`): CPU figures of requests that wait on"
    echo "nginx include the wake-up from idle and move between runs."
fi
echo
echo "### One GET stream lifecycle"
echo
echo "| figure | wisp | curl | wisp / curl | target |"
echo "|---|---:|---:|---:|---|"
echo "| whole-process peak heap, massif (mem_heap_B + mem_heap_extra_B) | $(n "$mw_get") | $(n "$mc_get") | $(ratio "$mw_get" "$mc_get") | ≤ 100 KiB ($(n $KiB100)): $(verdict "$mw_get" $KiB100) |"
echo "| the same, mem_heap_B alone | $(n "$mw_get_h") | $(n "$mc_get_h") | $(ratio "$mw_get_h" "$mc_get_h") | |"
echo "| instructions, callgrind (whole process) | $(mio "$iw_get") | $(mio "$ic_get") | $(ratio "$iw_get" "$ic_get") | |"
echo "| instructions, curl held to TLS 1.2 (\`--tls-max 1.2\`) | $(mio "$iw_get") | $(mio "$ic12_get") | $(ratio "$iw_get" "$ic12_get") | |"
echo "| ... of which the TLS handshake (inclusive: \`wisp__tls_handshake\` / \`SSL_connect\`) | $(mio "$hw_get") | $(mio "$hc_get") | $(ratio "$hw_get" "$hc_get") | |"
echo "| ... the same, curl held to TLS 1.2 | $(mio "$hw_get") | $(mio "$hc12_get") | $(ratio "$hw_get" "$hc12_get") | |"
echo "| ... everything else (start-up, policy, DNS, HTTP, records, teardown) | $(mio "$ow_get") | $(mio "$oc_get") | $(ratio "$ow_get" "$oc_get") | |"
echo "| TLS connections / full handshakes seen by nginx | $lw1_conns / $lw1_full | $lc1_conns / $lc1_full | | |"
echo
echo "Instructions by part — wisp: $(ir_parts "$work/callgrind.c_wisp_get")."
echo "curl: $(ir_parts "$work/callgrind.c_curl_get")."
echo
echo "### wisp's own heap (accounted allocator; every block includes wisp's 16-byte header)"
echo
echo "mbedTLS allocates with calloc directly in this build (Debian's config has no"
echo "MBEDTLS_PLATFORM_MEMORY), so these figures are wisp's alone: the mbedTLS *structs* wisp"
echo "embeds are counted, what mbedTLS allocates behind them (record buffers, parsed peer"
echo "certificates, bignums) is not."
echo
echo "| what | bytes | target |"
echo "|---|---:|---|"
echo "| context block (from the allocator, outside heap_in_use by design) | $(n "$(val "$F" context_block)") | |"
echo "| policy, loaded (heap_in_use of the idle context) | $(n "$h_ctx") | |"
echo "| **one stream** (struct, embedded h1 transaction and timers, 1 metadata slot) | **$(n "$stream_b")** (mean of 99 more: $(n "$stream_avg")) | ≤ 1 KiB: $(verdict "$stream_b" 1024) |"
echo "| heap_in_use with one stream alive minus before it (the stream and the vhost it brought up) | $(n "$(arith "$h_created - $h_ctx")") | |"
echo "| vhost, brought up by the first stream of its trust store (vhost, TLS config with the ssl_config and x509_crt structs, DRBG) | $(n "$vhost_b") | |"
echo "| connection, at CONNECTED (object with request buffer and response parser, TLS object with ssl_context, socket, host) | $(n "$conn_b") | |"
echo "| stream + vhost + connection: heap_peak of one whole GET minus the idle context | $(n "$(arith "$peak_get - $h_ctx")") | |"
echo "| idle stream after its GET, beyond the fresh one (metadata value, cached TLS session on the vhost) | $(n "$after_get") | |"
echo "| heap after the stream ends minus before it started (keepalive_ms 0, linger_ms 0) | $delta_end | exactly 0: $(exact "$delta_end") |"
echo "| held right after the stream ends with keepalive_ms 300 (idle connection + vhost) | $(n "$ka_held") | |"
echo "| ... after the keep-alive closed ($(val "$F" ka_settle_ms) ms later), minus before | $ka_delta | exactly 0: $(exact "$ka_delta") |"
echo "| allocations / frees in one GET lifecycle (create to settled) | $(val "$F" allocs_get) / $(val "$F" frees_get) | |"
echo "| after wisp_context_destroy (counting allocator) | $(val "$F" heap_after_context_destroy) | 0 |"
echo
echo "### $N streams at once to one endpoint (curl: $N URLs in one invocation)"
echo
echo "| figure | wisp | curl | wisp / curl | target |"
echo "|---|---:|---:|---:|---|"
echo "| requests per TLS handshake | $w_rph ($w_tx transactions / $w_hs handshakes, stats) | $c_rph (nginx log) | | $N: $( [ "$w_rph" = "$N" ] && echo met || echo '**MISSED**') |"
echo "| TLS connections / full handshakes seen by nginx | $lw_conns / $lw_full ($lw_req requests) | $lc_conns / $lc_full ($lc_req requests) | | |"
echo "| whole-process peak heap, massif (heap + extra) | $(n "$mw_many") | $(n "$mc_many") | $(ratio "$mw_many" "$mc_many") | ≤ 100 KiB: $(verdict "$mw_many" $KiB100) |"
echo "| the same, mem_heap_B alone | $(n "$mw_many_h") | $(n "$mc_many_h") | $(ratio "$mw_many_h" "$mc_many_h") | |"
echo "| wisp accounted heap_peak (policy included) | $(n "$many_peak") | | | |"
echo "| wisp accounted heap per extra stream ((peak$N − peak1) / $((N - 1))) | $(n "$per_stream_many") | | | ≤ 1 KiB: $(verdict "$per_stream_many" 1024) |"
echo "| instructions, callgrind | $(mio "$iw_many") | $(mio "$ic_many") | $(ratio "$iw_many" "$ic_many") | |"
echo "| ... outside the TLS handshake | $(mio "$ow_many") | $(mio "$oc_many") | $(ratio "$ow_many" "$oc_many") | |"
echo "| instructions per extra request, outside the handshake ((Ir$N − Ir1) / $((N - 1))) | $(n "$(arith "($ow_many - $ow_get) / ($N - 1)")") | $(n "$(arith "($oc_many - $oc_get) / ($N - 1)")") | $(ratio "$(arith "$ow_many - $ow_get")" "$(arith "$oc_many - $oc_get")") | |"
echo
ms() { awk -v v="$1" 'BEGIN { if (v + 0 > 0) printf "%.1f", v / 1000; else print "?" }'; }
wc_wall=$(bestof wall_us "$work"/w_curl_*.out)
wq_wall=$(bestof wall_us "$work"/w_queued_*.out)
wp_wall=$(bestof wall_us "$work"/w_piped_*.out)
wc_cpu=$(bestof cpu_us "$work"/w_curl_*.out)
wq_cpu=$(bestof cpu_us "$work"/w_queued_*.out)
wp_cpu=$(bestof cpu_us "$work"/w_piped_*.out)
cat "$work"/w_piped_*.log >"$work/w_piped.log"
read -r wp_req wp_conns _ <<<"$(conns "$work/w_piped.log")"
wp_p=$(awk '$NF == "p"' "$work/w_piped.log" | wc -l)
read -r wq_req wq_conns _ <<<"$(conns "$work/w_queued_1.log")"
read -r wc_req wc_conns _ <<<"$(conns "$work/w_curl_1.log")"
echo "### Wall time: $N GETs of 1 KiB to one endpoint (curl: $N URLs in one invocation)"
echo
echo "Whole processes (\`bench/rusage.py\`), best of $WALL_ROUNDS interleaved rounds; wisp through"
echo "\`wisp-stream POLICY TYPE --count $N\`, the two types differing only in \`pipeline_depth\`."
echo "URL \`/1k\`: 1,024 bytes of body. Client and nginx share the machine's CPUs."
echo
echo "| figure | wisp queued (depth 1) | wisp pipelined (depth 8) | curl | queued / curl | pipelined / curl | target |"
echo "|---|---:|---:|---:|---:|---:|---|"
echo "| wall ms | $(ms "$wq_wall") | $(ms "$wp_wall") | $(ms "$wc_wall") | $(ratio "$wq_wall" "$wc_wall") | $(ratio "$wp_wall" "$wc_wall") | pipelined ≤ 0.5× curl: $(verdict "$(ratio "$wp_wall" "$wc_wall")" 0.5) |"
echo "| CPU ms (user + system) | $(ms "$wq_cpu") | $(ms "$wp_cpu") | $(ms "$wc_cpu") | $(ratio "$wq_cpu" "$wc_cpu") | $(ratio "$wp_cpu" "$wc_cpu") | |"
echo "| connections / requests seen by nginx (round 1) | $wq_conns / $wq_req | $(arith "$wp_conns / $WALL_ROUNDS") / $(arith "$wp_req / $WALL_ROUNDS") (mean) | $wc_conns / $wc_req | | | |"
echo "| requests nginx found buffered behind the previous (\`\$pipe\` p), all rounds | | $wp_p of $wp_req | | | | |"
echo
echo "### Scaling: N streams queued at once on one endpoint"
echo
echo "Best of three interleaved rounds. Wall and CPU from creating the streams to the"
echo "last response (bench loop:"
echo "\`wisp-bench many\`, CPU from getrusage; wisp-stream: the whole process, from"
echo "\`bench/rusage.py\`). Heap: wisp's accounted heap_peak above the idle context, per stream."
echo
echo "| N | bench wall ms | bench CPU µs / stream | heap_peak / stream (B) | wisp-stream wall ms | wisp-stream CPU µs / stream |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $SCALES; do
    B=$work/s_bench_${n}_1.out
    echo "| $(n "$n") | $(arith "$(best bench "$n" wall_us) / 1000") | $(arith "$(best bench "$n" cpu_us) / $n") | $(arith "($(val "$B" heap_peak) - $(val "$B" heap_before)) / $n") | $(arith "$(best tool "$n" wall_us) / 1000") | $(arith "$(best tool "$n" cpu_us) / $n") |"
done
b1k=$(arith "$(best bench 1000 cpu_us) * 10")
b10k=$(best bench 10000 cpu_us)
t1k=$(arith "$(best tool 1000 cpu_us) * 10")
t10k=$(best tool 10000 cpu_us)
echo
i1k=$(ir "$work/callgrind.c_scale_1000")
i4k=$(ir "$work/callgrind.c_scale_4000")
h1k=$(incl "$work/callgrind.c_scale_1000" wisp__tls_handshake)
echo "Instructions (callgrind, repeatable): 1,000 streams $(mio "$i1k"), 4,000 streams $(mio "$i4k");"
echo "per stream outside the handshake, first 1,000: $(n "$(arith "($i1k - $h1k) / 1000")"); each of the 3,000 more: $(n "$(arith "($i4k - $i1k) / 3000")") (their 3 resumed handshakes included)."
echo
echo "CPU per stream at 10,000 over 1,000: bench loop $(ratio "$b10k" "$b1k"), wisp-stream $(ratio "$t10k" "$t1k") (target: within 1.2)."
echo
for pair in "m_wisp_get:wisp, one GET" "m_wisp_many:wisp, $N streams" "m_curl_get:curl, one GET"; do
    f=${pair%%:*}
    echo "Top allocation sites at massif's peak — ${pair#*:}:"
    echo
    echo "By owner: $(n "$(owners "$work/massif.$f")")."
    echo
    echo "| bytes | site |"
    echo "|---:|---|"
    top "$work/massif.$f" 8 | while IFS=$'\t' read -r b s; do echo "| $(n "$b") | \`$s\` |"; done
    echo
done
if [ -n "$failed" ]; then
    echo "**Runs that failed:**$failed (see $work)."
fi
} >"$out"
cat "$out"
[ -z "$failed" ]
