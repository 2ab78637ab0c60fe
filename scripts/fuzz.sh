#!/usr/bin/env bash
# make fuzz: build the libFuzzer targets (clang, ASan+UBSan, the library
# compiled for coverage) into build-fuzz and run each for SECONDS, one
# after the other, on its checked-in corpus and regression inputs.  New
# inputs accumulate in build-fuzz/fuzz-corpus/<target> from run to run;
# crash inputs land in build-fuzz/fuzz-artifacts.  Prints the executions
# of each target; exits non-zero if any target found something.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 s, all targets)
#   scripts/fuzz.sh --build                   only build (make check uses it)
#   scripts/fuzz.sh --seeds                   regenerate fuzz/corpus/
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}

setup() {
    if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
        CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=true -Dtests=false \
            -Db_sanitize=address,undefined -Db_lundef=false \
            "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" \
            >/dev/null || return 1
    fi
    ninja -C "$FUZZ_BUILD" fuzz-targets fuzz/gen_seeds >/dev/null ||
        { ninja -C "$FUZZ_BUILD" fuzz-targets fuzz/gen_seeds; return 1; }
}

seeds() {
    local t
    for t in fuzz_version fuzz_server_conn fuzz_client_reply fuzz_dirty_report; do
        rm -rf "fuzz/corpus/$t"
        mkdir -p "fuzz/corpus/$t"
    done
    "$FUZZ_BUILD/fuzz/gen_seeds" fuzz/corpus
}

setup || exit 1
case ${1:-} in
    --build) exit 0 ;;
    --seeds) seeds; exit ;;
esac
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(find "$FUZZ_BUILD/fuzz" -maxdepth 1 -type f \
                               -name 'fuzz_*' -perm -u+x -printf '%f\n' | sort)
fi

status=0
for t in "${targets[@]}"; do
    echo "== $t: $secs s" >&2
    FUZZ_WORK=$FUZZ_BUILD/fuzz-corpus FUZZ_ARTIFACTS=$FUZZ_BUILD/fuzz-artifacts \
        fuzz/run.sh "$FUZZ_BUILD/fuzz/$t" "$t" "$secs" "$PWD" || status=1
done
exit $status
