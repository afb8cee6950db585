#!/bin/sh
# wisp's server (minimal-examples/server) against peers nobody here wrote: curl and
# openssl s_client (issue 9's interop list). Each server runs on a port the system
# picks (the policy's port replaced by 0) and is stopped with SIGTERM, which must
# end it with exit status 0 and no connection left.
#
#   server-peers.sh WISP_SERVER POLICY.json CERTS_DIR WORK_DIR
set -u
server=$1
policy=$2
certs=$3
work=$4
mkdir -p "$work"
sed 's/"port": *[0-9]*/"port": 0/' "$policy" >"$work/policy.json"
fails=0
pids=""

ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*"
    fails=$((fails + 1))
}
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# start NAME STREAM: run the server for STREAM; sets $port and $pid.
start() {
    "$server" --policy "$work/policy.json" --stream "$2" --stats --quiet \
        >"$work/$1.out" 2>"$work/$1.err" &
    pid=$!
    pids="$pids $pid"
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' "$work/$1.out")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "FAIL $1: the server did not start"
    cat "$work/$1.err"
    exit 1
}

# stop NAME PID: SIGTERM, exit 0, and the stats line it prints.
stop() {
    kill -TERM "$2"
    if wait "$2"; then ok "$1: graceful stop, exit 0"; else bad "$1: exit status $?"; fi
    stats=$(tail -n 1 "$work/$1.err")
    case $stats in *'"conns_live":0'*) ok "$1: no connection left" ;; *) bad "$1: $stats" ;; esac
}

stat_of() { echo "$stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }

c() { curl -sS --max-time 10 --cacert "$certs/ca.pem" "$@"; }

# ---- The site: curl --------------------------------------------------------------
start site site
site=$pid
url=https://localhost:$port

out=$(c "$url/count") && case $out in '{"count":1,'*) ok "GET /count: $out" ;; *) bad "GET: $out" ;; esac
hdr=$(c -I "$url/") && case $hdr in *"HTTP/1.1 200"*"text/html"*) ok "HEAD /" ;; *) bad "HEAD: $hdr" ;; esac
len=$(echo "$hdr" | tr -d '\r' | sed -n 's/^Content-Length: //ip')
body=$(c "$url/" | wc -c)
[ "$len" = "$body" ] && ok "HEAD announces the GET's length ($len)" || bad "HEAD $len vs GET $body"
out=$(c -d 'twelve bytes' "$url/count")
case $out in *'"bytes":12}'*) ok "POST with Content-Length" ;; *) bad "POST: $out" ;; esac
head -c 20000 /dev/zero | tr '\0' x >"$work/body"
out=$(c -H 'Transfer-Encoding: chunked' --data-binary @"$work/body" "$url/count")
case $out in *'"bytes":20000}'*) ok "POST chunked (20000 bytes)" ;; *) bad "chunked: $out" ;; esac
code=$(c -o /dev/null -w '%{http_code}' "$url/nowhere")
[ "$code" = 404 ] && ok "unknown path: 404" || bad "unknown path: $code"
code=$(c --http1.0 -o /dev/null -w '%{http_code}' "$url/count")
[ "$code" = 200 ] && ok "HTTP/1.0 client" || bad "HTTP/1.0: $code"

# 200 keep-alive requests in one invocation: one connection, one handshake.
urls=""
for _ in $(seq 200); do urls="$urls $url/count"; done
n=$(c -o /dev/null -w '%{num_connects}\n' $urls | awk '{ s += $1 } END { print s }')
[ "$n" = 1 ] && ok "200 requests on 1 connection" || bad "200 requests took $n connections"

# ---- openssl s_client: resumption by cache and by ticket; TLS 1.1 refused --------
sc() { openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$certs/ca.pem" "$@" </dev/null 2>&1; }
r=$(sc -tls1_2 -reconnect | grep -c '^Reused')
[ "$r" -ge 5 ] && ok "s_client -reconnect (ticket): $r reused" || bad "-reconnect reused $r"
r=$(sc -tls1_2 -no_ticket -reconnect | grep -c '^Reused')
[ "$r" -ge 5 ] && ok "s_client -reconnect -no_ticket (session cache): $r reused" ||
    bad "-no_ticket reused $r"
sc -tls1_2 -sess_out "$work/sess" >/dev/null
r=$(sc -tls1_2 -sess_in "$work/sess" | grep -c '^Reused')
[ "$r" = 1 ] && ok "s_client -sess_out / -sess_in: reused" || bad "-sess_in not reused"
# A TLS 1.1 hello gets no certificate and no cipher (the handshake never completes);
# the same with TLS 1.2 is the control that shows the check can see a handshake.
t11=$(sc -tls1_1)
if echo "$t11" | grep -q 'Cipher is (NONE)' && ! echo "$t11" | grep -q 'Server certificate'; then
    ok "s_client -tls1_1 refused"
else
    bad "TLS 1.1 accepted"
fi
sc -tls1_2 | grep -q 'Server certificate' && ok "s_client -tls1_2 (control): handshake" ||
    bad "TLS 1.2 control failed"
stop site "$site"
[ "$(stat_of handshakes_resumed)" -ge 11 ] && ok "server counted $(stat_of handshakes_resumed) resumed" ||
    bad "server resumed $(stat_of handshakes_resumed)"

# ---- client_ca: client certificates required -------------------------------------
start mtls site_mtls
mtls=$pid
url=https://localhost:$port
code=$(c --cert "$certs/client.pem" --key "$certs/client.key" -o /dev/null -w '%{http_code}' "$url/count")
[ "$code" = 200 ] && ok "client_ca: the right client certificate: 200" || bad "client_ca right cert: $code"
if c -o /dev/null "$url/count" 2>/dev/null; then bad "client_ca: served without a certificate"; else ok "client_ca: refused without a certificate"; fi
if c --cert "$certs/other-server.pem" --key "$certs/other-server.key" -o /dev/null "$url/count" 2>/dev/null; then
    bad "client_ca: served another CA's certificate"
else
    ok "client_ca: refused another CA's certificate"
fi
if c --cert "$certs/client-expired.pem" --key "$certs/client-expired.key" -o /dev/null "$url/count" 2>/dev/null; then
    bad "client_ca: served an expired client certificate"
else
    ok "client_ca: refused an expired client certificate"
fi
stop mtls "$mtls"
[ "$(stat_of transactions)" = 1 ] && ok "client_ca: one request served" || bad "client_ca served $(stat_of transactions)"

pids=""
[ "$fails" = 0 ] && echo "all passed" || echo "$fails failed"
exit $((fails != 0))
