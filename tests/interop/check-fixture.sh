#!/bin/bash
# Proves the nginx fixture and the test PKI with curl and openssl s_client, before
# any wisp code is trusted to talk to them.
#
#   tests/interop/check-fixture.sh DIR PORT      (after nginx.sh start DIR PORT)
#
# Prints one "ok"/"FAIL" line per check and exits non-zero if any check failed.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
dir=$(cd "$1" && pwd)
port=$2
here=$(cd "$(dirname "$0")" && pwd)
certs=$(cd "${WISP_TEST_CERTS:-$here/../certs}" && pwd)
ca=$certs/ca.pem
# Loopback only: never go through a proxy from the environment.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok   - $*"; }
fail() {
    echo "FAIL - $*"
    failed=$((failed + 1))
}
# expect ACTUAL WANTED DESCRIPTION
expect() {
    if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: got '$1', want '$2'"; fi
}

# c ARGS...: curl trusting the test CA, bounded in time, localhost on IPv4.
c() {
    curl -s --max-time 20 --cacert "$ca" --resolve "localhost:$port:127.0.0.1" "$@"
}
url=https://localhost:$port
# curl_rc PORT: curl's exit status for GET /hello on PORT (60: verification failed).
curl_rc() {
    local rc=0
    curl -s --max-time 10 -o /dev/null --cacert "$ca" \
        --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/hello" || rc=$?
    echo "$rc"
}
# s_client PORT ARGS...: a TLS 1.2 handshake with the verification result on stdout.
s_client() {
    local p=$1
    shift
    timeout 10 openssl s_client -connect "127.0.0.1:$p" -servername localhost \
        -tls1_2 "$@" </dev/null 2>&1 || true
}
# tls_expect DESCRIPTION PATTERN PORT ARGS...: s_client's output must match PATTERN.
tls_expect() {
    local what=$1 pattern=$2
    shift 2
    s_client "$@" >"$tmp/tls"
    if grep -q "$pattern" "$tmp/tls"; then ok "$what"; else
        fail "$what"
        grep -iE 'verify|error|reused|public key' "$tmp/tls" | sed 's/^/       /'
    fi
}
sha() { sha256sum | cut -c1-64; }

# --- the main server, every location ---------------------------------------
expect "$(c "$url/hello")" "hello from nginx" "GET /hello body"
expect "$(c "$url/")" "hello from nginx" "GET / body"
expect "$(c -o /dev/null -w '%{http_code}' "$url/hello")" 200 "GET /hello status"
expect "$(c -D - -o /dev/null "$url/hello" | tr -d '\r' | grep -i '^x-wisp-test:')" \
    "x-wisp-test: 42" "x-wisp-test response header"
expect "$(c -I -w '%{http_code} %{size_download}' -o /dev/null "$url/hello")" "200 0" \
    "HEAD /hello: 200, no body"
expect "$(curl -s --max-time 10 --cacert "$ca" "https://127.0.0.1:$port/hello")" \
    "hello from nginx" "GET https://127.0.0.1 (IP SAN)"
if [ -f "$dir/ipv6" ]; then
    expect "$(curl -s --max-time 10 --cacert "$ca" "https://[::1]:$port/hello")" \
        "hello from nginx" "GET https://[::1] (IPv6, IP SAN)"
else
    echo "skip - no ::1 on this machine, IPv6 listeners not configured"
fi

for s in 404 204 500 503 301; do
    expect "$(c -o /dev/null -w '%{http_code}' "$url/status/$s")" "$s" "GET /status/$s"
done
expect "$(c -w '%{http_code} %{size_download}' -o /dev/null "$url/status/204")" "204 0" \
    "204 has no body"
expect "$(c -o /dev/null -w '%{redirect_url}' "$url/status/301")" "$url/hello" \
    "301 Location"

expect "$(c "$url/big" | sha)" "$(cat "$dir/big.sha256")" "GET /big sha256 matches big.sha256"
expect "$(c -o /dev/null -w '%{size_download}' "$url/big")" 16777216 "GET /big is 16 MiB"
expect "$(c "$url/chunked/big" | sha)" "$(cat "$dir/big.sha256")" "GET /chunked/big sha256"

expect "$(c -D - -o /dev/null "$url/chunked" | tr -d '\r' | grep -i '^transfer-encoding:')" \
    "Transfer-Encoding: chunked" "GET /chunked is chunked"
expect "$(c "$url/chunked" | tr '\n' '|')" "chunk one|chunk two|chunk three|" \
    "GET /chunked body"

# Keep-alive: two requests on one connection; /close makes the next one reconnect.
expect "$(c -o /dev/null -o /dev/null -w '%{num_connects}' "$url/hello" "$url/hello")" \
    10 "keep-alive: second request reuses the connection"
expect "$(c -D - -o /dev/null "$url/close" | tr -d '\r' | grep -i '^connection:')" \
    "Connection: close" "GET /close says Connection: close"
expect "$(c -o /dev/null -o /dev/null -w '%{num_connects}' "$url/close" "$url/hello")" \
    11 "after /close the next request opens a new connection"

log_lines=$(wc -l <"$dir/access.log")
head -c 300000 /dev/urandom >"$tmp/body"
want=$(sha <"$tmp/body")
expect "$(c --data-binary "@$tmp/body" "$url/echo" | sha)" "$want" "POST /echo returns the body"
expect "$(c -T "$tmp/body" "$url/echo" | sha)" "$want" "PUT /echo returns the body"
expect "$(c -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/body" "$url/echo" | sha)" \
    "$want" "chunked POST /echo returns the body"
expect "$(c -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/body" "$url/sink")" \
    "received 300000" "chunked POST /sink counts the body"
expect "$(c -X POST "$url/sink")" "received 0" "empty POST /sink"
# /count: the JSON endpoint of minimal-examples/server, in its shape.
expect "$(c "$url/count")" '{"count":1,"page":0,"bytes":0}' "GET /count"
expect "$(c -D - -o /dev/null "$url/count" | tr -d '\r' | grep -i '^content-type:')" \
    "Content-Type: application/json" "GET /count is application/json"
expect "$(c -d 'twelve bytes' "$url/count")" '{"count":1,"page":0,"bytes":12}' "POST /count"
expect "$(c -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/body" "$url/count")" \
    '{"count":1,"page":0,"bytes":300000}' "chunked POST /count counts the body"
if tail -n +$((log_lines + 1)) "$dir/access.log" |
    grep -q "^$port POST /echo 200 [0-9]* [0-9]* \"chunked\" \"300000\" "; then
    ok "access.log records the chunked upload and its length"
else
    fail "access.log has no line for the chunked POST /echo"
fi
expect "$(c -H 'X-Wisp-Probe: yes' "$url/headers" | tr -d '\r' | grep -i '^x-wisp-probe:')" \
    "X-Wisp-Probe: yes" "GET /headers shows the request headers"
expect "$(c -o /dev/null -w '%{time_total}' "$url/slow?s=0.3" | awk '{print ($1 >= 0.3)}')" \
    1 "GET /slow?s=0.3 waits"
expect "$(c "$url/drip?s=0.2" | tr '\n' '|')" "drip start|drip end|" "GET /drip body"

# --- certificates ----------------------------------------------------------
tls_expect "s_client: server.pem verifies for localhost" 'Verify return code: 0 (ok)' \
    "$port" -CAfile "$ca" -verify_return_error -verify_hostname localhost
tls_expect "s_client: server.pem verifies for IP 127.0.0.1" 'Verify return code: 0 (ok)' \
    "$port" -CAfile "$ca" -verify_return_error -verify_ip 127.0.0.1
tls_expect "s_client: server.pem verifies for IP ::1" \
    'Verify return code: 0 (ok)' "$port" -CAfile "$ca" -verify_return_error -verify_ip ::1
tls_expect "s_client: server.pem is P-256" \
    'Server public key is 256 bit' "$port" -CAfile "$ca"

# TLS 1.2 session resumption through the shared session cache.
s_client "$port" -CAfile "$ca" -verify_return_error -no_ticket -sess_out "$tmp/sess" >/dev/null
tls_expect "s_client: TLS 1.2 session resumed from the server cache" \
    '^Reused, ' "$port" -CAfile "$ca" -no_ticket -sess_in "$tmp/sess"

expect "$(curl_rc $((port + 1)))" 60 "wronghost (port+1): curl rejects the name"
tls_expect "wronghost: s_client reports a hostname mismatch" \
    'Verify return code: 62 (hostname mismatch)' $((port + 1)) -CAfile "$ca" \
    -verify_hostname localhost
expect "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$ca" \
    --resolve "wrong.example:$((port + 1)):127.0.0.1" \
    "https://wrong.example:$((port + 1))/hello")" \
    200 "wronghost: verifies as wrong.example"

expect "$(curl_rc $((port + 2)))" 60 "expired (port+2): curl rejects it"
tls_expect "expired: s_client says certificate has expired" \
    'certificate has expired' $((port + 2)) -CAfile "$ca" -verify_return_error

expect "$(curl_rc $((port + 3)))" 60 "unknown CA (port+3): curl rejects it"
tls_expect "unknown CA: s_client cannot find the issuer" \
    'unable to get local issuer certificate' $((port + 3)) -CAfile "$ca" -verify_return_error
expect "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$certs/other-ca.pem" \
    --resolve "localhost:$((port + 3)):127.0.0.1" "https://localhost:$((port + 3))/hello")" \
    200 "unknown CA: verifies against other-ca.pem"

m=https://localhost:$((port + 4))
expect "$(curl -s --max-time 10 --cacert "$ca" --resolve "localhost:$((port + 4)):127.0.0.1" \
    --cert "$certs/client.pem" --key "$certs/client.key" "$m/whoami")" \
    "CN=wisp-test-client,O=wisp test" "mTLS (port+4): client.pem accepted"
expect "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$ca" \
    --resolve "localhost:$((port + 4)):127.0.0.1" "$m/whoami")" 400 \
    "mTLS: no client certificate gets 400"
expect "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$ca" \
    --resolve "localhost:$((port + 4)):127.0.0.1" --cert "$certs/other-server.pem" \
    --key "$certs/other-server.key" "$m/whoami")" 400 "mTLS: certificate from another CA gets 400"

expect "$(curl_rc $((port + 5)))" 0 "intermediate (port+5): chain verifies from ca.pem"
tls_expect "intermediate: s_client sees a chain of 2 from the server" \
    '^ 1 s:O = wisp test, CN = wisp test intermediate CA' $((port + 5)) -CAfile "$ca" \
    -verify_return_error -showcerts

tls_expect "ipcn (port+6): chains to ca.pem" \
    'Verify return code: 0 (ok)' $((port + 6)) -CAfile "$ca" -verify_return_error
tls_expect "ipcn: has no IP SAN, so 127.0.0.1 does not verify" \
    'Verify return code: 64 (IP address mismatch)' $((port + 6)) -CAfile "$ca" \
    -verify_ip 127.0.0.1

expect "$(curl_rc $((port + 7)))" 0 "RSA (port+7): verifies"
tls_expect "RSA: s_client sees a 2048-bit key" \
    'Server public key is 2048 bit' $((port + 7)) -CAfile "$ca"

if [ "$failed" -ne 0 ]; then
    echo "$failed check(s) failed; nginx error log: $dir/error.log"
    exit 1
fi
echo "all checks passed"
