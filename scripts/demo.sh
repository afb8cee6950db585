#!/bin/sh
# make demo: run the minimal examples against local servers on loopback and print
# what happened. Usage: scripts/demo.sh BUILD_DIR
#
# The stream examples and wisp-stream talk to nginx on 127.0.0.1:8443 (the port in
# the examples' policy.json files), started from tests/interop/nginx.sh with the test
# PKI of tests/certs/ and stopped again when this script exits.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
examples=$build/minimal-examples
stream=$build/tools/wisp-stream/wisp-stream
port=8443
ngx=$build/demo-nginx

echo "== tls-loopback: wisp TLS client and server on one loop (127.0.0.1) =="
"$examples/tls-loopback/wisp-tls-loopback" "$root/tests/certs" 1048576

# --- nginx on loopback ----------------------------------------------------------
stop_nginx() { "$root/tests/interop/nginx.sh" stop "$ngx" >/dev/null 2>&1 || true; }
trap stop_nginx EXIT
trap 'exit 130' INT TERM
echo
echo "== nginx on 127.0.0.1:$port (tests/interop/nginx.sh, logs in $ngx) =="
"$root/tests/interop/nginx.sh" start "$ngx" "$port"

# stat_of KEY FILE: a number from the stats JSON line in FILE.
stat_of() { grep -o "\"$1\":[0-9]*" "$2" | tail -1 | cut -d: -f2; }
tmp=$(mktemp -d)
trap 'stop_nginx; rm -rf "$tmp"' EXIT

echo
echo "== client-get: one GET; status, a response header through metadata, the body =="
"$examples/client-get/wisp-client-get"

echo
echo "== client-post: a body from the tx callback, with Content-Length, then chunked =="
"$examples/client-post/wisp-client-post"
echo "nginx saw (method uri status request_length \"transfer-encoding\" \"body length\"):"
tail -n 2 "$ngx/access.log" | awk '{ print "   ", $2, $3, $4, $5, $7, $8 }'

if [ -x "$examples/client-static-policy/wisp-client-static-policy" ]; then
    echo
    echo "== client-static-policy: the same GET, the policy compiled into const C =="
    "$examples/client-static-policy/wisp-client-static-policy"
fi

echo
echo "== lazy-vhosts: three trust stores, a vhost only while a stream needs it =="
"$examples/lazy-vhosts/wisp-lazy-vhosts"

echo
echo "== wisp-stream: any stream type of a policy from the shell =="
policy=$root/minimal-examples/client-get/policy.json
echo "\$ wisp-stream minimal-examples/client-get/policy.json hello -v"
"$stream" "$policy" hello -v 2>&1

echo
echo "\$ wisp-stream minimal-examples/client-get/policy.json hello --count 10 --stats"
echo "(at exit the idle kept-alive connection is closed at once: wisp_context_close_idle)"
before=$(wc -l <"$ngx/access.log")
"$stream" "$policy" hello --count 10 --stats -v >"$tmp/out" 2>"$tmp/err"
echo "$(grep -c 'hello from nginx' "$tmp/out") bodies on stdout; stats on stderr:"
grep '^{' "$tmp/err"
policy_heap=$(sed -n 's/^\* policy .*: \([0-9]*\) bytes of heap$/\1/p' "$tmp/err")
conns=$(tail -n +$((before + 1)) "$ngx/access.log" | awk '{ print $9 }' | sort -u | wc -l)
s() { stat_of "$1" "$tmp/err"; }
echo "what happened:"
echo "  streams      10 created at once, $(s transactions) transactions"
echo "  connections  $(s conns_opened) opened; nginx saw the requests on $conns connection(s)"
echo "  handshakes   $(s handshakes_full) full, $(s handshakes_resumed) resumed;" \
    "$(s reuses) transactions reused a connection"
echo "  vhosts       $(s vhosts_created) created, $(s vhosts_destroyed) destroyed," \
    "$(s vhosts_live) live at exit"
echo "  heap         peak $(s heap_peak) bytes; at exit $(s heap_in_use)," \
    "the parsed policy's own $policy_heap"
echo "               (wisp's own allocations; Debian's mbedTLS allocates from libc)"
