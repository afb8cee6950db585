#!/bin/sh
# The embedded mbedTLS profile (cmake/mbedtls/wisp-embedded-config.h) built for the
# host, and wisp (ASan+UBSan) against it: with MBEDTLS_PLATFORM_MEMORY, mbedTLS's
# allocations go through the context allocator (lib/tls/tls-heap.c), so the
# allocation-failure sweeps refuse mbedTLS's allocations too (issue 12).
#
#   scripts/embedded-host-build.sh [BUILD_DIR]     (default build-embedded)
#
# BUILD_DIR/src             Debian's mbedTLS 2.28 source (fetched once)
# BUILD_DIR/mbedtls-2.28    mbedTLS built with the profile, rebuilt when it changes
# BUILD_DIR/wisp            wisp and the sweep tests (faults_stream_allocfail is built
#                           but slow here: one TLS handshake per refused allocation)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-embedded}
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${JOBS:-2}
cfg="$here/cmake/mbedtls/wisp-embedded-config.h"

src=$("$here/scripts/get-mbedtls-source.sh" 2.28 "$out/src" | tail -n 1)
prefix="$out/mbedtls-2.28"
stamp=$(cat "$cfg" "$0" | sha256sum | cut -c1-16)-$(basename "$src")
if [ "$(cat "$prefix/.wisp-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "embedded-host: building mbedTLS ($(basename "$src")) with $(basename "$cfg")"
    rm -rf "$prefix" "$prefix-build"
    CFLAGS="-I$here/cmake/mbedtls -DMBEDTLS_CONFIG_FILE='<$(basename "$cfg")>'" \
        cmake -S "$src" -B "$prefix-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF -DMBEDTLS_FATAL_WARNINGS=OFF \
        -DCMAKE_INSTALL_PREFIX="$prefix" >"$prefix-build.log" 2>&1 ||
        { cat "$prefix-build.log"; exit 1; }
    cmake --build "$prefix-build" -j"$jobs" >>"$prefix-build.log" 2>&1 ||
        { tail -n 60 "$prefix-build.log"; exit 1; }
    cmake --install "$prefix-build" >>"$prefix-build.log" 2>&1
    cp "$cfg" "$prefix/include/mbedtls/config.h"
    echo "$stamp" >"$prefix/.wisp-stamp"
fi
cmake -S "$here" -B "$out/wisp" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug \
    -DWISP_SANITIZE=ON -DWISP_WERROR=ON ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$out/wisp" -j"$jobs" --target unit_test_stream_allocfail_fake \
    unit_test_policy_alloc faults_stream_allocfail integration_test_heap_budget
