#!/bin/sh
# Configure and build the library (wisp_static and wisp_shared, the latter linked
# with --no-undefined) for every WISP_WITH_* combination that makes sense except the
# default one, which the main build already is: client only, server only, client +
# server, each with the JSON loader on and off. Library only, -O0, -j2, so it stays
# well under a minute per combination on 2 cores. The JSON-off builds are the
# firmware-like ones, so they also drop the error texts (WISP_WITH_ERROR_TEXT).
#
#   option-matrix.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
mkdir -p "$work"
fail=0
for combo in "ON OFF ON" "ON OFF OFF" "OFF ON ON" "OFF ON OFF" "ON ON OFF"; do
    set -- $combo
    name="client-$1_server-$2_json-$3"
    dir="$work/$name"
    if cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS=-O0 \
            -DWISP_WITH_CLIENT="$1" -DWISP_WITH_SERVER="$2" -DWISP_WITH_JSON_POLICY="$3" \
            -DWISP_WITH_ERROR_TEXT="$3" \
            -DWISP_BUILD_TESTS=OFF -DWISP_BUILD_TOOLS=OFF -DWISP_WERROR=ON \
            >"$dir.log" 2>&1 &&
        cmake --build "$dir" -j2 --target wisp_static wisp_shared >>"$dir.log" 2>&1; then
        echo "ok   $name"
    else
        echo "FAIL $name (log: $dir.log)"
        tail -n 20 "$dir.log"
        fail=1
    fi
done
exit $fail
