#!/bin/sh
# Fails when a C file of the tree is not as clang-format (the repo's .clang-format)
# would write it: `make format` fixes them. Corpora and generated files are not C
# sources of ours and are skipped.
#
#   format-check.sh SOURCE_DIR
set -eu
cd "${1:?usage: format-check.sh SOURCE_DIR}"
command -v clang-format >/dev/null || { echo "format-check: clang-format not installed"; exit 1; }
files=$(find include lib tools minimal-examples tests bench -name '*.[ch]' -not -path '*/corpus/*' | sort)
bad=0
for f in $files; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f"
        bad=$((bad + 1))
    fi
done
echo "format-check: $(echo "$files" | wc -l) files, $bad not formatted (make format fixes them)"
[ "$bad" = 0 ]
