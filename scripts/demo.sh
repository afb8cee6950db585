#!/bin/sh
# make demo: run the minimal examples against local servers on loopback and print
# what happened. Usage: scripts/demo.sh BUILD_DIR
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)

echo "== tls-loopback: wisp TLS client and server on one loop (127.0.0.1) =="
"$build/minimal-examples/tls-loopback/wisp-tls-loopback" "$root/tests/certs" 1048576
