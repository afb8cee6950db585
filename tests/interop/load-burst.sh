#!/bin/bash
# A burst of new TLS connections against wisp's server (issue 9).
#
#   tests/interop/load-burst.sh SERVER POLICY CA WORKDIR [TOTAL] [CONCURRENCY]
#
# TOTAL (1000) fresh TLS connections from CONCURRENCY (50) clients at once, no session
# reuse (burst.py), each one GET /count with Connection: close. Passes when every
# connection was served whole and none reset, the server counted exactly TOTAL
# requests (+1, the check's own) and TOTAL full handshakes, none resumed, refused
# none, and exited 0 after SIGTERM with no connection left.
set -eu

[ $# -ge 4 ] || { echo "usage: $0 SERVER POLICY CA WORKDIR [TOTAL] [CONCURRENCY]" >&2; exit 2; }
server=$1 policy=$2 ca=$3 work=$4 total=${5:-1000} conc=${6:-50}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/srvtest.sh
. "$here/srvtest.sh"

rm -rf "$work"
mkdir -p "$work"
trap 'srv_stop >/dev/null 2>&1 || true' EXIT
srv_start "$work/server" "$server" "$policy"
echo "wisp-server at $SRV_URL; $total new TLS connections, $conc at once"

fail=0
/usr/bin/python3 "$here/burst.py" 127.0.0.1 "$SRV_PORT" "$ca" "$total" "$conc" /count || fail=1

counted=$(curl -sS --max-time 5 --cacert "$ca" "${SRV_URL}count" | sed -n 's/^{"count":\([0-9]*\),.*/\1/p')
echo "server /count: ${counted:-?}"
if [ "${counted:-0}" != $((total + 1)) ]; then
    echo "FAIL: the server counted ${counted:-no} requests, not $((total + 1))" >&2
    fail=1
fi
srv_stop
srv_check_exit || fail=1
for k in "handshakes_full $((total + 1))" "handshakes_resumed 0" "conns_refused 0"; do
    # shellcheck disable=SC2086
    set -- $k
    if [ "$(srv_stat "$1")" != "$2" ]; then
        echo "FAIL: $1 $(srv_stat "$1"), not $2" >&2
        fail=1
    fi
done
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
