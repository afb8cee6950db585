#!/bin/sh
# The README's 30-line example must compile as it stands (C99, warnings as errors):
# extract the first ```c block of README.md and compile it against include/.
# Usage: readme-example.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
mkdir -p "$work"
awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' "$src/README.md" >"$work/readme.c"
[ -s "$work/readme.c" ] || { echo "no \`\`\`c block in README.md" >&2; exit 1; }
# The example's unused parameters are part of the callback signatures.
cc -std=c99 -Wall -Wextra -Werror -Wno-unused-parameter -fsyntax-only \
    -DWISP_WITH_CLIENT=1 -DWISP_WITH_SERVER=1 -DWISP_WITH_JSON_POLICY=1 \
    -I"$src/include" "$work/readme.c"
echo "README example: compiles ($(wc -l <"$work/readme.c") lines)"
