# shellcheck shell=bash
# shellcheck disable=SC2034 # the SRV_* variables are what the sourcing scripts read
# Sourced by the shell tests that drive build/minimal-examples/server/wisp-server
# (chromium.sh, load-wrk.sh, load-burst.sh) and by bench/server.sh:
#
#   srv_start WORKDIR SERVER POLICY [ARGS...]   sets SRV_PID, SRV_PORT, SRV_URL
#   srv_stop                                    SIGTERM; sets SRV_RC, SRV_STATS
#   srv_stat KEY                                a number from SRV_STATS ("?" if none)
#
# srv_start copies POLICY with "port": 0 on every stream, so the system picks a free
# port and the test never collides with another program; the server's stdout goes to
# WORKDIR/server.out, its stderr (the --stats JSON at exit) to WORKDIR/server.err.
# SRV_WRAP, when set, prefixes the server's command line (bench/server.sh pins it with
# taskset; the prefix must exec the server so that SRV_PID stays its pid).
# Loopback only: proxies from the environment are dropped.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy

SRV_PID=""
SRV_PORT=""
SRV_URL=""
SRV_RC=""
SRV_STATS=""
SRV_DIR=""

srv_start() {
    local dir=$1 server=$2 policy=$3 i
    shift 3
    SRV_DIR=$dir
    mkdir -p "$dir"
    /usr/bin/python3 - "$policy" "$dir/policy.json" <<'PY' || return 1
import json, sys
p = json.load(open(sys.argv[1]))
for s in p["streams"].values():
    if s.get("server"):
        s["port"] = 0
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
    : >"$dir/server.out"
    # shellcheck disable=SC2086 # SRV_WRAP: an optional command prefix (taskset -c 0)
    ${SRV_WRAP:-} "$server" --policy "$dir/policy.json" --stats --quiet "$@" >"$dir/server.out" \
        2>"$dir/server.err" &
    SRV_PID=$!
    for ((i = 0; i < 100; i++)); do
        SRV_URL=$(sed -n 's/^listening on \(https:[^ ]*\)$/\1/p' "$dir/server.out")
        if [ -n "$SRV_URL" ]; then
            SRV_PORT=$(echo "$SRV_URL" | sed 's/.*:\([0-9]*\)\/$/\1/')
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "srvtest: wisp-server did not start:" >&2
    cat "$dir/server.out" "$dir/server.err" >&2
    return 1
}

# srv_stop: SIGTERM, wait for the exit (10 s at most, then SIGKILL and SRV_RC 137).
srv_stop() {
    local i
    [ -n "$SRV_PID" ] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SRV_PID" 2>/dev/null; then
        echo "srvtest: wisp-server did not exit after SIGTERM" >&2
        kill -KILL "$SRV_PID" 2>/dev/null || true
    fi
    SRV_RC=0
    wait "$SRV_PID" || SRV_RC=$?
    SRV_PID=""
    SRV_STATS=$(grep '^{"heap_in_use"' "$SRV_DIR/server.err" | tail -1)
}

srv_stat() {
    local v
    v=$(echo "$SRV_STATS" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
    echo "${v:-?}"
}

# srv_check_exit: the server exited 0 after SIGTERM with no connection left; prints
# the stats and returns 1 (with the reason) otherwise.
srv_check_exit() {
    echo "server stats: ${SRV_STATS:-none}"
    if [ "$SRV_RC" != 0 ]; then
        echo "FAIL: wisp-server exited $SRV_RC after SIGTERM" >&2
        return 1
    fi
    if [ "$(srv_stat conns_live)" != 0 ]; then
        echo "FAIL: conns_live $(srv_stat conns_live) at exit" >&2
        return 1
    fi
}
