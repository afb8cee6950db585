#!/bin/bash
# Starts and stops the nginx that wisp's loopback tests talk to.
#
#   tests/interop/nginx.sh start DIR PORT
#   tests/interop/nginx.sh stop  DIR [PORT]
#
# Everything nginx writes (config, pid, logs, temp files, the 16 MiB test file)
# lives under DIR, normally a directory in the build tree; nothing under /etc,
# /var or /run is touched. The servers listen on loopback only, on PORT to
# PORT+7 (see README.md for which port presents which certificate and what each
# location answers). `start` restarts an instance already running from DIR,
# waits until it answers, and fails with the error log if it does not;
# `stop` ends it through its pid file and waits for it to exit.
#
# Environment: WISP_NGINX (the binary), WISP_NGINX_ECHO_MODULE (path of
# ngx_http_echo_module.so), WISP_TEST_CERTS (directory of tests/certs),
# WISP_NGINX_WORKER_CONNECTIONS (default 512; bench/scaling.sh opens 10,000
# connections at once and raises it, with the worker's open-file limit and the
# listen backlog, as far as net.core.somaxconn allows: with nginx's default of 511 the
# kernel's accept queue overflows and connections are reset).
set -eu

usage() {
    echo "usage: $0 start|stop DIR PORT" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-}

here=$(cd "$(dirname "$0")" && pwd)
certs=${WISP_TEST_CERTS:-$here/../certs}
echo_module=${WISP_NGINX_ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
nginx=${WISP_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
# nginx itself reads NGINX as a list of inherited listening sockets (binary upgrade).
unset NGINX
# Loopback only: never go through a proxy from the environment.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

# How long start and stop wait, in tenths of a second.
WAIT_TENTHS=100
BIG_BYTES=16777216

# alive PID: true while PID exists and is not a zombie. A daemon's parent is
# init, and some container inits reap zombies only now and then.
alive() {
    local state=""
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# running_pid: prints the pid of the nginx master started from $dir, if alive.
running_pid() {
    local pid
    [ -s "$dir/nginx.pid" ] || return 1
    pid=$(cat "$dir/nginx.pid")
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    # Only ever signal our own nginx: a stale pid file may name a recycled pid.
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-c $dir/nginx.conf" || return 1
    fi
    echo "$pid"
}

do_stop() {
    local pid i
    if ! pid=$(running_pid); then
        rm -f "$dir/nginx.pid"
        return 0
    fi
    kill -TERM "$pid"
    for ((i = 0; i < WAIT_TENTHS; i++)); do
        alive "$pid" || { rm -f "$dir/nginx.pid"; return 0; }
        sleep 0.1
    done
    echo "nginx.sh: nginx (pid $pid) did not exit within $((WAIT_TENTHS / 10)) s" >&2
    return 1
}

# have_ipv6: true when the loopback interface has ::1 (containers may lack it).
have_ipv6() {
    grep -qi '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

# make_big: the /big body, 16 MiB of a deterministic pseudo-random stream
# (AES-128-CTR of zeros under an all-zero key), made once per DIR.
make_big() {
    local size=0
    [ -f "$dir/big.bin" ] && size=$(wc -c <"$dir/big.bin")
    if [ "$size" -ne "$BIG_BYTES" ] || [ ! -s "$dir/big.sha256" ]; then
        head -c "$BIG_BYTES" /dev/zero |
            openssl enc -aes-128-ctr -nosalt -K 00000000000000000000000000000000 \
                -iv 00000000000000000000000000000000 >"$dir/big.bin.tmp"
        mv -f "$dir/big.bin.tmp" "$dir/big.bin"
        sha256sum "$dir/big.bin" | cut -d' ' -f1 >"$dir/big.sha256"
    fi
}

# listen PORT: the listen lines of one server block.
listen() {
    local backlog=""
    if [ -n "${WISP_NGINX_WORKER_CONNECTIONS:-}" ]; then
        backlog=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 4096)
        [ "$backlog" -le "$WISP_NGINX_WORKER_CONNECTIONS" ] || backlog=$WISP_NGINX_WORKER_CONNECTIONS
        backlog=" backlog=$backlog"
    fi
    echo "        listen 127.0.0.1:$1 ssl$backlog;"
    if have_ipv6; then
        echo "        listen [::1]:$1 ssl$backlog;"
    fi
}

# server PORT CERT KEY [EXTRA]: a TLS server block presenting tests/certs/CERT
# (with any chain in that file) and the common locations.
server() {
    cat <<EOF
    server {
$(listen "$1")
        server_name localhost;
        ssl_certificate "$certs/$2";
        ssl_certificate_key "$certs/$3";
        add_header x-wisp-test 42 always;
${4:-}
        include "$dir/locations.conf";
    }
EOF
}

write_config() {
    local user_line=""
    # A root master would run its workers as "nobody", who cannot write to DIR.
    [ "$(id -u)" = 0 ] && user_line="user root;"

    cat >"$dir/locations.conf" <<EOF
        location = / { return 200 "hello from nginx\n"; }
        location = /hello { return 200 "hello from nginx\n"; }
        # Only tests/interop/test_sessions_nginx.c asks for it, so its access.log
        # lines are its own even when other tests run against the fixture at once.
        location = /sessions { return 200 "hello from nginx\n"; }
        # 1 KiB (1023 'k' and a newline): the body of the 100-GET benchmark.
        location = /1k { return 200 "$(head -c 1023 /dev/zero | tr '\0' k)\n"; }
        location = /status/204 { return 204; }
        location = /status/301 { return 301 /hello; }
        location = /status/404 { return 404 "not found\n"; }
        location = /status/500 { return 500 "internal error\n"; }
        location = /status/503 { return 503 "unavailable\n"; }
        location = /close {
            keepalive_timeout 0;
            return 200 "closing\n";
        }
        location = /big {
            alias "$dir/big.bin";
            default_type application/octet-stream;
        }
        # The echo module (a dependency of Debian's nginx-light) really reads
        # the request body and sends it back, whatever the method; the reply
        # has no Content-Length, so HTTP/1.1 gets it chunked.
        location = /echo {
            default_type application/octet-stream;
            echo_read_request_body;
            echo_request_body;
        }
        # Reads the whole request body and answers with its length in bytes
        # (after de-chunking), for uploads too big to want back.
        location = /sink {
            echo_read_request_body;
            echo "received \$wisp_body_length";
        }
        # The request line and headers exactly as received.
        location = /headers { echo -n \$echo_client_request_headers; }
        location = /chunked {
            echo "chunk one";
            echo_flush;
            echo "chunk two";
            echo_flush;
            echo "chunk three";
        }
        # /big again, but chunked (the body comes through a subrequest).
        location = /chunked/big {
            default_type application/octet-stream;
            echo_location /big;
        }
        # Nothing at all (no headers) for ?s= seconds (default 2), then a reply.
        location = /slow {
            echo_sleep \$wisp_sleep;
            echo "slow";
        }
        # Headers and a first chunk at once, the rest after ?s= seconds.
        location = /drip {
            echo "drip start";
            echo_flush;
            echo_sleep \$wisp_sleep;
            echo "drip end";
        }
        location = /whoami { return 200 "\$ssl_client_s_dn\n"; }
        # The JSON endpoint of minimal-examples/server, in its shape, so the client
        # examples run against either: "count" is this request's number on its
        # connection (nginx keeps no counter across connections), "page" 0,
        # "bytes" the request body's length (after de-chunking).
        location = /count {
            default_type application/json;
            echo_read_request_body;
            echo '{"count":\$connection_requests,"page":0,"bytes":\$wisp_body_length}';
        }
EOF

    {
        cat <<EOF
# Generated by tests/interop/nginx.sh; rewritten on every start.
load_module "$echo_module";
$user_line
daemon on;
master_process on;
worker_processes 1;
pid "$dir/nginx.pid";
lock_file "$dir/nginx.lock";
error_log "$dir/error.log" info;

${WISP_NGINX_WORKER_CONNECTIONS:+worker_rlimit_nofile $((WISP_NGINX_WORKER_CONNECTIONS + 256));}

events {
    worker_connections ${WISP_NGINX_WORKER_CONNECTIONS:-512};
}

http {
    types {
        text/plain txt;
        application/octet-stream bin;
    }
    default_type text/plain;
    charset off;
    server_tokens off;

    log_format wisp '\$server_port \$request_method \$uri \$status \$request_length '
                    '\$body_bytes_sent "\$http_transfer_encoding" "\$content_length" '
                    '\$connection \$connection_requests \$ssl_session_reused \$pipe';
    access_log "$dir/access.log" wisp;

    client_body_temp_path "$dir/tmp/body";
    proxy_temp_path "$dir/tmp/proxy";
    fastcgi_temp_path "$dir/tmp/fastcgi";
    uwsgi_temp_path "$dir/tmp/uwsgi";
    scgi_temp_path "$dir/tmp/scgi";
    client_max_body_size 64m;
    client_body_buffer_size 1m;

    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 60s;
    keepalive_requests 1000;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:wisp:1m;
    ssl_session_timeout 1h;

    map \$content_length \$wisp_body_length {
        "" 0;
        default \$content_length;
    }

    map \$arg_s \$wisp_sleep {
        default 2;
        "~^[0-9]{1,2}(\.[0-9]{1,3})?\$" \$arg_s;
    }

EOF
        server "$port" server.pem server.key
        server $((port + 1)) wronghost.pem wronghost.key
        server $((port + 2)) expired.pem expired.key
        server $((port + 3)) other-server.pem other-server.key
        server $((port + 4)) server.pem server.key "        ssl_verify_client on;
        ssl_client_certificate \"$certs/ca.pem\";
        ssl_verify_depth 2;"
        server $((port + 5)) server-inter-chain.pem server-inter.key
        server $((port + 6)) ipcn.pem ipcn.key
        server $((port + 7)) server-rsa.pem server-rsa.key
        echo "}"
    } >"$dir/nginx.conf"
}

do_start() {
    local i
    case $port in '' | *[!0-9]*) usage ;; esac
    [ -x "$nginx" ] || { echo "nginx.sh: nginx not found (install nginx-light)" >&2; exit 1; }
    [ -f "$echo_module" ] || {
        echo "nginx.sh: $echo_module not found (install nginx-light)" >&2
        exit 1
    }
    [ -f "$certs/server.pem" ] || { echo "nginx.sh: no certificates in $certs" >&2; exit 1; }
    mkdir -p "$dir/tmp"
    dir=$(cd "$dir" && pwd)
    certs=$(cd "$certs" && pwd)
    do_stop
    make_big
    write_config
    : >"$dir/error.log"
    : >"$dir/access.log"
    if ! "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"; then
        echo "nginx.sh: nginx failed to start; $dir/error.log:" >&2
        cat "$dir/error.log" >&2
        exit 1
    fi
    for ((i = 0; i < WAIT_TENTHS; i++)); do
        if curl -sf -o /dev/null --max-time 2 --cacert "$certs/ca.pem" \
            --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/hello"; then
            rm -f "$dir/ipv6"
            if have_ipv6; then echo 1 >"$dir/ipv6"; fi
            echo "nginx.sh: nginx up on 127.0.0.1:$port-$((port + 7)) (pid $(cat "$dir/nginx.pid"))"
            return 0
        fi
        sleep 0.1
    done
    echo "nginx.sh: no answer on port $port within $((WAIT_TENTHS / 10)) s; $dir/error.log:" >&2
    cat "$dir/error.log" >&2
    do_stop || true
    exit 1
}

case $cmd in
    start) do_start ;;
    stop)
        [ -d "$dir" ] || exit 0
        dir=$(cd "$dir" && pwd)
        do_stop
        ;;
    *) usage ;;
esac
