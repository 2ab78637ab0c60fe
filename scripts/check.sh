#!/usr/bin/env bash
# make check: every test in a plain build and in an ASan+UBSan build, each
# fuzz target for a short bounded time, the integration suite once more
# under valgrind, the guest boot test once.
# Ends with the line "N passed, N failed" summed over all runs.
set -uo pipefail
cd "$(dirname "$0")/.."

# valgrind would look for missing debug info over the network (debuginfod)
# when this is set: slow, and its helper's pipes show up among the fds the
# tests count.
unset DEBUGINFOD_URLS
# Without a gdbserver a valgrind that is killed (a test's server at its
# end) leaves no /tmp/vgdb-pipe-* files behind: a make check left
# hundreds.
export VALGRIND_OPTS="--vgdb=no${VALGRIND_OPTS:+ $VALGRIND_OPTS}"

BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
logs=()
status=0

setup() {  # dir, extra meson args...
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null || return 1
    fi
    ninja -C "$dir" >/dev/null || { ninja -C "$dir"; return 1; }
}

run() {  # dir, name, meson test args...
    local dir=$1 name=$2; shift 2
    echo "== $name ==" >&2
    meson test -C "$dir" --print-errorlogs --logbase "check-$name" "$@" >&2 || status=1
    logs+=("$dir/meson-logs/check-$name.json")
}

setup "$BUILD" || { echo "0 passed, 1 failed"; exit 1; }
run "$BUILD" plain --no-suite qemu --no-suite valgrind

CC=clang setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false \
    || { echo "0 passed, 1 failed"; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run "$ASAN_BUILD" asan --no-suite qemu --no-suite valgrind

# Each libFuzzer target briefly (make fuzz runs them longer): a crash on
# the corpus, a regression input or a new input fails its test.
FUZZ_BUILD=$FUZZ_BUILD scripts/fuzz.sh --build || { echo "0 passed, 1 failed"; exit 1; }
FUZZ_SECONDS=${FUZZ_CHECK_SECONDS:-15} run "$FUZZ_BUILD" fuzz --suite fuzz --no-rebuild

run "$BUILD" valgrind --suite valgrind
run "$BUILD" qemu --suite qemu

python3 scripts/test-summary.py "${logs[@]}" || status=1
exit $status
