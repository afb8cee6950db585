#!/bin/sh
# cppcheck over lib/ with the library's own configuration (every feature on), zero
# findings allowed. A finding that is wrong is suppressed inline where it occurs
# (`cppcheck-suppress id` with the reason), never here.
#
#   cppcheck.sh SOURCE_DIR
set -eu
cd "${1:?usage: cppcheck.sh SOURCE_DIR}"
command -v cppcheck >/dev/null || { echo "cppcheck: not installed"; exit 1; }
out=$(cppcheck --quiet --enable=warning,portability --std=c99 --inline-suppr \
    --error-exitcode=1 --suppress=missingIncludeSystem \
    -D__GNUC__ -DWISP_LIBRARY -DWISP_WITH_CLIENT=1 -DWISP_WITH_SERVER=1 \
    -DWISP_WITH_JSON_POLICY=1 -DWISP_WITH_PLAT_POSIX=1 -DWISP_WITH_SESSION_STORE=1 \
    -DWISP_LOG_LEVEL=4 -Iinclude -Ilib lib 2>&1) && rc=0 || rc=$?
[ -z "$out" ] || echo "$out"
echo "cppcheck: lib/, exit $rc"
exit $rc
