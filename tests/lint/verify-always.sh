#!/bin/sh
# Certificate verification cannot be turned off (SPEC section 8: "no insecure switch
# in a release build"). Fails when
#   1. lib/ asks mbedTLS for MBEDTLS_SSL_VERIFY_OPTIONAL in a file that never reads
#      the verify result (mbedtls_ssl_get_verify_result): the handshake would then
#      succeed with a certificate that failed;
#   2. lib/ uses MBEDTLS_SSL_VERIFY_NONE anywhere but the one server statement that
#      asks for no client certificate when no client CA is configured
#      (`info->ca_count ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE`, in
#      the branch after the client's `if (!info->server)` REQUIRED), or the client's
#      REQUIRED is gone;
#   3. a verify callback in lib/ clears mbedTLS's flags (`*flags = 0`, `*flags &=`);
#   4. a switch that reads like "verification off" (insecure, no_verify, skip_verify,
#      verify_none, trust_all, ...) appears in the configuration: include/wisp/
#      (config.h, policy.h's schema), the CMake options and cmake/, the policy loader,
#      the shipped policies, and, given BUILD, the built library's own configuration
#      (CMakeCache.txt and the compile definitions of lib/).
#
#   tests/lint/verify-always.sh [SOURCE_ROOT [BUILD_DIR]]
set -eu
root=${1:-.}
build=${2:-}
fails=0
bad() {
    echo "verify-always: $*"
    fails=$((fails + 1))
}

# 1. OPTIONAL only where the result is read.
for f in $(grep -rlE 'MBEDTLS_SSL_VERIFY_OPTIONAL' --include='*.c' --include='*.h' "$root/lib" ||
    true); do
    grep -q 'mbedtls_ssl_get_verify_result' "$f" ||
        bad "$f sets MBEDTLS_SSL_VERIFY_OPTIONAL and never checks the verify result"
done

# 2. NONE only in the server's "no client CAs" statement, the client always REQUIRED.
none=$(grep -rnE 'MBEDTLS_SSL_VERIFY_NONE' --include='*.c' --include='*.h' "$root/lib" |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' || true)
allowed=$(awk '
    /if \(!info->server\)$/ { client = NR }
    client && NR == client + 1 && /mbedtls_ssl_conf_authmode\(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED\);/ { req = NR }
    req && NR == req + 1 && /^[[:space:]]*else$/ { els = NR }
    els && NR == els + 1 && /mbedtls_ssl_conf_authmode\(&c->conf, info->ca_count \? MBEDTLS_SSL_VERIFY_REQUIRED$/ { srv = NR }
    srv && NR == srv + 1 && /^[[:space:]]*: MBEDTLS_SSL_VERIFY_NONE\);$/ { print FILENAME ":" NR; srv = 0 }
' "$root/lib/tls/tls.c")
[ -n "$allowed" ] || bad "lib/tls/tls.c: the client's MBEDTLS_SSL_VERIFY_REQUIRED / server's client-CA authmode is not where it was"
echo "$none" | while IFS= read -r line; do
    [ -n "$line" ] || continue
    at=${line%%:*}:$(echo "$line" | cut -d: -f2)
    [ "$at" = "$allowed" ] || echo "$line"
done >"${TMPDIR:-/tmp}/verify-always.$$"
if [ -s "${TMPDIR:-/tmp}/verify-always.$$" ]; then
    bad "MBEDTLS_SSL_VERIFY_NONE outside the server's no-client-CA case:"
    cat "${TMPDIR:-/tmp}/verify-always.$$"
fi
rm -f "${TMPDIR:-/tmp}/verify-always.$$"
if grep -rnE 'mbedtls_ssl_(conf|set_hs)_authmode' --include='*.c' "$root/lib" |
    grep -v "^$root/lib/tls/tls.c:" | grep -q .; then
    bad "authmode set outside lib/tls/tls.c"
fi

# 3. No verify callback clears flags.
cleared=$(grep -rnE '\*[[:space:]]*flags[[:space:]]*(=[^=]|&=)' --include='*.c' "$root/lib" || true)
[ -z "$cleared" ] || bad "a verify callback clears mbedTLS's flags: $cleared"

# 4. No switch that turns verification off, in the source configuration or the build's.
re='insecure|no_?verify|skip_?verif|verify_?(none|optional|off|disable)|disable_?verif|verification_?off|allow_?(invalid|untrusted|any|bad)_?cert|trust_?all|accept_?any'
# C comments are skipped in C files, # comments in CMake files; JSON has none.
c_hits=$(grep -rniE "$re" --include='*.h' --include='*.c' --include='*.in' "$root/include/wisp" \
    "$root/cmake" "$root/lib/policy" 2>/dev/null |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' || true)
cmake_hits=$(grep -rniE "$re" --include='*.cmake' --include='CMakeLists.txt' "$root/CMakeLists.txt" \
    "$root/cmake" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true)
json_hits=$(grep -rniE "$re" --include='*.json' "$root/policies" 2>/dev/null || true)
hits=$(printf '%s%s%s' "$c_hits" "$cmake_hits" "$json_hits")
[ -z "$hits" ] || bad "a configuration switch that could turn verification off: $hits"
if [ -n "$build" ]; then
    [ -f "$build/CMakeCache.txt" ] || bad "$build/CMakeCache.txt: not a build tree"
    hits=$(grep -iE '^WISP[^:]*:' "$build/CMakeCache.txt" 2>/dev/null | grep -iE "$re" || true)
    [ -z "$hits" ] || bad "the build's cache has: $hits"
    for fm in "$build"/lib/CMakeFiles/*/flags.make; do
        [ -f "$fm" ] || continue
        hits=$(grep -E '^C_DEFINES' "$fm" | tr ' ' '\n' | grep -iE "$re" || true)
        [ -z "$hits" ] || bad "$fm defines: $hits"
    done
fi

[ "$fails" = 0 ] || exit 1
echo "lint: certificate verification is required everywhere; no switch turns it off"
