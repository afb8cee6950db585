#!/bin/sh
# Install the built tree into a scratch prefix, then build a consumer project
# against it twice: with find_package(wisp) (CMake) and with pkg-config, and run both.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work="$build/install-check"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

echo "== find_package(wisp) =="
cmake -S "$src/tests/install/consumer" -B "$work/cmake" \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"

echo "== pkg-config wisp =="
libdir=$(find "$work/prefix" -name wisp.pc -path '*pkgconfig*' -exec dirname {} \;)
export PKG_CONFIG_PATH="$libdir"
# Static link: the consumer must not need LD_LIBRARY_PATH.
cc -o "$work/consumer-pc" "$src/tests/install/consumer/main.c" \
    $(pkg-config --cflags wisp) $(pkg-config --static --libs wisp | sed 's/-lwisp/-l:libwisp.a/')
"$work/consumer-pc"
echo "install check: ok"
