#!/usr/bin/env bash
# make demo: start uvfio-serial on a private socket, show it with
# uvfio-info (text, then the JSON's PCI part), stop it with SIGTERM and
# check it exited cleanly and removed its socket.
#
# usage: scripts/demo.sh BUILD_DIR
set -euo pipefail

BUILD=${1:?usage: scripts/demo.sh BUILD_DIR}
SERIAL=$BUILD/drivers/serial/uvfio-serial
INFO=$BUILD/tools/info/uvfio-info
for bin in "$SERIAL" "$INFO"; do
	[[ -x "$bin" ]] || { echo "demo: $bin not built (run: ninja -C $BUILD)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/uvfio-demo.XXXXXX)
PID=''
cleanup() {
	if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null || true
	fi
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

echo
echo "== stopping uvfio-serial (SIGTERM)"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=''
[[ $rc -eq 0 ]] || { echo "demo: uvfio-serial exited with $rc" >&2; exit 1; }
[[ ! -e "$SOCK" ]] || { echo "demo: socket left behind" >&2; exit 1; }
echo "uvfio-serial exited 0 and removed its socket"
