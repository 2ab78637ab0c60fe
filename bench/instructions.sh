#!/usr/bin/env bash
# bench/instructions.sh - user-space instructions per small round trip,
# client and server, next to a raw AF_UNIX ping-pong counted the same way.
#
# usage: bench/instructions.sh BUILD_DIR [--json] [--ops=LOW,HIGH] [--keep]
#
# Wall-clock figures on a shared 2-CPU machine drift by 10-30 %; the
# instructions a process executes do not.  So each workload of
# BUILD_DIR/bench/instr_driver (4-byte REGION_READs, 4-byte REGION_WRITEs,
# raw 32 B / 36 B ping-pongs) runs under callgrind, which follows the
# exec'd other end (--trace-children=yes) and counts every instruction of
# each process - in user space only: the kernel's share (the syscalls) is
# not in it.  Each runs twice, with LOW and HIGH round trips (default
# 2000 and 12000); the difference of the totals divided by HIGH - LOW is
# one round trip, with start-up, connection and teardown cancelled out.
#
# The figures are deterministic up to a few instructions (a recvmsg that
# sleeps through a SO_RCVTIMEO slice, a wake-up that comes a turn late).
# They depend on the build: use a release-like build (the default
# debugoptimized one), not a sanitizer build.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--json] [--ops=LOW,HIGH] [--keep]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
BUILD=$1; shift
json=0 keep=0 low=2000 high=12000
for a in "$@"; do
	case $a in
	--json) json=1 ;;
	--keep) keep=1 ;;
	--ops=*,*) low=${a#--ops=}; low=${low%,*}; high=${a#*,} ;;
	*) usage ;;
	esac
done
[[ $low =~ ^[0-9]+$ && $high =~ ^[0-9]+$ && $high -gt $low ]] || usage
driver=$(cd "$BUILD/bench" 2>/dev/null && pwd)/instr_driver
[[ -x $driver ]] || { echo "$0: $driver not built (ninja -C $BUILD bench/instr_driver)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "$0: valgrind not found" >&2; exit 1; }

out=$(mktemp -d /tmp/uvfio-instr-XXXXXX)
((keep)) || trap 'rm -rf "$out"' EXIT

# Total instructions of each process of one run: "client N" / "server N".
count() {  # mode ops
	local dir=$out/$1-$2 f cmd total
	mkdir -p "$dir"
	# The server is one thread: under valgrind it may wait on io_uring
	# (src/server/ring.c), so the path counted is the one that runs.
	UVFIO_VALGRIND_ONE_THREAD=1 \
	valgrind --tool=callgrind --trace-children=yes --dump-instr=no \
		--callgrind-out-file="$dir/cg.%p" "$driver" "$1" "$2" \
		>"$dir/log" 2>&1 || { cat "$dir/log" >&2; return 1; }
	for f in "$dir"/cg.*; do
		cmd=$(sed -n 's/^cmd: *//p' "$f")
		total=$(sed -n 's/^totals: *//p;s/^summary: *//p' "$f" | head -n1)
		case $cmd in
		*--serve=* | *--echo=*) echo "server $total" ;;
		*) echo "client $total" ;;
		esac
	done
}

# Instructions per round trip for one side: (high run - low run) / ops.
per_op() {  # side low_counts high_counts
	local a b
	a=$(awk -v s="$1" '$1 == s { print $2 }' <<<"$2")
	b=$(awk -v s="$1" '$1 == s { print $2 }' <<<"$3")
	[[ -n $a && -n $b ]] || { echo "$0: no $1 profile" >&2; return 1; }
	awk -v a="$a" -v b="$b" -v n=$((high - low)) 'BEGIN { printf "%.0f", (b - a) / n }'
}

declare -A res
for mode in raw read write; do
	lo=$(count "$mode" "$low")
	hi=$(count "$mode" "$high")
	res[$mode.client]=$(per_op client "$lo" "$hi")
	res[$mode.server]=$(per_op server "$lo" "$hi")
done

if ((json)); then
	printf '{"unit":"instructions per round trip","ops":[%d,%d]' "$low" "$high"
	for mode in raw read write; do
		printf ',"%s":{"client":%d,"server":%d}' "$mode" \
			"${res[$mode.client]}" "${res[$mode.server]}"
	done
	printf '}\n'
	exit 0
fi
printf 'user-space instructions per round trip (callgrind, %d vs %d ops)\n' "$low" "$high"
printf '%-34s %10s %10s %10s\n' "" client server total
row() {  # label mode
	printf '%-34s %10d %10d %10d\n' "$1" "${res[$2.client]}" "${res[$2.server]}" \
		$((res[$2.client] + res[$2.server]))
}
row "raw AF_UNIX ping-pong (32/36 B)" raw
row "REGION_READ 4 B" read
row "REGION_WRITE 4 B" write
((keep)) && echo "profiles kept in $out"
exit 0
