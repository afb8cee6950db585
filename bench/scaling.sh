#!/bin/bash
# bench/scaling.sh BUILD_DIR [--quick] [--update RESULTS.md] — issue 13 §4, "show it":
# wall time and CPU against the number of streams, drawn as bench/scaling.png.
#
# N GETs of /hello (17 bytes) to one endpoint, the nginx fixture of tests/interop on a
# free loopback port, N = 10, 100, 1,000, 10,000, four ways, each a whole process timed
# by bench/rusage.py (wall, and user + system CPU of the child):
#   queued    wisp-stream --count N, reuse on, pipeline_depth 1: one connection, the
#             requests one after another (nginx closes it after 1,000 requests,
#             keepalive_requests, so 10,000 also cross 9 reconnects with resumption)
#   piped     the same with pipeline_depth 8
#   perconn   the same with reuse off: N connections at once, N full handshakes
#   curl      curl -s --cacert CA URL×N, one invocation (one connection, reused)
# Rounds are interleaved (wisp and curl alternate within a round) and each figure is
# the best of its rounds: a shared machine's noise only ever adds time. 3 rounds, but
# perconn at 10,000 only in the first (10,000 connections at once, about a minute of
# CPU). The load average is recorded at the start, before each N and at the end.
#
# Writes BUILD_DIR/bench/scaling/scaling.dat (one row per N, the best figures),
# runs gnuplot with bench/scaling.gp into bench/scaling.png (the committed figure)
# and prints a Markdown section on stdout; --update FILE replaces that section of
# FILE between its <!-- scaling --> markers. --quick: N up to 1,000, one round, the
# PNG under BUILD_DIR only (a smoke run, about 30 s; not with --update). Exit status non-zero only when a
# run went wrong (a non-zero exit of wisp-stream or curl, a tool missing).
# Environment: WISP_BENCH_PORT picks the port (it and the 7 above must be free).
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--quick] [--update RESULTS.md]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
quick=0
update=""
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --update)
        [ $# -ge 2 ] || usage
        update=$2
        shift
        ;;
    *) usage ;;
    esac
    shift
done
if [ "$quick" = 1 ] && [ -n "$update" ]; then
    echo "scaling.sh: --quick draws no committed plot, so it updates no RESULTS.md" >&2
    exit 2
fi

ca=$root/tests/certs/ca.pem
work=$build/bench/scaling
ngx=$work/nginx
wstream=$build/tools/wisp-stream/wisp-stream
rusage="/usr/bin/python3 $root/bench/rusage.py"
if [ "$quick" = 1 ]; then
    SCALES="10 100 1000"
    png=$work/scaling.png
else
    SCALES="10 100 1000 10000"
    png=$root/bench/scaling.png
fi
KINDS="queued piped perconn curl"
# rounds: how many interleaved rounds; perconn at 10,000 runs in the first only.
rounds() { if [ "$quick" = 1 ]; then echo 1; else echo 3; fi; }

for tool in curl gnuplot nginx; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "scaling.sh: $tool not found (scripts/install-deps.sh installs it)" >&2
        exit 1
    }
done
[ -x "$wstream" ] || cmake --build "$build" --target wisp-stream
mkdir -p "$work" "$ngx"
rm -f "$work"/*.out "$work"/*.err

# ---- nginx on a free port, enough connections for perconn ---------------------------

# shellcheck source=bench/nginx-free-port.sh
. "$root/bench/nginx-free-port.sh"
export WISP_NGINX_WORKER_CONNECTIONS=10240
start_nginx scaling.sh
url="https://localhost:$port/hello"

# The three wisp stream types differ only in reuse and pipeline_depth. Timeouts are
# generous: perconn's 10,000 connections wait for their handshakes one after another.
pol=$work/scaling-policy.json
common="\"endpoint\": \"localhost\", \"port\": $port, \"trust_store\": \"test\", \"url\": \"/hello\", \"timeout_ms\": 900000, \"connect_timeout_ms\": 900000"
cat >"$pol" <<EOF
{ "schema": 1,
  "certs": { "ca": "$(awk '{ printf "%s\\n", $0 }' "$ca")" },
  "trust_stores": { "test": { "certs": ["ca"] } },
  "streams": {
    "queued": { $common },
    "piped": { $common, "pipeline_depth": 8 },
    "perconn": { $common, "reuse": false } } }
EOF
# A curl config file with N url lines: the same as N URLs on the command line.
for n in $SCALES; do
    awk -v n="$n" -v u="$url" 'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\n", u }' \
        >"$work/curl-$n.conf"
done

ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "?" }'; }
n() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9.]\)/\1,\2\3/' -e 'ta'; }

failed=""
# measure KIND N ROUND: one timed run, its rusage lines in $work/KIND_N_ROUND.out.
measure() {
    local kind=$1 n=$2 r=$3 out=$work/$1_$2_$3 rc=0
    if [ "$kind" = curl ]; then
        $rusage curl -s --cacert "$ca" -K "$work/curl-$n.conf" >"$out.out" 2>"$out.err" || rc=$?
    else
        $rusage "$wstream" "$pol" "$kind" --count "$n" --stats >"$out.out" 2>"$out.err" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        failed="$failed ${kind}_$n(exit $rc)"
        echo "scaling.sh: $kind with $n streams failed (exit $rc), see $out.err" >&2
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "scaling.sh: nginx on 127.0.0.1:$port, load average $load_before; measuring" >&2
t_start=$(date +%s)
loads="" # the 1-minute load average before each N, "N=L ..."
for n in $SCALES; do
    loads="$loads${loads:+, }$(n "$n"): $(cut -d' ' -f1 /proc/loadavg)"
    for ((r = 1; r <= $(rounds "$n"); r++)); do
        # Interleaved: curl between the wisp runs, the order turning with the round.
        case $((r % 2)) in
        1) order="queued curl piped perconn" ;;
        *) order="perconn piped curl queued" ;;
        esac
        for kind in $order; do
            [ "$kind" != perconn ] || [ "$n" -lt 10000 ] || [ "$r" -eq 1 ] || continue
            measure "$kind" "$n" "$r"
        done
    done
    echo "scaling.sh: $n streams done ($(($(date +%s) - t_start)) s)" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop_nginx

# ---- The table, the data file, the plot ---------------------------------------------

# best KIND N KEY: the smallest KEY over the rounds of KIND at N ("?" if none).
best() {
    cat "$work/$1_$2"_*.out 2>/dev/null |
        awk -v k="$3" '$1 == k && (m == "" || $2 + 0 < m + 0) { m = $2 } END { print (m == "" ? "?" : m) }'
}
# stat KIND N KEY: KEY of the --stats JSON of KIND's first round at N.
stat() { grep -o "\"$3\":[0-9]*" "$work/$1_$2_1.err" 2>/dev/null | tail -n 1 | cut -d: -f2 || true; }

dat=$work/scaling.dat
{
    echo "# bench/scaling.sh $started, load average $load_before -> $load_after"
    echo "# N  wall_ms: queued piped perconn curl  cpu_ms: queued piped perconn curl"
    for n in $SCALES; do
        row="$n"
        for key in wall_us cpu_us; do
            for kind in $KINDS; do
                row="$row $(ms "$(best "$kind" "$n" "$key")")"
            done
        done
        echo "$row"
    done
} >"$dat"

if [ "$quick" = 1 ]; then rounds_text="one round (--quick)"; else rounds_text="best of 3 interleaved rounds (perconn at 10,000: 1)"; fi
machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
gnuplot -e "datafile='$dat'; outfile='$png'; subtitle='$started, $machine, shared: 1-min load average before each N ($loads), $load_after at the end; $rounds_text'" \
    "$root/bench/scaling.gp"

# ---- The report ---------------------------------------------------------------------

report=$work/section.md
{
    echo "<!-- scaling: generated by bench/scaling.sh; do not edit by hand -->"
    echo "## Scaling: wall time and CPU against the number of streams"
    echo
    echo "Run of $started."
    echo
    echo "![wall time and CPU against the number of streams](scaling.png)"
    echo
    echo "Command: \`bench/scaling.sh build --update bench/RESULTS.md\` (part of \`make bench\`;"
    echo "how it measures is in the script's header). N GETs of \`/hello\` (17 bytes) to one"
    echo "endpoint, the nginx fixture on loopback; each figure a whole process"
    echo "(\`bench/rusage.py\`: wall, and user + system CPU of the child), $rounds_text"
    echo "(wisp and curl alternating within a round). wisp: \`wisp-stream"
    echo "POLICY TYPE --count N\`, the types differing only in \`pipeline_depth\` (queued 1,"
    echo "piped 8) and \`reuse\` (perconn: off, one connection and one full handshake per"
    echo "stream); curl: \`curl -s --cacert CA -K FILE\`, N \`url\` lines in one invocation."
    if [ "${WISP_BENCH_AWAKE:-0}" = 1 ]; then
        echo "CPUs held out of their idle states for the whole run (\`bench/awake.sh\`, PM QoS)."
    else
        echo "CPUs free to idle (not under \`bench/awake.sh\`)."
    fi
    echo "Machine: $machine; $(uname -sr). curl $(curl --version | head -n 1 | cut -d' ' -f2),"
    echo "nginx $("${WISP_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}" -v 2>&1 | sed 's|.*/||'). Load average (\`/proc/loadavg\`, 1/5/15 min):"
    echo "$load_before at the start, $load_after at the end; the 1-minute figure before each N:"
    echo "$loads. The machine is shared, so the absolute times are inflated and noisy; wisp"
    echo "and curl ran interleaved under the same load, so the ratios below (of the best"
    echo "figures) are the figure. perconn at 10,000 is a handshake per stream; its names"
    echo "resolve on the POSIX port's pool of at most 8 resolver threads"
    echo "(\`lib/plat/posix/posix.c\`; until 2026-12-03 a thread per connection, and the"
    echo "10,000 run drove the load average to about 1,500)."
    echo
    echo "| N | queued wall ms | piped wall ms | perconn wall ms | curl wall ms | queued CPU ms | piped CPU ms | perconn CPU ms | curl CPU ms |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    grep -v '^#' "$dat" | while read -r row; do
        # shellcheck disable=SC2086 # the row's fields
        set -- $row
        echo "| $(n "$1") | $(n "$2") | $(n "$3") | $(n "$4") | $(n "$5") | $(n "$6") | $(n "$7") | $(n "$8") | $(n "$9") |"
    done
    echo
    echo "Ratios to curl (wall / wall, CPU / CPU):"
    echo
    echo "| N | queued wall | piped wall | perconn wall | queued CPU | piped CPU | perconn CPU |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    grep -v '^#' "$dat" | while read -r row; do
        # shellcheck disable=SC2086
        set -- $row
        echo "| $(n "$1") | $(ratio "$2" "$5") | $(ratio "$3" "$5") | $(ratio "$4" "$5") | $(ratio "$6" "$9") | $(ratio "$7" "$9") | $(ratio "$8" "$9") |"
    done
    echo
    echo "wisp's stats of the first round (connections opened, full / resumed handshakes):"
    echo
    echo "| N | queued | piped | perconn |"
    echo "|---:|---|---|---|"
    for nn in $SCALES; do
        line="| $(n "$nn") |"
        for kind in queued piped perconn; do
            line="$line $(stat "$kind" "$nn" conns_opened) conns, $(stat "$kind" "$nn" handshakes_full) / $(stat "$kind" "$nn" handshakes_resumed) |"
        done
        echo "$line"
    done
    if [ -n "$failed" ]; then
        echo
        echo "**Failed runs:**$failed"
    fi
    echo "<!-- /scaling -->"
} >"$report"
cat "$report"

if [ -n "$update" ]; then
    /usr/bin/python3 "$root/bench/update-section.py" "$update" scaling <"$report"
    echo "scaling.sh: section updated in $update" >&2
fi
echo "scaling.sh: plot in $png, data in $dat" >&2
[ -z "$failed" ]
