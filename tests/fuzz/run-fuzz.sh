#!/bin/sh
# Run every libFuzzer target of a WISP_FUZZ=ON build for SECONDS each, JOBS at a time,
# on a working corpus in BUILD/corpus/<t> seeded from tests/fuzz/corpus/<t>.
#
#   tests/fuzz/run-fuzz.sh BUILD SECONDS [JOBS]
#
# Used by `make fuzz` (long) and `make test` (short, about 10 s a target). Exit status
# 1 if any target found a crash, a leak or a broken invariant; its reproducer is in
# BUILD/fuzz-artifacts/<t>/ and its log in BUILD/fuzz-logs/<t>.log. Add the reproducer
# to tests/fuzz/corpus/<t>/ together with the fix, so every build replays it.
set -u
build=$1
seconds=$2
jobs=${3:-2}
src=$(cd "$(dirname "$0")" && pwd)
targets=$(cd "$src/corpus" && ls -d */ | tr -d /)
mkdir -p "$build/fuzz-logs"

run_one() {
    t=$1
    bin=$build/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz_$t: not built, skipped"; return 0; }
    mkdir -p "$build/corpus/$t" "$build/fuzz-artifacts/$t"
    log=$build/fuzz-logs/$t.log
    dict=
    case $t in policy | policy_emit) dict=-dict=$src/policy.dict ;; esac
    # shellcheck disable=SC2086 # $dict is one word or none
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 $dict \
        -artifact_prefix="$build/fuzz-artifacts/$t/" "$build/corpus/$t" "$src/corpus/$t" \
        >"$log" 2>&1; then
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz_$t: ok, $n executions in ${seconds} s"
        if [ "$t" = policy_emit ]; then roundtrip || return 1; fi
    else
        echo "fuzz_$t: FAILED (log $log, reproducer in $build/fuzz-artifacts/$t/)"
        grep -m 5 -E 'ERROR|runtime error|client fuzz|fuzz_[a-z_]*:' "$log"
        return 1
    fi
}

# What fuzz_policy_emit grew also goes through the tool and the compiler: every
# policy in its corpus compiled as C must equal the loaded one (emit_roundtrip.c).
roundtrip() {
    rt=$build/tests/fuzz/emit_roundtrip
    [ -x "$rt" ] && [ -f "$build/emit-roundtrip-cc.txt" ] || return 0
    [ -x "$build/tools/wisp-policy/wisp-policy" ] || {
        echo "fuzz_policy_emit: round trip FAILED: $build/tools/wisp-policy/wisp-policy not built"
        return 1
    }
    # shellcheck disable=SC2046 # the compiler command is a word list on purpose
    if "$rt" "$build/tools/wisp-policy/wisp-policy" "$build/emit-roundtrip-fuzz" \
        $(cat "$build/emit-roundtrip-cc.txt") -- "$build/corpus/policy_emit" \
        "$src/corpus/policy_emit" >"$build/fuzz-logs/policy_emit-roundtrip.log" 2>&1; then
        echo "fuzz_policy_emit: $(tail -n 1 "$build/fuzz-logs/policy_emit-roundtrip.log")"
    else
        echo "fuzz_policy_emit: round trip FAILED (log $build/fuzz-logs/policy_emit-roundtrip.log)"
        grep -m 5 'emit_roundtrip:' "$build/fuzz-logs/policy_emit-roundtrip.log"
        return 1
    fi
}

status=0
pids=""
running=0
for t in $targets; do
    run_one "$t" >"$build/fuzz-logs/$t.summary" 2>&1 &
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        for p in $pids; do wait "$p" || status=1; done
        pids=""
        running=0
    fi
done
for p in $pids; do wait "$p" || status=1; done
for t in $targets; do cat "$build/fuzz-logs/$t.summary"; done
exit $status
