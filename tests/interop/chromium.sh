#!/bin/bash
# A real browser against wisp's server (issue 9; SPEC §2's field lesson).
#
#   tests/interop/chromium.sh SERVER POLICY CA WORKDIR [INSTANCES] [SECONDS]
#
# Starts SERVER (minimal-examples/server) on a free loopback port, makes a private
# HOME whose NSS database trusts CA (certutil; never --ignore-certificate-errors),
# and runs INSTANCES (3) headless Chromiums at once on https://127.0.0.1:PORT/?for=S.
# The page's script fetches /count and reloads itself until S (20) seconds have
# passed since its first load, keeping loads, fetches and errors in localStorage.
#
# Passes when every instance ends on "done ... errors 0", the sums of the pages'
# loads and fetches equal the server's own page and count (from /count, which counts
# itself), and the server exits 0 after SIGTERM with no connection left. The final
# page of instance 1 is kept as WORKDIR/final.png (a test artefact).
#
# Headless Chromium and timers: --dump-dom alone dumps at the first load event, so
# the reload loop would be cut at once. --virtual-time-budget=MS makes it wait until
# MS of *virtual* time passed; Date.now() and setTimeout follow that clock, so the
# page's 20 s are virtual seconds: idle waits (the page's 200 ms pause between
# fetches) cost no wall time, network round trips run in real time. Without the
# pause the page never idles, virtual time crawls and 20 s take ~45 s of wall time.
set -eu

[ $# -ge 4 ] || { echo "usage: $0 SERVER POLICY CA WORKDIR [INSTANCES] [SECONDS]" >&2; exit 2; }
server=$1 policy=$2 ca=$3 work=$4 n=${5:-3} secs=${6:-20}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/srvtest.sh
. "$here/srvtest.sh"

chromium=$(command -v chromium || true)
[ -n "$chromium" ] || { echo "chromium not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
command -v certutil >/dev/null || { echo "certutil not found (libnss3-tools)" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/home/.pki/nssdb"
trap 'srv_stop >/dev/null 2>&1 || true' EXIT

# The private HOME: Chromium on Linux trusts what $HOME/.pki/nssdb trusts.
export HOME=$work/home
certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
certutil -A -d "sql:$HOME/.pki/nssdb" -n "wisp test CA" -t "C,," -i "$ca"

srv_start "$work/server" "$server" "$policy"
echo "wisp-server at $SRV_URL; $n Chromium instances for ${secs} s"

# browse I [FLAGS]: one headless instance with a profile of its own (own localStorage).
browse() {
    local i=$1
    shift
    # setsid: a browser that is killed takes nothing of the test's process group along.
    setsid timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$work/profile$i" --window-size=800,300 \
        "$@" 2>"$work/chromium$i.err"
}

pids=""
for ((i = 1; i <= n; i++)); do
    browse "$i" --dump-dom --virtual-time-budget=$(((secs + 10) * 1000)) \
        "${SRV_URL}?for=$secs" >"$work/dom$i.html" &
    pids="$pids $!"
done
fail=0
for p in $pids; do wait "$p" || fail=1; done
[ "$fail" = 0 ] || echo "FAIL: a Chromium instance exited non-zero (see $work/chromium*.err)" >&2

loads=0 fetches=0
for ((i = 1; i <= n; i++)); do
    s=$(sed -n 's/.*<p id="s">\([^<]*\)<\/p>.*/\1/p' "$work/dom$i.html")
    echo "instance $i: ${s:-no status (page did not load)}"
    if ! echo "$s" | grep -Eq '^done loads [0-9]+ fetches [0-9]+ errors 0$'; then
        echo "FAIL: instance $i did not finish its loop without errors" >&2
        fail=1
        continue
    fi
    # shellcheck disable=SC2086
    set -- $s
    loads=$((loads + $3))
    fetches=$((fetches + $5))
done

# The server's view; this request is one more /count.
counted=$(curl -sS --max-time 5 --cacert "$ca" "${SRV_URL}count" || true)
echo "server /count: $counted; pages' sums: loads $loads fetches $fetches"
if [ "$counted" != "{\"count\":$((fetches + 1)),\"page\":$loads,\"bytes\":0}" ]; then
    echo "FAIL: the pages' counts and the server's disagree" >&2
    fail=1
fi

# The artefact: instance 1's profile again, with for=0 so that its loop ends at once
# and the page shows that instance's final figures (one load more).
browse 1 --screenshot="$work/final.png" --virtual-time-budget=2000 "${SRV_URL}?for=0" \
    >/dev/null || true
if [ -s "$work/final.png" ]; then
    echo "screenshot: $work/final.png"
else
    echo "FAIL: no screenshot" >&2
    fail=1
fi

srv_stop
srv_check_exit || fail=1
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
