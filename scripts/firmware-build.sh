#!/bin/sh
# Build wisp's firmware: mbedTLS (Debian's source, the embedded profile) and libwisp
# cross-compiled for Cortex-M4, then the test image (tests/firmware).
#
#   scripts/firmware-build.sh [BUILD_DIR]      (default build-firmware; `make firmware`)
#
# BUILD_DIR/src                      Debian's mbedtls source (scripts/get-debian-source.sh)
# BUILD_DIR/mbedtls-2.28[-build]     the cross-built mbedTLS, installed with the profile as
#                                    its mbedtls/config.h. Rebuilt only when the profile,
#                                    the toolchain file or the source changes (a stamp
#                                    holds their checksums), so `make test` pays for it once.
# BUILD_DIR/client                   wisp, client only, static policies only (JSON off),
#                                    with the QEMU image and its ctest
# BUILD_DIR/client-server            wisp, client + server, library only (for the sizes)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-firmware}
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${JOBS:-2}
toolchain="$here/cmake/toolchain-arm-none-eabi-cortex-m4.cmake"
config="$here/cmake/mbedtls/wisp-embedded-config.h"

# build_mbedtls SUITE PREFIX CONFIG: cross-build Debian's mbedtls of SUITE (own: 2.28,
# next: 3.6) with CONFIG as its MBEDTLS_CONFIG_FILE, installed in PREFIX with CONFIG
# as the prefix's own config header, once per checksum of its inputs.
build_mbedtls() {
    src=$("$here/scripts/get-debian-source.sh" mbedtls "$1" "$out/src" | tail -n 1)
    prefix=$2
    cfg=$3
    stamp=$(cat "$cfg" "$toolchain" "$0" | sha256sum | cut -c1-16)-$(basename "$src")
    [ "$(cat "$prefix/.wisp-stamp" 2>/dev/null)" = "$stamp" ] && return 0
    echo "firmware: cross-building mbedTLS ($(basename "$src")) with $(basename "$cfg")"
    rm -rf "$prefix" "$prefix-build"
    # CFLAGS (not -DCMAKE_C_FLAGS, which would drop the toolchain's CPU flags).
    CFLAGS="-I$here/cmake/mbedtls -DMBEDTLS_CONFIG_FILE='<$(basename "$cfg")>'" \
        cmake -S "$src" -B "$prefix-build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
        -DMBEDTLS_FATAL_WARNINGS=OFF -DCMAKE_INSTALL_PREFIX="$prefix" \
        >"$prefix-build.log" 2>&1 || { cat "$prefix-build.log"; exit 1; }
    cmake --build "$prefix-build" -j"$jobs" >>"$prefix-build.log" 2>&1 ||
        { tail -n 60 "$prefix-build.log"; exit 1; }
    cmake --install "$prefix-build" >>"$prefix-build.log" 2>&1
    # The prefix carries its profile: consumers need no MBEDTLS_CONFIG_FILE.
    if [ -f "$prefix/include/mbedtls/mbedtls_config.h" ]; then
        cp "$cfg" "$prefix/include/mbedtls/mbedtls_config.h"
    else
        cp "$cfg" "$prefix/include/mbedtls/config.h"
    fi
    echo "$stamp" >"$prefix/.wisp-stamp"
}

prefix36="$out/mbedtls-3.6"
if [ "${WISP_FW_MBEDTLS36:-0}" = 1 ]; then
    # The 3.6 LTS twin of the profile: cross-built to prove it configures and
    # compiles (wisp's TLS 1.3 glue for 3.6 is the TLS work; not linked here yet).
    build_mbedtls next "$prefix36" "$here/cmake/mbedtls/wisp-embedded-config-3.6.h"
fi
prefix="$out/mbedtls-2.28"
build_mbedtls own "$prefix" "$config"

configure() { # DIR ARGS...
    d=$1
    shift
    cmake -S "$here" -B "$d" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_FIND_ROOT_PATH="$prefix" \
        -DWISP_WITH_JSON_POLICY=OFF -DWISP_BUILD_TOOLS=OFF -DWISP_LOG_LEVEL=1 \
        -DWISP_H1_PIPELINE_MAX=1 "$@" >/dev/null
}
configure "$out/client" -DWISP_WITH_SERVER=OFF
cmake --build "$out/client" -j"$jobs"
configure "$out/client-server" -DWISP_WITH_SERVER=ON -DWISP_BUILD_TESTS=OFF
cmake --build "$out/client-server" -j"$jobs" --target wisp_static
