#!/bin/bash
# Tests of the wisp-stream tool, run by ctest.
#
#   test.sh usage BIN CERTS WORKDIR             command line and policy errors (no server)
#   test.sh nginx BIN CERTS WORKDIR PORT DIR    every feature against the nginx fixture
#                                               (PORT and DIR as given to nginx.sh start)
#
# Writes its policy into WORKDIR (the fixture's port substituted, the test CA embedded)
# and prints one "ok"/"FAIL" line per check; exits non-zero if any check failed.
set -u

[ $# -ge 4 ] || { echo "usage: $0 usage|nginx BIN CERTS WORKDIR [PORT DIR]" >&2; exit 2; }
mode=$1 bin=$2 certs=$3 work=$4 port=${5:-8443} ngx=${6:-}
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY
mkdir -p "$work"
policy=$work/policy.json
failed=0

ok() { echo "ok   - $*"; }
fail() {
    echo "FAIL - $*"
    failed=$((failed + 1))
}

# pem FILE: the file as one JSON string body (newlines as \n).
pem() { awk '{ printf "%s\\n", $0 }' "$1"; }

# stream NAME PORT URL [EXTRA]: one client stream type of the test policy.
stream() {
    cat <<EOF
        "$1": {
            "endpoint": "${HOST:-localhost}", "port": $2, "trust_store": "test",
            "url": "$3"${4:+, $4}
        },
EOF
}

cat >"$policy" <<EOF
{
    "schema": 1,
    "release": "wisp-stream test",
    "retry": { "quick": { "backoff_ms": [50], "conceal": 2 } },
    "certs": {
        "ca": "$(pem "$certs/ca.pem")",
        "server": "$(pem "$certs/server.pem")",
        "server_key": "$(pem "$certs/server.key")"
    },
    "trust_stores": { "test": { "certs": ["ca"] } },
    "streams": {
$(stream hello "$port" /hello '"metadata": { "test": "x-wisp-test", "tag": null }')
$(stream notfound "$port" /status/404)
$(stream chunked "$port" /chunked)
$(stream drip "$port" '/drip?s=0.3' '"reuse": false')
$(stream big "$port" /big)
$(stream echo "$port" /echo '"method": "POST"')
$(stream sink "$port" /sink '"method": "POST"')
$(stream headers "$port" '/headers?tag=${tag}' '"metadata": { "probe": "x-wisp-probe", "tag": null }')
$(stream wronghost $((port + 1)) /hello)
$(stream slow "$port" '/slow?s=5' '"timeout_ms": 300')
$(stream slow20 "$port" '/slow?s=5' '"timeout_ms": 20000')
$(HOST=127.0.0.1 stream refused 1 /hello '"retry": "quick"')
        "srv": {
            "server": true, "bind": "127.0.0.1", "port": 0,
            "cert": "server", "key": "server_key"
        }
    }
}
EOF

out=$work/out
err=$work/err

# run WANT_STATUS DESCRIPTION ARGS...: runs the tool, stdout in $out, stderr in $err.
run() {
    local want=$1 what=$2 rc=0
    shift 2
    timeout 120 "$bin" "$@" >"$out" 2>"$err" </dev/null || rc=$?
    if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else
        fail "$what: exit $rc, want $want"
        sed 's/^/       /' "$err" | head -20
    fi
}
# has FILE PATTERN DESCRIPTION: FILE has a line matching the extended regex.
has() {
    if grep -Eq -- "$2" "$1"; then ok "$3"; else
        fail "$3: no /$2/ in $(basename "$1")"
        sed 's/^/       /' "$1" | head -20
    fi
}
expect() {
    if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: got '$1', want '$2'"; fi
}
# stat_of KEY: a number from the --stats JSON line on stderr.
stat_of() { grep -o "\"$1\":[0-9]*" "$err" | tail -1 | cut -d: -f2; }

usage_tests() {
    run 64 "no arguments"
    run 0 "--help" --help
    has "$out" '^exit status:' "--help documents the exit status"
    run 64 "unknown option" "$policy" hello --frobnicate
    run 64 "--count 0" "$policy" hello --count 0
    run 64 "--count junk" "$policy" hello --count 3x
    run 64 "--meta without =" "$policy" hello --meta test
    run 64 "--timeout without value" "$policy" hello --timeout
    run 64 "--data - with --count 2" "$policy" echo --data - --count 2
    run 65 "missing policy file" "$work/nope.json" hello
    printf '{\n  "schema": 1,\n  "streams": { "x": { "endpoint": 5 } }\n}\n' >"$work/bad.json"
    run 65 "policy with errors" "$work/bad.json" x
    has "$err" 'bad\.json:3:[0-9]+: streams\.x\.endpoint' \
        "the loader's error line names file:line:col"
    printf '{ "schema": ' >"$work/cut.json"
    run 65 "truncated policy" "$work/cut.json" x
    : >"$work/empty.json"
    run 65 "empty policy" "$work/empty.json" x
    run 64 "unknown stream type" "$policy" helo
    has "$err" 'client stream types in the policy: hello' "lists the stream types"
    run 64 "server stream type" "$policy" srv
    run 64 "unknown metadata slot" "$policy" hello --meta nope=1
    has "$err" 'no metadata slot "nope"; test tag' "lists the slots"
    run 64 "header value with CR" "$policy" headers --meta "probe=a$(printf '\r')b"
    run 66 "--data of a missing file" "$policy" echo --data "$work/nope.bin"
    run 66 "--data of a directory" "$policy" echo --data "$work"
    rc=0
    "$bin" "$policy" echo --data - <&- >"$out" 2>"$err" || rc=$?
    expect "$rc" 66 "--data - with stdin closed"
}

nginx_tests() {
    local want i
    run 0 "GET /hello" "$policy" hello
    expect "$(cat "$out")" "hello from nginx" "body on stdout"
    run 0 "GET /hello -v --stats" "$policy" hello -v --stats
    has "$err" '^\* \[1\] \+[0-9]+ ms CONNECTING$' "-v: CONNECTING"
    has "$err" '^\* \[1\] \+[0-9]+ ms ACK 200$' "-v: ACK 200"
    has "$err" '^< \[1\] x-wisp-test: 42$' "-v: response header through its slot"
    has "$err" '^\* \[1\] \+[0-9]+ ms DONE$' "-v: DONE"
    has "$err" '^\{"heap_in_use":[0-9]+,.*"conns_refused":0\}$' "--stats: one JSON object"
    expect "$(stat_of streams_live)" 0 "--stats: no stream left"
    expect "$(stat_of conns_live) $(stat_of vhosts_live)" "0 0" \
        "at exit the idle connection is closed at once, its vhost freed (no --drain)"
    run 0 "GET /hello -v --stats --drain" "$policy" hello -v --stats --drain
    policy_heap=$(sed -n 's/^\* policy .*: \([0-9]*\) bytes of heap$/\1/p' "$err")
    expect "$(stat_of heap_in_use)" "$policy_heap" "--drain: heap back to the policy's figure"
    expect "$(stat_of conns_live) $(stat_of vhosts_live) $(stat_of vhosts_destroyed)" "0 0 1" \
        "--drain: the connection closed, the vhost freed"
    expect "$(stat_of transactions)" 1 "--stats: one transaction"

    run 1 "404 is a NACK" "$policy" notfound -v
    has "$err" 'NACK 404' "-v: NACK 404"
    expect "$(cat "$out")" "not found" "the 404 body is still printed"

    run 0 "chunked response" "$policy" chunked
    expect "$(tr '\n' '|' <"$out")" "chunk one|chunk two|chunk three|" "chunked body"

    run 0 "--count 5 on one connection" "$policy" hello --count 5 --stats
    expect "$(grep -c 'hello from nginx' "$out")" 5 "five bodies, not interleaved"
    expect "$(stat_of transactions)" 5 "five transactions"
    expect "$(stat_of handshakes_full)" 1 "one TLS handshake for five streams"
    expect "$(stat_of reuses)" 4 "four reuses"
    expect "$(stat_of streams_live)" 0 "no stream left"

    run 0 "--count 3 without reuse, bodies overlapping" "$policy" drip --count 3 --stats
    expect "$(tr '\n' '|' <"$out")" "$(printf 'drip start|drip end|%.0s' 1 2 3)" \
        "overlapping bodies printed whole, one after another"
    expect "$(stat_of conns_opened)" 3 "three connections"

    "$bin" "$policy" slow20 >"$out" 2>"$err" &
    pid=$!
    sleep 0.5
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    expect "$rc" 130 "SIGINT ends the run with 130"

    run 0 "--count 2 of 16 MiB" "$policy" big --count 2
    want=$(cat "$ngx/big.sha256")
    expect "$(wc -c <"$out")" 33554432 "two whole 16 MiB bodies"
    expect "$(head -c 16777216 "$out" | sha256sum | cut -c1-64)" "$want" "first body intact"
    expect "$(tail -c 16777216 "$out" | sha256sum | cut -c1-64)" "$want" "second body intact"

    head -c 200000 /dev/urandom >"$work/body"
    want=$(sha256sum <"$work/body" | cut -c1-64)
    run 0 "POST --data FILE (Content-Length)" "$policy" echo --data "$work/body"
    expect "$(sha256sum <"$out" | cut -c1-64)" "$want" "the echo is the file"
    run 0 "POST --data - (chunked)" "$policy" sink --data -
    expect "$(cat "$out")" "received 0" "empty stdin is an empty chunked body"
    timeout 60 "$bin" "$policy" echo --data - <"$work/body" >"$out" 2>"$err"
    expect "$? $(sha256sum <"$out" | cut -c1-64)" "0 $want" "chunked stdin body echoed"
    run 0 "--count 3 --data FILE" "$policy" sink --count 3 --data "$work/body"
    expect "$(grep -c '^received 200000$' "$out")" 3 "each stream sent the whole file"

    run 0 "--meta to a request header and the url" "$policy" headers \
        --meta probe=yes --meta "tag=a b/c"
    has "$out" '^GET /headers\?tag=a%20b%2[fF]c HTTP/1\.1' "url slot percent-encoded"
    has "$out" '^[xX]-[wW]isp-[pP]robe: yes' "header slot sent"

    run 2 "wrong host name" "$policy" wronghost -v
    has "$err" 'CONNECTION_FAILED' "-v: CONNECTION_FAILED"
    run 2 "wrong host name, without -v" "$policy" wronghost
    has "$err" '^wisp-stream: \[1\] (CONNECTION_FAILED|ALL_RETRIES_FAILED): WISP_E' \
        "without -v the failure is still named on stderr"
    run 2 "transaction timeout" "$policy" slow -v
    has "$err" 'TIMEOUT' "-v: TIMEOUT"
    run 2 "--timeout overrides the policy" "$policy" slow20 --timeout 300 -v
    has "$err" 'TIMEOUT' "-v: TIMEOUT after --timeout"
    run 2 "refused, retried twice" "$policy" refused -v --stats
    expect "$(grep -c 'RETRYING' "$err")" 2 "-v: two RETRYING"
    has "$err" 'ALL_RETRIES_FAILED' "-v: ALL_RETRIES_FAILED"
    policy_heap=$(sed -n 's/^\* policy .*: \([0-9]*\) bytes of heap$/\1/p' "$err")
    expect "$(stat_of heap_in_use)" "$policy_heap" "after failures only the policy's heap is left"
    expect "$(stat_of retries)" 2 "--stats: two retries"
    run 2 "--count 5 refused, without -v" "$policy" refused --count 5
    expect "$(grep -c '^wisp-stream: \[[0-9]*\] ALL_RETRIES_FAILED: WISP_E' "$err")" 3 \
        "without -v the first three failures are named"
    has "$err" '^wisp-stream: 2 more streams failed$' "and the others counted"
}

case $mode in
    usage) usage_tests ;;
    nginx) nginx_tests ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
if [ "$failed" -ne 0 ]; then
    echo "$failed check(s) failed"
    exit 1
fi
echo "all checks passed"
