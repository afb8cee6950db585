#!/bin/bash
# wrk against wisp's server (issue 9): 50 keep-alive connections for 10 s on /count.
#
#   tests/interop/load-wrk.sh SERVER POLICY CA WORKDIR [SECONDS] [CONNECTIONS]
#
# Passes when wrk reports no socket error of any kind (connect, read, write, timeout)
# and no non-2xx response, made at least one request per connection, its request
# count agrees with the server's (/count, which also counts itself) and the server
# exits 0 after SIGTERM with no connection left. wrk verifies no certificate; the
# trust path is chromium.sh's and curl's business, this is about load.
set -eu

[ $# -ge 4 ] || { echo "usage: $0 SERVER POLICY CA WORKDIR [SECONDS] [CONNECTIONS]" >&2; exit 2; }
server=$1 policy=$2 ca=$3 work=$4 secs=${5:-10} conns=${6:-50}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/srvtest.sh
. "$here/srvtest.sh"
command -v wrk >/dev/null || { echo "wrk not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
trap 'srv_stop >/dev/null 2>&1 || true' EXIT
srv_start "$work/server" "$server" "$policy"
echo "wisp-server at $SRV_URL; wrk -t2 -c$conns -d${secs}s ${SRV_URL}count"

fail=0
wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s "${SRV_URL}count" >"$work/wrk.out" 2>&1 || {
    echo "FAIL: wrk exited non-zero" >&2
    fail=1
}
cat "$work/wrk.out"

# "  12345 requests in 10.00s, 1.2MB read"; "Socket errors: connect 0, read 1, ...";
# "Non-2xx or 3xx responses: 7" (both lines only when not zero).
requests=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/wrk.out")
if grep -q 'Socket errors' "$work/wrk.out"; then
    echo "FAIL: socket errors" >&2
    fail=1
fi
if grep -q 'Non-2xx' "$work/wrk.out"; then
    echo "FAIL: non-2xx responses" >&2
    fail=1
fi
if [ -z "$requests" ] || [ "$requests" -lt "$conns" ]; then
    echo "FAIL: wrk made ${requests:-no} requests" >&2
    fail=1
fi
# wrk counts only the answers it read; the server may have answered a few more that
# wrk dropped unread when its time was up (at most one per connection).
counted=$(curl -sS --max-time 5 --cacert "$ca" "${SRV_URL}count" | sed -n 's/^{"count":\([0-9]*\),.*/\1/p')
echo "server /count: ${counted:-?} (wrk: ${requests:-?} + this one)"
if [ -z "$counted" ] || [ -z "$requests" ] || [ "$counted" -lt $((requests + 1)) ] ||
    [ "$counted" -gt $((requests + 1 + conns)) ]; then
    echo "FAIL: the server's count and wrk's disagree" >&2
    fail=1
fi

srv_stop
srv_check_exit || fail=1
if [ "$(srv_stat conns_refused)" != 0 ]; then
    echo "FAIL: conns_refused $(srv_stat conns_refused)" >&2
    fail=1
fi
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
