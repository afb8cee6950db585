#!/bin/bash
# bench/awake.sh CMD [ARGS...] — run CMD with the CPUs held out of their idle states.
#
# A PM QoS request for 0 µs of wake-up latency (0 written to /dev/cpu_dma_latency and
# the file held open; the kernel drops the request when it is closed), the way latency
# benchmarks such as cyclictest run. On the 2-CPU VM of 2026-12-03 (haltpoll cpuidle)
# a client that sleeps in poll(2) once per request paid about 15 µs per wake-up, as
# much as the request itself, and whether a run happened to keep the CPUs busy moved
# its CPU figures by 2-3x (bench/RESULTS.md, "Syscalls"). Under this wrapper CMD sees
# WISP_BENCH_AWAKE=1, and the scripts say so in their reports. Without write access
# to the file CMD runs as it is, with WISP_BENCH_AWAKE=0 and a line on stderr.
#
# Sourced (syscalls.sh measures both ways in one run), it only defines the two
# functions: awake_hold (false when the file is not writable) and awake_release.

awake_hold() {
    [ -w /dev/cpu_dma_latency ] && exec {WISP_AWAKE_FD}>/dev/cpu_dma_latency &&
        printf '\0\0\0\0' >&"$WISP_AWAKE_FD"
}
awake_release() { exec {WISP_AWAKE_FD}>&-; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    [ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
    if awake_hold; then
        WISP_BENCH_AWAKE=1 "$@"
        rc=$?
        awake_release
        exit $rc
    fi
    echo "awake.sh: /dev/cpu_dma_latency not writable: the CPUs may idle during $1" >&2
    WISP_BENCH_AWAKE=0 exec "$@"
fi
