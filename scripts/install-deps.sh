#!/bin/sh
# Install what wisp's build, tests, demo and benchmarks need, from Debian's packages.
# Idempotent: installs only what is missing; runs apt-get update only when it must
# install; uses sudo when not root. Safe to run on every `make`.
set -eu

# One list per area in scripts/deps/*.list (a package name per word, # comments), so
# each part of the project names what it needs in its own file.
here=$(dirname "$0")
PKGS=$(cat "$here"/deps/*.list | sed 's/#.*//')

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
