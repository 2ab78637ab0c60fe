#!/usr/bin/env bash
# make bench: run every benchmark built in BUILD_DIR/bench.  They report
# numbers and never fail on them; a benchmark that crashes does fail.
#
# usage: scripts/bench.sh BUILD_DIR [args passed to each benchmark]
set -euo pipefail

BUILD=${1:?usage: scripts/bench.sh BUILD_DIR}
shift
status=0
found=0
for bin in "$BUILD"/bench/*; do
	[[ -f "$bin" && -x "$bin" ]] || continue
	found=1
	echo "== $(basename "$bin")"
	"$bin" "$@" || { echo "bench: $(basename "$bin") failed" >&2; status=1; }
	echo
done
((found)) || { echo "bench: nothing built in $BUILD/bench (run: ninja -C $BUILD)" >&2; exit 1; }
exit $status
