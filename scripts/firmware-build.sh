#!/bin/sh
# Build wisp's firmware: mbedTLS (Debian's source, the embedded profile) and libwisp
# cross-compiled for Cortex-M4, then the test image (tests/firmware).
#
#   scripts/firmware-build.sh [BUILD_DIR]      (default build-firmware; `make firmware`)
#
# BUILD_DIR/src                      Debian's mbedtls and lwip sources
#                                    (scripts/get-debian-source.sh)
# BUILD_DIR/mbedtls-2.28[-build]     the cross-built mbedTLS, installed with the embedded
#                                    profile as its mbedtls/config.h. Rebuilt only when the
#                                    profile, the toolchain file or the source changes (a
#                                    stamp holds their checksums), so `make test` pays once.
# BUILD_DIR/mbedtls-2.28-client      the same with the client-only profile
#                                    (wisp-embedded-client-config.h)
# BUILD_DIR/client                   wisp, client only, static policies only (JSON off),
#                                    against the client-only mbedTLS, with the QEMU image
#                                    and its ctest (its in-image TLS server is linked
#                                    against the full profile: tests/firmware/README.md)
# BUILD_DIR/client-server            wisp, client + server, library only (for the sizes)
# BUILD_DIR/mbedtls-3.6, client-3.6  the same client build and QEMU test on mbedTLS 3.6
#                                    (Debian's next stable suite) with the 3.6 profile
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-firmware}
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${JOBS:-2}
toolchain="$here/cmake/toolchains/arm-none-eabi-cortex-m4.cmake"
config="$here/cmake/mbedtls/wisp-embedded-config.h"

# build_mbedtls SUITE DEST CONFIG: cross-build Debian's mbedtls of SUITE (own: 2.28,
# next: 3.6) with CONFIG as its MBEDTLS_CONFIG_FILE, installed in DEST with CONFIG
# as the prefix's own config header, once per checksum of its inputs.
build_mbedtls() {
    src=$("$here/scripts/get-debian-source.sh" mbedtls "$1" "$out/src" | tail -n 1)
    dest=$2
    cfg=$3
    stub="$here/cmake/mbedtls/aes-no-decrypt.c"
    stamp=$(cat "$cfg" "$toolchain" "$0" "$stub" | sha256sum | cut -c1-16)-$(basename "$src")
    [ "$(cat "$dest/.wisp-stamp" 2>/dev/null)" = "$stamp" ] && return 0
    echo "firmware: cross-building mbedTLS ($(basename "$src")) with $(basename "$cfg")"
    rm -rf "$dest" "$dest-build"
    # CFLAGS (not -DCMAKE_C_FLAGS, which would drop the toolchain's CPU flags).
    CFLAGS="-I$here/cmake/mbedtls -DMBEDTLS_CONFIG_FILE='<$(basename "$cfg")>'" \
        cmake -S "$src" -B "$dest-build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
        -DMBEDTLS_FATAL_WARNINGS=OFF -DCMAKE_INSTALL_PREFIX="$dest" \
        >"$dest-build.log" 2>&1 || { cat "$dest-build.log"; exit 1; }
    cmake --build "$dest-build" -j"$jobs" >>"$dest-build.log" 2>&1 ||
        { tail -n 60 "$dest-build.log"; exit 1; }
    cmake --install "$dest-build" >>"$dest-build.log" 2>&1
    # The prefix carries its profile: consumers need no MBEDTLS_CONFIG_FILE.
    if [ -f "$dest/include/mbedtls/mbedtls_config.h" ]; then
        cp "$cfg" "$dest/include/mbedtls/mbedtls_config.h"
    else
        cp "$cfg" "$dest/include/mbedtls/config.h"
    fi
    # A profile without the AES inverse cipher gets its stubs in its own libmbedcrypto
    # (cmake/mbedtls/aes-no-decrypt.c says why).
    if grep -q '^#define MBEDTLS_AES_DECRYPT_ALT' "$cfg"; then
        cpu=$(sed -n 's/^set(WISP_CPU_FLAGS "\(.*\)")$/\1/p' "$toolchain")
        # shellcheck disable=SC2086 # cpu is a list of flags
        arm-none-eabi-gcc $cpu -Os -ffunction-sections -fdata-sections -Wall -Werror \
            -I"$dest/include" -c "$stub" -o "$dest-build/aes-no-decrypt.o"
        arm-none-eabi-ar rs "$dest/lib/libmbedcrypto.a" "$dest-build/aes-no-decrypt.o"
    fi
    echo "$stamp" >"$dest/.wisp-stamp"
}

# The 3.6 LTS twin of the profile (TLS 1.3 next to 1.2), for BUILD_DIR/client-3.6.
# WISP_FW_MBEDTLS36=0 skips it (for a machine without the next suite's sources).
if [ "${WISP_FW_MBEDTLS36:-1}" = 1 ]; then
    build_mbedtls next "$out/mbedtls-3.6" "$here/cmake/mbedtls/wisp-embedded-config-3.6.h"
fi
build_mbedtls own "$out/mbedtls-2.28" "$config"
build_mbedtls own "$out/mbedtls-2.28-client" "$here/cmake/mbedtls/wisp-embedded-client-config.h"
prefix="$out/mbedtls-2.28"
prefix_client="$out/mbedtls-2.28-client"

# The mbedTLS paths are passed, not found: FindMbedTLS caches what it found, and a
# build dir must follow a change of prefix.
configure() { # DIR MBEDTLS_PREFIX ARGS...
    d=$1
    p=$2
    shift 2
    cmake -S "$here" -B "$d" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_FIND_ROOT_PATH="$p" \
        -DMbedTLS_INCLUDE_DIR="$p/include" -DMbedTLS_LIBRARY="$p/lib/libmbedtls.a" \
        -DMbedX509_LIBRARY="$p/lib/libmbedx509.a" -DMbedCrypto_LIBRARY="$p/lib/libmbedcrypto.a" \
        -DWISP_WITH_JSON_POLICY=OFF -DWISP_BUILD_TOOLS=OFF -DWISP_LOG_LEVEL=1 -DWISP_WITH_ERROR_TEXT=OFF \
        -DWISP_H1_PIPELINE_MAX=1 "$@" >/dev/null
}
# lwIP for the raw-flavour image (tests/firmware: wisp-fw-lwip.elf), Debian's source.
lwip=$("$here/scripts/get-debian-source.sh" lwip own "$out/src" | tail -n 1)
# The client image is what the flash budget (SPEC §11) measures, so it is built as a
# firmware team would ship it: -Os with link-time optimisation (about 5 KiB less
# than without: wisp's small cross-file helpers inline, unused paths go). Fat LTO
# objects keep libwisp.a usable by a non-LTO link and its sizes readable; the
# stack lint reads the frames of the non-LTO client+server tree built just before.
# The budget's "client only" has no session store (wisp_context_sessions_save/load,
# about 4.7 KiB of archive, none of it linked unless called); client+server has it.
configure "$out/client-server" "$prefix" -DWISP_WITH_SERVER=ON -DWISP_BUILD_TESTS=OFF
cmake --build "$out/client-server" -j"$jobs" --target wisp_static
(export CFLAGS="-flto -ffat-lto-objects" LDFLAGS="-flto"
    configure "$out/client" "$prefix_client" -DCMAKE_AR="$(command -v arm-none-eabi-gcc-ar)" \
    -DCMAKE_RANLIB="$(command -v arm-none-eabi-gcc-ranlib)" \
    -DWISP_FW_STACK_DIR="$out/client-server/lib" \
    -DWISP_WITH_SERVER=OFF -DWISP_WITH_SESSION_STORE=OFF -DWISP_FW_PEER_MBEDTLS="$prefix" \
    -DWISP_FW_LWIP_DIR="$lwip")
cmake --build "$out/client" -j"$jobs"
# wisp on mbedTLS 3.6: the client and the QEMU test image (TLS 1.3 with the in-image
# peer, which has its own copy of the same 3.6 profile). The flash budget is the
# 2.28 client profile's, not checked here.
if [ "${WISP_FW_MBEDTLS36:-1}" = 1 ]; then
    configure "$out/client-3.6" "$out/mbedtls-3.6" -DWISP_WITH_SERVER=OFF -DWISP_FW_FLASH_BUDGET=0 -DWISP_FW_TEXT_BUDGET=0
    cmake --build "$out/client-3.6" -j"$jobs"
fi
