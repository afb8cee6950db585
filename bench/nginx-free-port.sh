# Sourced by the bench scripts: the nginx fixture of tests/interop on a free loopback
# port. The caller sets root (the repository), ngx (nginx's directory) and work (for
# nginx.out), then calls `start_nginx NAME`: port is set, or NAME's error printed and
# the script exits 1. stop_nginx is trapped on EXIT. WISP_BENCH_PORT=N forces a port.

# in_use P: true when something accepts on 127.0.0.1:P.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# ports_free P: P..P+7 all free (the fixture listens on eight ports).
ports_free() {
    local i
    for ((i = 0; i < 8; i++)); do
        in_use $(($1 + i)) && return 1
    done
    return 0
}
stop_nginx() { "$root/tests/interop/nginx.sh" stop "$ngx" >/dev/null 2>&1 || true; }

start_nginx() {
    local try p
    trap stop_nginx EXIT
    port=""
    for try in 1 2 3 4 5 6 7 8; do
        if [ -n "${WISP_BENCH_PORT:-}" ]; then
            p=$WISP_BENCH_PORT
        else
            p=$((20000 + (RANDOM * 32768 + RANDOM + try * 997) % 40000))
        fi
        if ports_free "$p" && "$root/tests/interop/nginx.sh" start "$ngx" "$p" >"$work/nginx.out" 2>&1
        then
            port=$p
            return 0
        fi
        [ -z "${WISP_BENCH_PORT:-}" ] || break
    done
    echo "$1: could not start nginx on a free port:" >&2
    cat "$work/nginx.out" >&2
    exit 1
}
