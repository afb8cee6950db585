#!/bin/sh
# The ctest example_client_queue: test.sh BIN POLICY. Runs the example with 100
# streams against the nginx fixture and checks the counts it prints: 100
# transactions answered 200 on 1 TCP connection with 1 full handshake, and some
# requests pipelined (the policy's pipeline_depth 8; the first requests are written
# back to back as soon as the handshake is done, before any response can be read).
set -u
out=$("$1" "$2" 100)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc"; exit 1; }
check() {
    echo "$out" | grep -Eq "$1" || { echo "FAIL: no line /$1/"; exit 1; }
}
check '^transactions +100 \(100 answered 200, 0 failed\)$'
check '^TCP connections +1$'
check '^TLS handshakes +1 full, 0 resumed$'
check '^pipelined requests +[1-9][0-9]* '
check '^peak heap +[1-9][0-9]* bytes'
echo "ok: 100 transactions, 1 connection, 1 full handshake, requests pipelined"
