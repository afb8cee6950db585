#!/bin/sh
# Fetch and unpack a Debian source package, without touching the machine's apt setup.
#
#   scripts/get-debian-source.sh PACKAGE SUITE DEST
#
# SUITE is "own" (the machine's release, e.g. bookworm), "next" (the following stable
# release, e.g. trixie) or a codename. The deb-src entry is derived from the machine's
# existing apt sources (the first Debian archive URI found there), written to a private
# source list under DEST/.apt, and used with a private lists folder, so nothing in
# /etc/apt changes and no mirror's host name is ever written into the repository.
# Prints the unpacked source directory. Idempotent: a finished unpack is reused.
set -eu

pkg=${1:?usage: get-debian-source.sh PACKAGE SUITE DEST}
suite=${2:?usage: get-debian-source.sh PACKAGE SUITE DEST}
dest=${3:?usage: get-debian-source.sh PACKAGE SUITE DEST}

own=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
next_of() {
    case "$1" in
    bullseye) echo bookworm ;;
    bookworm) echo trixie ;;
    trixie) echo forky ;;
    *) echo "get-debian-source: no known release after '$1'" >&2; return 1 ;;
    esac
}
case "$suite" in
own) suite=$own ;;
next) suite=$(next_of "$own") ;;
esac
[ -n "$suite" ] || { echo "get-debian-source: cannot tell this machine's release" >&2; exit 1; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
stamp="$dest/.$pkg-$suite.dir"
if [ -f "$stamp" ] && [ -d "$(cat "$stamp")" ]; then
    cat "$stamp"
    exit 0
fi

# The Debian archive URI this machine already uses (deb822 .sources or one-line lists).
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" |
        grep -v -- '-security' | grep '/debian/*$' | head -n 1 || true)
    [ -n "$u" ] && { uri=$u; break; }
done
if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        u=$(awk '$1 == "deb" || $1 == "deb-src" {
                 for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" |
            grep -v -- '-security' | grep '/debian/*$' | head -n 1 || true)
        [ -n "$u" ] && { uri=$u; break; }
    done
fi
[ -n "$uri" ] || { echo "get-debian-source: no Debian archive in the apt sources" >&2; exit 1; }

apt="$dest/.apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial"
echo "deb-src $uri $suite main" > "$apt/sources.list"
opts="-o Dir::Etc::sourcelist=$apt/sources.list -o Dir::Etc::sourceparts=-
      -o Dir::State::Lists=$apt/lists -o Dir::Cache::archives=$apt/archives
      -o APT::Get::List-Cleanup=0"
# shellcheck disable=SC2086
apt-get $opts -q update >&2
work="$dest/.dl-$pkg-$suite"
rm -rf "$work"
mkdir -p "$work"
# shellcheck disable=SC2086
(cd "$work" && apt-get $opts -q source --download-only "$pkg" >&2)
dsc=$(ls "$work"/*.dsc | head -n 1)
command -v dpkg-source >/dev/null || { echo "get-debian-source: dpkg-dev is needed" >&2; exit 1; }
ver=$(basename "$dsc" .dsc)
out="$dest/$ver"
rm -rf "$out"
dpkg-source --no-check -x "$dsc" "$out" >&2
echo "$out" > "$stamp"
echo "$out"
