#!/usr/bin/env bash
# Run one fuzz target: its regression inputs once each, then fuzzing for
# SECONDS on the checked-in corpus and regressions.  Exit status is
# libFuzzer's: non-zero on a crash, a leak, a hang (-timeout) or a broken
# invariant, so a test runner fails with it.
#
#   fuzz/run.sh EXE NAME SECONDS SOURCE_ROOT    (FUZZ_SECONDS overrides)
#
# New inputs go to a scratch corpus: $FUZZ_WORK/NAME when set (make fuzz
# keeps it between runs), a temporary directory otherwise; the checked-in
# corpus is only read.  Crash inputs go to $FUZZ_ARTIFACTS (default:
# ./fuzz-artifacts, i.e. under the build directory when meson runs it).
# The last line says how many executions the run made.
set -uo pipefail

exe=$(realpath "$1") name=$2 secs=${FUZZ_SECONDS:-$3} src=$4
corpus=$src/fuzz/corpus/$name
regress=$src/fuzz/regressions/$name
mkdir -p "$corpus" "$regress"

if [ -n "${FUZZ_WORK:-}" ]; then
    work=$FUZZ_WORK/$name
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/uvfio-fuzz.XXXXXX")
fi
artifacts=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$artifacts"

# Inputs the targets need room for: whole sessions of messages.
case $name in
    fuzz_server_conn) max_len=16384 ;;
    fuzz_client_reply) max_len=32768 ;;
    *) max_len=4096 ;;
esac
opts=(-timeout=10 -rss_limit_mb=2048 -max_len=$max_len
      -artifact_prefix="$artifacts/$name-" -print_final_stats=1)
[ -f "$src/fuzz/$name.dict" ] && opts+=(-dict="$src/fuzz/$name.dict")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
log=$work/.log-$$
trap 'rm -f "$log"; [ -z "${FUZZ_WORK:-}" ] && rm -rf "$work"' EXIT

# Every regression input on its own first, so one that crashes again is
# named in the output rather than lost in a fuzzing run.
mapfile -t inputs < <(find "$regress" -type f | sort)
if [ ${#inputs[@]} -gt 0 ]; then
    if ! "$exe" "${opts[@]}" "${inputs[@]}" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "$name: a regression input fails again"
        exit 1
    fi
fi

"$exe" "${opts[@]}" -max_total_time="$secs" "$work" "$corpus" "$regress" \
    >"$log" 2>&1
status=$?
if [ $status -ne 0 ]; then
    tail -n 80 "$log"
    echo "$name: FAILED (exit $status); inputs in $artifacts"
    exit $status
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
echo "$name: ${runs:-?} executions in ${secs} s, ${cov:-cov: ?}," \
     "${#inputs[@]} regression inputs pass"
