#!/bin/sh
# Fetch Mbed TLS source from Debian's source packages, for -DWISP_MBEDTLS_SOURCE_DIR.
#
#   scripts/get-mbedtls-source.sh 2.28|3.6 [CACHE]
#
# 2.28 is the machine's own suite's package, 3.6 (LTS) the next stable suite's; both
# come through scripts/get-debian-source.sh, which derives the deb-src entry from the
# machine's apt sources (no mirror name is written anywhere in the repository) and
# leaves /etc/apt alone. CACHE defaults to build/mbedtls-src under the source tree;
# a tree already unpacked there is reused, so the script is idempotent and cheap.
# Prints the source directory, after checking that its version is the one asked for.
set -eu

want=${1:?usage: get-mbedtls-source.sh 2.28|3.6 [CACHE]}
here=$(cd "$(dirname "$0")" && pwd)
cache=${2:-$here/../build/mbedtls-src}

case "$want" in
2.28) suite=own ;;
3.6) suite=next ;;
*) echo "get-mbedtls-source: version must be 2.28 or 3.6, not '$want'" >&2; exit 2 ;;
esac

mkdir -p "$cache"
dir=$("$here/get-debian-source.sh" mbedtls "$suite" "$cache")

# 3.x keeps the version in build_info.h, 2.x in version.h.
ver=""
for h in include/mbedtls/build_info.h include/mbedtls/version.h; do
    [ -f "$dir/$h" ] || continue
    ver=$(sed -n 's/^#define[ \t]*MBEDTLS_VERSION_STRING[ \t]*"\([0-9.]*\)".*/\1/p' "$dir/$h")
    [ -n "$ver" ] && break
done
case "$ver" in
"$want".*) ;;
*)
    echo "get-mbedtls-source: $dir holds mbedTLS '$ver', not $want.x" >&2
    exit 1
    ;;
esac
echo "$dir"
