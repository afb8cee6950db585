#!/bin/sh
# Install the built tree into a scratch prefix, then build a consumer project
# against it twice: with find_package(wisp) (CMake) and with pkg-config, and run both.
# First the installed headers: only the public API (no wisp__ name, no WISP_LIBRARY
# section), and each header compiles on its own as C99 and as C++.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work="$build/install-check"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

echo "== installed headers =="
inc="$work/prefix/include"
cflags=$(PKG_CONFIG_PATH="$(find "$work/prefix" -name wisp.pc -exec dirname {} \;)" pkg-config --cflags wisp)
if grep -rn 'wisp__\|WISP_LIBRARY' "$inc"; then
    echo "installed headers expose library internals (above)" >&2
    exit 1
fi
n=0
for h in $(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort); do
    printf '#include "%s"\nint wisp_header_check_%s;\n' "$h" "$n" > "$work/hdr.c"
    cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only $cflags "$work/hdr.c"
    c++ -x c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only $cflags "$work/hdr.c"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no headers installed" >&2; exit 1; }
echo "$n headers: each compiles alone as C99 and C++"

echo "== find_package(wisp) =="
cmake -S "$src/tests/install/consumer" -B "$work/cmake" \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"

echo "== wisp_add_static_policy() from the installed package =="
cmake -S "$src/tests/install/static-consumer" -B "$work/static" \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/static" >/dev/null
"$work/static/static-consumer"

echo "== pkg-config wisp =="
libdir=$(find "$work/prefix" -name wisp.pc -path '*pkgconfig*' -exec dirname {} \;)
export PKG_CONFIG_PATH="$libdir"
# Static link: the consumer must not need LD_LIBRARY_PATH.
cc -o "$work/consumer-pc" "$src/tests/install/consumer/main.c" \
    $(pkg-config --cflags wisp) $(pkg-config --static --libs wisp | sed 's/-lwisp/-l:libwisp.a/')
"$work/consumer-pc"
echo "install check: ok"
