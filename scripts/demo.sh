#!/bin/sh
# make demo: run wisp's own HTTPS server (minimal-examples/server) on loopback, the
# client examples (client-queue with 100 streams at once among them) and wisp-stream
# against it, and print what happened.
# Usage: scripts/demo.sh BUILD_DIR
#
# No third-party server and no fixed port: the server gets a copy of its policy with
# "port": 0, so the system picks a free port, which the script reads from the
# server's "listening on https://127.0.0.1:PORT/" line and writes into copies of the
# client examples' policies (their own say 8443). client-static-policy has its port
# compiled in, so the demo compiles it again for that port: wisp-policy compile and
# cc against a copy of this build installed under the temporary directory (wisp.pc).
# At the end the server is stopped with SIGTERM and prints its own stats.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
examples=$build/minimal-examples
stream=$build/tools/wisp-stream/wisp-stream
server=$examples/server/wisp-server
tmp=$(mktemp -d)
server_pid=""

cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stat_of KEY FILE: a number from the last stats JSON line in FILE.
stat_of() { grep -o "\"$1\":[0-9]*" "$2" | tail -1 | cut -d: -f2; }

# --- wisp's server on loopback ------------------------------------------------------
[ -x "$server" ] || { echo "demo: $server not built (WISP_WITH_SERVER=OFF?)" >&2; exit 1; }
sed 's/"port": *[0-9]*/"port": 0/' "$root/minimal-examples/server/policy.json" \
    >"$tmp/server.json"
"$server" --policy "$tmp/server.json" --stats >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
port=""
tries=0
while [ -z "$port" ] && [ $tries -lt 100 ]; do
    port=$(sed -n 's|^listening on https://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$tmp/server.out")
    [ -n "$port" ] || { tries=$((tries + 1)); sleep 0.05; }
done
if [ -z "$port" ]; then
    echo "demo: the server did not start:" >&2
    cat "$tmp/server.err" >&2
    exit 1
fi
echo "== server: wisp's own HTTPS server, minimal-examples/server =="
echo "\$ wisp-server --policy server.json --stats     (its policy with \"port\": 0)"
cat "$tmp/server.out"
echo "serves / (an HTML page) and /count (JSON), 404 otherwise; the clients below get"
echo "copies of their policies with port $port in place of 8443"

# policy NAME: a copy of minimal-examples/NAME/policy.json with the server's port.
policy() {
    sed "s/\"port\": *8443/\"port\": $port/" "$root/minimal-examples/$1/policy.json" \
        >"$tmp/$1.json"
    echo "$tmp/$1.json"
}

echo
echo "== client-get: one GET /count; status, a response header through metadata, the body =="
"$examples/client-get/wisp-client-get" "$(policy client-get)"

echo
echo "== client-post: a body from the tx callback, with Content-Length, then chunked =="
"$examples/client-post/wisp-client-post" "$(policy client-post)"

echo
echo "== client-static-policy: the same GET, the policy compiled into const C =="
# build_static: client-static-policy for $port, built the way an application outside
# this tree would: this build installed under $tmp/wisp, the installed wisp-policy,
# cc with the installed wisp.pc (the shared library, found through an rpath).
sp=$tmp/static
build_static() {
    mkdir -p "$sp"
    cmake --install "$build" --prefix "$tmp/wisp" >"$sp/install.log" 2>&1 || return 1
    pc=$(find "$tmp/wisp" -name wisp.pc | head -n 1)
    [ -n "$pc" ] || { echo "no wisp.pc installed" >"$sp/install.log"; return 1; }
    libdir=$(dirname "$(dirname "$pc")")
    "$tmp/wisp/bin/wisp-policy" compile "$(policy client-static-policy)" \
        -o "$sp/example_policy.c" -n example_policy >"$sp/compile.log" 2>&1 || return 1
    # shellcheck disable=SC2046 # pkg-config's flags are meant to be split into words
    cc -std=c99 -O2 -I"$sp" $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags wisp) \
        -o "$sp/wisp-client-static-policy" "$root/minimal-examples/client-static-policy/main.c" \
        "$sp/example_policy.c" $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --libs wisp) \
        -Wl,-rpath,"$libdir" >"$sp/cc.log" 2>&1
}
if build_static; then
    echo "(port $port compiled in: wisp-policy compile, then cc with wisp.pc of this build)"
    "$sp/wisp-client-static-policy"
else
    echo "skipped: could not compile it for port $port (its ctest covers it):"
    cat "$sp"/*.log
fi

echo
echo "== lazy-vhosts: three trust stores, a vhost only while a stream needs it =="
"$examples/lazy-vhosts/wisp-lazy-vhosts" "$(policy lazy-vhosts)"

echo
echo "== client-queue: 100 streams at once to one endpoint: one connection, pipelined =="
"$examples/client-queue/wisp-client-queue" "$(policy client-queue)" 100

echo
echo "== wisp-stream: any stream type of a policy from the shell =="
p=$(policy client-get)
echo "\$ wisp-stream client-get/policy.json hello -v     (port $port)"
"$stream" "$p" hello -v 2>&1

echo
echo "\$ wisp-stream client-get/policy.json hello --count 10 --stats"
echo "(at exit the idle kept-alive connection is closed at once: wisp_context_close_idle)"
"$stream" "$p" hello --count 10 --stats -v >"$tmp/out" 2>"$tmp/err"
counts=$(sed -n 's/^{"count":\([0-9]*\),.*/\1/p' "$tmp/out")
echo "$(echo "$counts" | grep -c .) bodies on stdout (the server's count" \
    "$(echo "$counts" | head -n 1) to $(echo "$counts" | tail -n 1)); stats on stderr:"
grep '^{' "$tmp/err"
policy_heap=$(sed -n 's/^\* policy .*: \([0-9]*\) bytes of heap$/\1/p' "$tmp/err")
s() { stat_of "$1" "$tmp/err"; }
echo "what happened:"
echo "  streams      10 created at once, $(s transactions) transactions"
echo "  connections  $(s conns_opened) opened"
echo "  handshakes   $(s handshakes_full) full, $(s handshakes_resumed) resumed;" \
    "$(s reuses) transactions reused a connection"
echo "  vhosts       $(s vhosts_created) created, $(s vhosts_destroyed) destroyed," \
    "$(s vhosts_live) live at exit"
echo "  heap         peak $(s heap_peak) bytes; at exit $(s heap_in_use)," \
    "the parsed policy's own $policy_heap"
echo "               (wisp's own allocations; Debian's mbedTLS allocates from libc)"

# --- graceful stop ----------------------------------------------------------------
echo
echo "== server: SIGTERM, graceful stop =="
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
echo "its log on stderr:"
grep -v '^{' "$tmp/server.err" | sed 's/^/  /'
echo "exit status $rc; its stats on stderr at exit (--stats):"
grep '^{' "$tmp/server.err" | tail -n 1
t() { stat_of "$1" "$tmp/server.err"; }
echo "what the server saw:"
echo "  connections  $(t conns_opened) accepted, $(t conns_refused) refused," \
    "$(t conns_live) live at exit"
echo "  handshakes   $(t handshakes_full) full, $(t handshakes_resumed) resumed"
echo "  requests     $(t transactions), $(t reuses) of them on a kept-alive connection"
echo "  vhosts       $(t vhosts_created) created, $(t vhosts_destroyed) destroyed," \
    "$(t vhosts_live) live at exit"
echo "  heap         peak $(t heap_peak) bytes; at exit $(t heap_in_use)," \
    "as after serving nothing (its parsed policy)"
[ "$rc" -eq 0 ]
