#!/usr/bin/env bash
# test-vfio-user-serial.sh — the real-client test: QEMU's own vfio-user
# client (vfio-user-pci) attaches uvfio-serial, and a stock Debian guest
# uses it through its ordinary 8250_pci driver.
#
# usage: test-vfio-user-serial.sh [--valgrind] UVFIO_SERIAL_BINARY
#
# uvfio-serial listens on a socket inside the QEMU root (QEMU runs chrooted
# there) with its UART line on a FIFO pair this script holds: serial.out
# carries what the guest writes, serial.in what it reads. The test asserts
#   - the guest's 8250_pci ("serial") driver binds 1b36:0002 and its tty,
#     and the device's INTx reaches the guest;
#   - "hello from guest <token>" written to that tty arrives on serial.out;
#   - a line written into serial.in is read by the guest (its console
#     shows "UVFIO-GUEST: got: <line>");
#   - QEMU exits 0 with nothing on stderr (no vfio-user error or warning);
#   - all of the above twice, the second QEMU reconnecting to the same
#     uvfio-serial: it survives a client going away and serves the next;
#   - uvfio-serial exits 0 on SIGTERM, removes its socket and prints
#     nothing but its "listening" line;
#   - with --valgrind, uvfio-serial runs under memcheck: no errors, no
#     leaks, no descriptor left open that it did not inherit.
#
# See INTEROP.md for what QEMU sends. Everything is bounded: the guest run
# is capped at UVFIO_QEMU_TEST_LIMIT seconds (default 60, 120 with
# --valgrind), every other wait at a few seconds.
#
# Exit 0 and "1 passed, 0 failed" on success; exit 1 with "FAIL: why", the
# guest console tail, QEMU's stderr and uvfio-serial's log otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

valgrind=0
if [[ "${1:-}" == --valgrind ]]; then
	valgrind=1
	shift
fi
if (($# != 1)); then
	echo "usage: $0 [--valgrind] UVFIO_SERIAL_BINARY" >&2
	exit 2
fi
SERIAL_BIN=$(readlink -f "$1")
[[ -x "$SERIAL_BIN" ]] || {
	echo "FAIL: $1 is not an executable uvfio-serial" >&2
	exit 1
}
if ((valgrind)); then
	LIMIT=${UVFIO_QEMU_TEST_LIMIT:-120}
	# Under memcheck start-up alone takes a second or two.
	SOCKET_WAIT=30
	command -v valgrind >/dev/null || {
		echo "FAIL: --valgrind given but valgrind is not installed" >&2
		exit 1
	}
else
	LIMIT=${UVFIO_QEMU_TEST_LIMIT:-60}
	SOCKET_WAIT=10
fi
[[ $(id -u) == 0 ]] || {
	echo "FAIL: must run as root (QEMU runs chrooted in the prepared root)" >&2
	exit 1
}

"$HERE/prepare.sh"
ROOT=$("$HERE/run-guest.sh" --print-root)

# Socket, FIFOs and logs live in a private dir inside the root, where the
# chrooted QEMU can reach the socket; removed on any exit.
WORK=$(mktemp -d "$ROOT/tmp/uvfio-serial-test.XXXXXX")
SOCK=$WORK/uvfio.sock
CONSOLE='' QEMU_ERR=''   # the current guest session's (guest_session)
SERIAL_LOG=$WORK/uvfio-serial.log
VG_LOG=$WORK/valgrind.log
QPID='' SPID=''

cleanup() {
	local pid
	for pid in "$QPID" "$SPID"; do
		if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
# meson's timeout sends TERM: leave through the EXIT trap, not around it.
trap 'exit 143' TERM
trap 'exit 130' INT

show() { # title file [lines]
	[[ -s "$2" ]] || return 0
	echo "---- $1 (last ${3:-40} lines) ----" >&2
	tail -n "${3:-40}" "$2" >&2
}
fail() {
	echo "FAIL: $*" >&2
	show "guest console" "$CONSOLE"
	show "QEMU stderr" "$QEMU_ERR" 20
	show "uvfio-serial stderr" "$SERIAL_LOG" 20
	show "valgrind" "$VG_LOG" 60
	echo "----" >&2
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# wait_exit PID SECS: wait for a child to end, at most SECS; its status in
# $rc, 255 (and still running) on a timeout.
wait_exit() {
	local pid=$1 deadline=$((SECONDS + $2))
	while alive "$pid"; do
		if ((SECONDS >= deadline)); then
			rc=255
			return
		fi
		sleep 0.1
	done
	rc=0
	wait "$pid" || rc=$?
}

# Both FIFOs open read-write on our side first: that never blocks, lets
# uvfio-serial open its ends without waiting for us, and keeps each FIFO
# alive whichever side closes first.
mkfifo "$WORK/serial.in" "$WORK/serial.out"
exec {FROM_GUEST}<>"$WORK/serial.out" {TO_GUEST}<>"$WORK/serial.in"

# ---- the device server ------------------------------------------------------
server=("$SERIAL_BIN" --socket-path="$SOCK" --chardev="pipe:$WORK/serial")
if ((valgrind)); then
	# shellcheck disable=SC2054 # the commas belong to valgrind's option
	server=(valgrind --log-file="$VG_LOG" --error-exitcode=99
		--leak-check=full --show-leak-kinds=all
		--errors-for-leak-kinds=definite,indirect,possible
		--track-fds=yes "${server[@]}")
fi
T0=$(now_ms)
# Our FIFO ends are closed in the child: it must only hold its own, or a
# descriptor check could not tell them apart.
"${server[@]}" </dev/null >"$SERIAL_LOG" 2>&1 {FROM_GUEST}>&- {TO_GUEST}>&- &
SPID=$!
deadline=$((SECONDS + SOCKET_WAIT))
until [[ -S "$SOCK" ]]; do
	alive "$SPID" || fail "uvfio-serial exited before listening on $SOCK"
	((SECONDS < deadline)) || fail "uvfio-serial not listening on $SOCK after ${SOCKET_WAIT}s"
	sleep 0.05
done
echo "ok: uvfio-serial listening ($(($(now_ms) - T0)) ms)"

# ---- the guest -------------------------------------------------------------------
# guest_session N: boot the guest on the running server, exchange a line
# each way, check the verdict. Session 2 reconnects to the same server: it
# must have dropped the first client's maps and eventfds and serve again.
guest_session() {
	local n=$1 line part irq_count markers deadline t0 t_line t_end
	local token reply
	token=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	reply="reply from host $(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	CONSOLE=$WORK/console-$n.log
	QEMU_ERR=$WORK/qemu-$n.err

	alive "$SPID" || fail "uvfio-serial is gone before guest session $n"
	t0=$(now_ms)
	"$HERE/run-guest.sh" --vfio-user "$SOCK" --token "$token" --timeout "$LIMIT" \
		--reply-timeout 20 --console "$CONSOLE" 2>"$QEMU_ERR" &
	QPID=$!

	# The guest's line, read in 1 s slices so a dead QEMU or server or the
	# deadline stops us; bash's read -t keeps a partial line on timeout.
	deadline=$((SECONDS + LIMIT))
	line='' part=''
	while :; do
		if IFS= read -r -t 1 part <&"$FROM_GUEST"; then
			line+=$part
			break
		fi
		line+=$part
		alive "$QPID" || fail "session $n: QEMU exited before the guest wrote to the PCI UART (got so far: '$line')"
		alive "$SPID" || fail "session $n: uvfio-serial died while the guest was booting (got so far: '$line')"
		((SECONDS < deadline)) || fail "session $n: no line from the guest within ${LIMIT}s (got so far: '$line')"
	done
	t_line=$(now_ms)
	line=${line%$'\r'}
	[[ "$line" == "hello from guest $token" ]] ||
		fail "session $n: the chardev got '$line' from the guest, expected 'hello from guest $token'"
	echo "ok: session $n: guest -> uvfio-serial chardev: '$line' ($((t_line - t0)) ms after QEMU start)"

	printf '%s\n' "$reply" >&"$TO_GUEST"

	# The guest powers off once it has the line (or its own timeouts
	# fire); run-guest.sh's --timeout bounds QEMU, the margin covers its
	# kill delay.
	wait_exit "$QPID" $((LIMIT + 15))
	((rc != 255)) || fail "session $n: QEMU still running ${LIMIT}s after start"
	QPID=''
	t_end=$(now_ms)
	((rc != 124)) || fail "session $n: QEMU killed by run-guest.sh's ${LIMIT}s timeout"
	((rc == 0)) || fail "session $n: QEMU exited with status $rc"

	# The console is a serial line: CRLF line ends.
	markers=$CONSOLE.txt
	tr -d '\r' <"$CONSOLE" >"$markers"
	grep -q "UVFIO-GUEST: pci=[0-9a-f:.]* id=1b36:0002 class=0x070002 irq=[0-9]* driver=serial\$" "$markers" ||
		fail "session $n: console lacks 'UVFIO-GUEST: pci=... id=1b36:0002 class=0x070002 irq=<n> driver=serial'"
	grep -q "UVFIO-GUEST: tty=ttyS[0-9]* driver=serial\$" "$markers" ||
		fail "session $n: console lacks 'UVFIO-GUEST: tty=ttyS<n> driver=serial' (8250_pci did not register the port)"
	# (reply is letters, digits and spaces: safe in a pattern)
	grep -q "UVFIO-GUEST: got: $reply\$" "$markers" ||
		fail "session $n: the guest did not read '$reply' from its tty (no 'UVFIO-GUEST: got:' line)"
	# The guest reads interrupt-driven: a dead INTx shows as count 0.
	irq_count=$(sed -n 's/.*UVFIO-GUEST: irq=[0-9]* count=\([0-9]*\)$/\1/p' "$markers")
	[[ -n "$irq_count" ]] || fail "session $n: console lacks the guest's 'UVFIO-GUEST: irq=<n> count=<c>' line"
	((irq_count > 0)) || fail "session $n: the guest saw no interrupt from the device (INTx count 0)"
	grep -q "UVFIO-GUEST: result=ok\$" "$markers" || fail "session $n: console lacks 'UVFIO-GUEST: result=ok'"
	echo "ok: session $n: uvfio-serial chardev -> guest: '$reply' (INTx delivered $irq_count times)"
	grep -a 'UVFIO-GUEST:' "$markers" | sed 's/^/  guest: /'

	[[ ! -s "$QEMU_ERR" ]] || fail "session $n: QEMU wrote to stderr (vfio-user errors or warnings)"
	echo "ok: session $n: QEMU exited 0 with a clean stderr, $((t_end - t0)) ms after start"

	# QEMU just closes the socket when the guest powers off; the server
	# must keep serving (the next client may come) until told to stop.
	sleep 0.2
	if ! alive "$SPID"; then
		wait "$SPID" || true
		SPID=''
		fail "session $n: uvfio-serial exited when QEMU disconnected"
	fi
}

guest_session 1
guest_session 2

# ---- the server's end -----------------------------------------------------------
kill -TERM "$SPID"
wait_exit "$SPID" $((valgrind ? 30 : 10))
((rc != 255)) || fail "uvfio-serial still running after SIGTERM"
SPID=''
((!valgrind || rc != 99)) || fail "valgrind found memory errors or leaks in uvfio-serial"
((rc == 0)) || fail "uvfio-serial exited with status $rc after SIGTERM"
[[ ! -e "$SOCK" ]] || fail "uvfio-serial left its socket $SOCK behind"
unexpected=$(grep -v "^uvfio-serial: listening on $SOCK\$" "$SERIAL_LOG" || true)
[[ -z "$unexpected" ]] || fail "uvfio-serial printed more than its 'listening' line: $(head -n 5 <<<"$unexpected")"
echo "ok: uvfio-serial exited 0 on SIGTERM, socket removed, no errors logged"

if ((valgrind)); then
	# Every descriptor still open at exit must be one it was given.
	leaked=$(awk '
		/Open (file descriptor|[A-Z0-9_]+ socket) [0-9]+/ {
			if (cur != "" && !inh) print cur
			cur = $0; inh = 0; next
		}
		/<inherited from parent>/ { inh = 1 }
		END { if (cur != "" && !inh) print cur }
	' "$VG_LOG")
	[[ -z "$leaked" ]] || fail "uvfio-serial leaked descriptors: $leaked"
	grep -q "ERROR SUMMARY: 0 errors" "$VG_LOG" || fail "valgrind reports errors in uvfio-serial"
	echo "ok: valgrind: no errors, no leaks, no descriptor leaks in uvfio-serial"
fi
echo "1 passed, 0 failed"
