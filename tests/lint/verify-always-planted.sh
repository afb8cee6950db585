#!/bin/sh
# The verify-always lint must fail on each kind of violation it exists for: plants
# one at a time in a copy of the tree (lib, include, cmake, policies, CMakeLists.txt)
# and expects verify-always.sh to refuse it; the unmodified copy must pass.
#
#   tests/lint/verify-always-planted.sh [SOURCE_ROOT]
set -eu
root=$(cd "${1:-.}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0

fresh() {
    rm -rf "$work/t"
    mkdir -p "$work/t"
    cp -R "$root/lib" "$root/include" "$root/cmake" "$root/policies" "$root/CMakeLists.txt" \
        "$work/t/"
}

# expect_fail WHAT [BUILD]: the lint must refuse the planted copy (and build tree).
expect_fail() {
    what=$1
    shift
    if "$here/verify-always.sh" "$work/t" "$@" >"$work/out" 2>&1; then
        echo "FAIL: not caught: $what"
        fails=$((fails + 1))
    else
        echo "ok: caught: $what ($(head -n 1 "$work/out"))"
    fi
}

fresh
if "$here/verify-always.sh" "$work/t" >"$work/out" 2>&1; then
    echo "ok: the unmodified copy passes"
else
    cat "$work/out"
    echo "FAIL: the unmodified copy does not pass"
    fails=$((fails + 1))
fi

tls=$work/t/lib/tls/tls.c
fresh
sed -i 's/mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);/mbedtls_ssl_conf_authmode(\&c->conf, MBEDTLS_SSL_VERIFY_NONE);/' "$tls"
expect_fail "client authmode VERIFY_NONE"

fresh
sed -i 's/mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);/mbedtls_ssl_conf_authmode(\&c->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);/' "$tls"
expect_fail "client authmode VERIFY_OPTIONAL, flags never read"

fresh
printf '%s\n' 'void wisp__x(mbedtls_ssl_context *s) { mbedtls_ssl_set_hs_authmode(s, MBEDTLS_SSL_VERIFY_NONE); }' \
    >>"$work/t/lib/vhost/vhost.c"
expect_fail "VERIFY_NONE set per handshake elsewhere in lib/"

fresh
sed -i 's/^    if (depth != 0)$/    *flags = 0;\n    if (depth != 0)/' "$tls"
grep -q '^    \*flags = 0;$' "$tls" || { echo "FAIL: could not plant *flags = 0"; fails=$((fails + 1)); }
expect_fail "verify callback clearing the flags"

fresh
printf '%s\n' '#ifndef WISP_TLS_INSECURE' '#define WISP_TLS_INSECURE 0' '#endif' \
    >>"$work/t/include/wisp/config.h"
expect_fail "an insecure switch in include/wisp/config.h"

fresh
printf '%s\n' 'option(WISP_TLS_NO_VERIFY "skip certificate checks" OFF)' >>"$work/t/CMakeLists.txt"
expect_fail "a CMake option to skip verification"

fresh
sed -i 's/"tls": true/"tls": true, "skip_verify": true/' "$work/t/policies/client.json"
grep -q skip_verify "$work/t/policies/client.json" ||
    { echo "FAIL: could not plant skip_verify"; fails=$((fails + 1)); }
expect_fail "a policy key skip_verify"

# A build tree configured with such a switch: in its cache, then in lib's defines.
fresh
mkdir -p "$work/b/lib/CMakeFiles/wisp_obj.dir"
printf '%s\n' 'WISP_WITH_CLIENT:BOOL=ON' 'WISP_TLS_SKIP_VERIFY:BOOL=ON' >"$work/b/CMakeCache.txt"
printf '%s\n' 'C_DEFINES = -DWISP_WITH_CLIENT=1' >"$work/b/lib/CMakeFiles/wisp_obj.dir/flags.make"
expect_fail "a verification switch in the build's CMakeCache.txt" "$work/b"
printf '%s\n' 'WISP_WITH_CLIENT:BOOL=ON' >"$work/b/CMakeCache.txt"
if ! "$here/verify-always.sh" "$work/t" "$work/b" >"$work/out" 2>&1; then
    cat "$work/out"
    echo "FAIL: the clean build tree does not pass"
    fails=$((fails + 1))
fi
printf '%s\n' 'C_DEFINES = -DWISP_WITH_CLIENT=1 -DWISP_TLS_INSECURE=1' \
    >"$work/b/lib/CMakeFiles/wisp_obj.dir/flags.make"
expect_fail "a verification switch in lib's compile definitions" "$work/b"

[ "$fails" = 0 ] || exit 1
echo "lint self-test: every planted violation was caught"
