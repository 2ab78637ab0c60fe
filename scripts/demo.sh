#!/usr/bin/env bash
# make demo: start uvfio-serial on a private socket, show it with
# uvfio-info (text, then the JSON's PCI part), live-migrate it to a second
# uvfio-serial with uvfio-migrate and back, stop both with SIGTERM and
# check they exited cleanly and removed their sockets.  Then live-migrate
# a uvfio-edu together with 1 GiB of guest memory that the guest and the
# device's DMA keep writing, and show the verified result.
#
# usage: scripts/demo.sh BUILD_DIR
set -euo pipefail

BUILD=${1:?usage: scripts/demo.sh BUILD_DIR}
SERIAL=$BUILD/drivers/serial/uvfio-serial
INFO=$BUILD/tools/info/uvfio-info
MIGRATE=$BUILD/tools/migrate/uvfio-migrate
EDU=$BUILD/drivers/edu/uvfio-edu
for bin in "$SERIAL" "$INFO" "$MIGRATE" "$EDU"; do
	[[ -x "$bin" ]] || { echo "demo: $bin not built (run: ninja -C $BUILD)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/uvfio-demo.XXXXXX)
PID=''
PID2=''
EPID=''
EPID2=''
cleanup() {
	for p in "$PID" "$PID2" "$EPID" "$EPID2"; do
		if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

SOCK=$WORK/serial.sock
echo "== starting uvfio-serial on $SOCK (UART output -> $WORK/uart.out)"
"$SERIAL" --socket-path="$SOCK" --chardev="file:$WORK/uart.out" &
PID=$!
for _ in $(seq 100); do
	[[ -S "$SOCK" ]] && break
	kill -0 "$PID" 2>/dev/null || { echo "demo: uvfio-serial exited early" >&2; exit 1; }
	sleep 0.05
done
[[ -S "$SOCK" ]] || { echo "demo: no socket after 5 s" >&2; exit 1; }

echo
echo "== uvfio-info $SOCK"
"$INFO" "$SOCK"

echo
echo "== uvfio-info --json $SOCK (its \"pci\" member)"
"$INFO" --json "$SOCK" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["pci"], indent=2))'

SOCK2=$WORK/serial2.sock
echo
echo "== starting a second uvfio-serial on $SOCK2, idle (UART output -> $WORK/uart2.out)"
"$SERIAL" --socket-path="$SOCK2" --chardev="file:$WORK/uart2.out" &
PID2=$!
for _ in $(seq 100); do
	[[ -S "$SOCK2" ]] && break
	kill -0 "$PID2" 2>/dev/null || { echo "demo: second uvfio-serial exited early" >&2; exit 1; }
	sleep 0.05
done
[[ -S "$SOCK2" ]] || { echo "demo: no second socket after 5 s" >&2; exit 1; }

echo
echo "== uvfio-migrate $SOCK $SOCK2 (precopy, then stop-copy)"
"$MIGRATE" --progress "$SOCK" "$SOCK2"

echo
echo "== the old source is stopped now: migrating it again is refused"
rc=0
"$MIGRATE" --quiet "$SOCK" "$SOCK2" || rc=$?
[[ $rc -eq 1 ]] || { echo "demo: expected exit status 1, got $rc" >&2; exit 1; }

echo
echo "== and back: uvfio-migrate --json --no-precopy $SOCK2 $SOCK"
"$MIGRATE" --json --no-precopy "$SOCK2" "$SOCK" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("result %s, %d bytes in stop-copy, downtime %.3f ms, source %s, destination %s"
      % (r["result"], r["bytes_stopcopy"], r["downtime_ms"], r["source_after"],
         r["destination_after"]))'

echo
echo "== uvfio-info $SOCK, the device back where it started (its \"pci\" member)"
"$INFO" --json "$SOCK" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["pci"], indent=2))'

echo
echo "== stopping both uvfio-serial (SIGTERM)"
kill -TERM "$PID" "$PID2"
rc=0
wait "$PID" || rc=$?
PID=''
rc2=0
wait "$PID2" || rc2=$?
PID2=''
[[ $rc -eq 0 && $rc2 -eq 0 ]] || { echo "demo: uvfio-serial exited with $rc / $rc2" >&2; exit 1; }
[[ ! -e "$SOCK" && ! -e "$SOCK2" ]] || { echo "demo: socket left behind" >&2; exit 1; }
echo "both uvfio-serial exited 0 and removed their sockets"

# ---- live migration with guest memory ---------------------------------------

wait_socket() { # SOCKET PID: until the server listens there
	for _ in $(seq 100); do
		[[ -S "$1" ]] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	echo "demo: no server on $1" >&2
	return 1
}

EDU1=$WORK/edu1.sock
EDU2=$WORK/edu2.sock
echo
echo "== starting two uvfio-edu (QEMU's edu with a copy queue): $EDU1, $EDU2"
"$EDU" --socket-path="$EDU1" 2>/dev/null &
EPID=$!
"$EDU" --socket-path="$EDU2" 2>/dev/null &
EPID2=$!
wait_socket "$EDU1" "$EPID"
wait_socket "$EDU2" "$EPID2"

echo
echo "== uvfio-migrate --guest-memory 1G --guest-write-rate 50" \
	"--device-dma-rate 100 $EDU1 $EDU2"
echo "   (1 GiB of guest memory on each side; the guest writes 50 MiB/s of it,"
echo "    the device's copy queue 100 MiB/s by DMA; memory and device state are"
echo "    verified at the destination before it runs)"
"$MIGRATE" --progress --guest-memory 1G --guest-write-rate 50 \
	--device-dma-rate 100 "$EDU1" "$EDU2" | tee "$WORK/live.out"
grep -q '^  verified   memory: 262144 pages identical' "$WORK/live.out" ||
	{ echo "demo: the live migration was not verified" >&2; exit 1; }

echo
echo "== stopping both uvfio-edu (SIGTERM)"
kill -TERM "$EPID" "$EPID2"
rc=0
wait "$EPID" || rc=$?
EPID=''
rc2=0
wait "$EPID2" || rc2=$?
EPID2=''
[[ $rc -eq 0 && $rc2 -eq 0 ]] ||
	{ echo "demo: uvfio-edu exited with $rc / $rc2" >&2; exit 1; }
echo "both uvfio-edu exited 0"
