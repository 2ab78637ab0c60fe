#!/usr/bin/env bash
# test-stand-in.sh — end-to-end check of the QEMU guest harness, with QEMU's
# own emulated pci-serial (1b36:0002) standing in for uvfio-serial.
#
# The guest finds the PCI UART, sends "hello from guest <token>" out of it
# and waits for a line back. This script is the other end of that UART (a
# FIFO pair inside the QEMU root): it checks the guest's line, answers with
# a line of its own, and then checks the console for the guest's
# "UVFIO-GUEST: got: <that line>" and "result=ok".
#
# With uvfio-serial, only the UART's attachment changes: see DEVICE below.
#
# Exit 0 on success; non-zero with "FAIL: why" (and the console tail) on
# failure. Everything is bounded: the whole run is capped at LIMIT seconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIMIT=${UVFIO_QEMU_TEST_LIMIT:-50}

"$HERE/prepare.sh"
ROOT=$("$HERE/run-guest.sh" --print-root)

# The FIFOs and the console log live in a private dir inside the root, so
# the chrooted QEMU can open them; removed on any exit.
WORK=$(mktemp -d "$ROOT/tmp/uvfio-stand-in.XXXXXX")
QPID=''
cleanup() {
	if [[ -n "$QPID" ]] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [[ -s "$WORK/console.log" ]]; then
		echo "---- guest console (last 40 lines) ----" >&2
		tail -n 40 "$WORK/console.log" >&2
		echo "---------------------------------------" >&2
	fi
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

TOKEN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
REPLY="reply from host $(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

mkfifo "$WORK/serial.in" "$WORK/serial.out"
# The line that picks the device under test. For uvfio-serial this becomes
# (--vfio-user "$WORK/uvfio.sock") with the server started on that socket.
DEVICE=(--stand-in --serial-pipe "$WORK/serial")

T0=$(now_ms)
"$HERE/run-guest.sh" "${DEVICE[@]}" --token "$TOKEN" --timeout "$LIMIT" \
	--reply-timeout 20 --console "$WORK/console.log" &
QPID=$!

# Open both FIFOs read-write: that never blocks (a read-only open would wait
# for a writer forever if QEMU never starts), and it keeps each FIFO alive
# whichever side closes first.
exec {FROM_GUEST}<>"$WORK/serial.out" {TO_GUEST}<>"$WORK/serial.in"

# Read the guest's line in 1 s slices so a dead QEMU or the deadline stops
# us; bash's read -t keeps what it got on a timeout, so nothing is lost.
deadline=$((SECONDS + LIMIT))
line='' part=''
while :; do
	if IFS= read -r -t 1 part <&"$FROM_GUEST"; then
		line+=$part
		break
	fi
	line+=$part
	kill -0 "$QPID" 2>/dev/null || fail "QEMU exited before the guest wrote to the PCI UART (got so far: '$line')"
	((SECONDS < deadline)) || fail "no line from the guest within ${LIMIT}s (got so far: '$line')"
done
T_LINE=$(now_ms)
line=${line%$'\r'}
[[ "$line" == "hello from guest $TOKEN" ]] ||
	fail "guest wrote '$line', expected 'hello from guest $TOKEN'"
echo "ok: guest -> host over the PCI UART: '$line' ($((T_LINE - T0)) ms after QEMU start)"

printf '%s\n' "$REPLY" >&"$TO_GUEST"

# The guest powers off once it has the line (or its own timeouts fire);
# run-guest.sh's --timeout bounds this wait.
rc=0
wait "$QPID" || rc=$?
QPID=''
T_END=$(now_ms)
((rc != 124)) || fail "QEMU killed after ${LIMIT}s timeout"
((rc == 0)) || fail "QEMU exited with status $rc"

console=$WORK/console.log
grep -q "UVFIO-GUEST: tty=ttyS[0-9]* driver=serial" "$console" ||
	fail "console lacks 'UVFIO-GUEST: tty=ttyS<n> driver=serial'"
grep -qF "UVFIO-GUEST: got: $REPLY" "$console" ||
	fail "console lacks 'UVFIO-GUEST: got: $REPLY'"
grep -q "UVFIO-GUEST: result=ok" "$console" || fail "console lacks 'UVFIO-GUEST: result=ok'"
echo "ok: host -> guest over the PCI UART: '$REPLY'"
grep -a 'UVFIO-GUEST:' "$console" | sed 's/^/  guest: /'
echo "ok: guest powered off $((T_END - T0)) ms after QEMU start"
echo "1 passed, 0 failed"
