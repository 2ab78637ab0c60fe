#!/bin/sh
# This is busybox ash, not POSIX sh: read -t (SC3045) is fine, and the
# find_* functions are called through wait_for (SC2317).
# shellcheck disable=SC3045,SC2317
# /init of the uvfio QEMU test guest (busybox ash, PID 1 in the initramfs
# that tests/qemu/prepare.sh builds).
#
# It finds the PCI UART named on the kernel command line, sends one line out
# of it, reads one line back, reports every step on the console as
# "UVFIO-GUEST: ..." lines the host-side test greps for, and powers off.
#
# Kernel command line parameters (all optional):
#   uvfio.pci=VVVV:DDDD   PCI vendor:device of the UART (default 1b36:0002)
#   uvfio.token=WORD      sent as "hello from guest WORD" (default: random)
#   uvfio.timeout=SECS    how long to wait for the reply line (default 20)
#   uvfio.watchdog=SECS   hard limit for the whole init (default 60)
#   uvfio.shell=1         drop to a console shell at the end, no poweroff
#
# Markers (one per line, in this order on success):
#   UVFIO-GUEST: start kernel=<release>
#   UVFIO-GUEST: pci=<bdf> id=<vvvv:dddd> class=<0xcccccc> irq=<n> driver=<name>
#   UVFIO-GUEST: tty=<ttySn> driver=<name>
#   UVFIO-GUEST: sent: hello from guest <token>
#   UVFIO-GUEST: got: <line>
#   UVFIO-GUEST: irq=<n> count=<interrupts seen on it>
#   UVFIO-GUEST: result=ok            (or "error: ..." then "result=fail")
#   UVFIO-GUEST: poweroff
#
# Every wait is bounded: a device that never appears, never interrupts or
# never answers ends in "result=fail" and a poweroff, never in a hung guest.
# If this script itself dies, the kernel panics (PID 1 exited), and with
# panic=-1 plus QEMU's -no-reboot that also ends the VM.

PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

say() { echo "UVFIO-GUEST: $*"; }

finish() {
	if [ "$SHELL_AT_END" = 1 ]; then
		say "shell (exit it to power off)"
		setsid cttyhack sh
	fi
	say poweroff
	sync
	poweroff -f
	# poweroff -f does not return; if it somehow does, exiting PID 1
	# panics the kernel, which (panic=-1, -no-reboot) stops QEMU too.
	sleep 2
	exit "${1:-1}"
}

fail() {
	say "error: $*"
	say "result=fail"
	finish 1
}

# Seconds since boot (whole): the clock for every bounded wait below.
uptime_s() {
	read -r up _ </proc/uptime
	echo "${up%%.*}"
}

# Poll a condition (a shell command) every 0.1 s for up to $1 seconds of
# wall time (counted by the clock, not by iterations: under TCG each poll
# itself takes a noticeable while).
wait_for() {
	deadline=$(($(uptime_s) + $1))
	shift
	while ! "$@"; do
		[ "$(uptime_s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true

PCI_ID=1b36:0002
TOKEN=
READ_TIMEOUT=20
WATCHDOG=60
SHELL_AT_END=0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	uvfio.pci=*) PCI_ID=${arg#uvfio.pci=} ;;
	uvfio.token=*) TOKEN=${arg#uvfio.token=} ;;
	uvfio.timeout=*) READ_TIMEOUT=${arg#uvfio.timeout=} ;;
	uvfio.watchdog=*) WATCHDOG=${arg#uvfio.watchdog=} ;;
	uvfio.shell=*) SHELL_AT_END=${arg#uvfio.shell=} ;;
	esac
done
[ -n "$TOKEN" ] || TOKEN=$(cut -c1-8 /proc/sys/kernel/random/uuid)

# The firmware's last message has no newline; start the markers on a line
# of their own.
echo
say "start kernel=$(uname -r)"

# Hard stop for everything below, whatever blocks (an open, a write into a
# UART whose interrupt never comes, ...). Not with the debug shell.
if [ "$SHELL_AT_END" != 1 ]; then
	(
		sleep "$WATCHDOG"
		say "error: watchdog: init still running after ${WATCHDOG}s"
		say "result=fail"
		say poweroff
		poweroff -f
	) &
fi

# Modules, only if prepare.sh found 8250_pci built as a module.
if [ -s /lib/modules/load-order ]; then
	while read -r mod; do
		insmod "/lib/modules/$mod.ko" || say "warning: insmod $mod failed"
	done </lib/modules/load-order
fi

# --- the PCI device: match sysfs vendor/device (lower-case 0x%04x) --------
want_vendor=0x$(echo "${PCI_ID%%:*}" | tr 'A-F' 'a-f')
want_device=0x$(echo "${PCI_ID#*:}" | tr 'A-F' 'a-f')

find_pci() {
	PCIDEV=
	for d in /sys/bus/pci/devices/*; do
		[ -r "$d/vendor" ] || continue
		if [ "$(cat "$d/vendor")" = "$want_vendor" ] && [ "$(cat "$d/device")" = "$want_device" ]; then
			PCIDEV=$(readlink -f "$d")
			return 0
		fi
	done
	return 1
}
pci_ids() {
	for d in /sys/bus/pci/devices/*; do
		printf '%s:%s ' "$(cut -c3- "$d/vendor")" "$(cut -c3- "$d/device")"
	done
}
wait_for 10 find_pci || fail "no PCI device $PCI_ID; present: $(pci_ids)"

bdf=${PCIDEV##*/}
driver_of() { [ -e "$PCIDEV/driver" ] && basename "$(readlink "$PCIDEV/driver")"; }
# Driver binding can lag device discovery (e.g. if it came from a module).
wait_for 10 driver_of >/dev/null || true
DRIVER=$(driver_of)
IRQ=$(cat "$PCIDEV/irq" 2>/dev/null)
say "pci=$bdf id=$PCI_ID class=$(cat "$PCIDEV/class") irq=$IRQ driver=${DRIVER:-none}"
[ -n "$DRIVER" ] || fail "no driver bound to $bdf (8250_pci did not claim it)"

# --- its tty: a ttyS* whose device link is the PCI device (or below it) ---
find_tty() {
	TTY=
	for t in /sys/class/tty/ttyS*; do
		[ -e "$t/device" ] || continue
		case "$(readlink -f "$t/device")" in
		"$PCIDEV" | "$PCIDEV"/*)
			TTY=${t##*/}
			return 0
			;;
		esac
	done
	return 1
}
wait_for 10 find_tty || fail "no ttyS* belongs to $bdf (is 8250.nr_uarts large enough? dmesg: $(dmesg | grep -i "$bdf" | tail -n 3 | tr '\n' '|'))"
say "tty=$TTY driver=$DRIVER"
wait_for 5 test -c "/dev/$TTY" || fail "/dev/$TTY did not appear"

# --- one line out, one line in -------------------------------------------
# Keep one descriptor open for the whole exchange: settings made with stty
# and the receive buffer then belong to the same open file. The default
# serial termios has CLOCAL, so the open does not wait for carrier.
# A failed redirection on exec would end this shell (PID 1: a panic with no
# verdict on the console), so try the open in a subshell first.
(: <>"/dev/$TTY") 2>/dev/null || fail "cannot open /dev/$TTY"
exec 3<>"/dev/$TTY"
# raw: no echo (we must not bounce the host's line back at it), no CR/LF
# translation either way, byte-at-a-time reads; clocal/-crtscts: ignore
# modem lines, which an emulated UART need not drive.
stty 115200 raw -echo clocal -crtscts <&3 || fail "stty on /dev/$TTY failed"
# (busybox stty -a complains about the window size of a serial line: hush.)
say "stty: $(stty -a <&3 2>/dev/null | head -n 1)"

LINE="hello from guest $TOKEN"
printf '%s\n' "$LINE" >&3 || fail "write to /dev/$TTY failed"
say "sent: $LINE"

# busybox ash: read -t returns non-zero on timeout, keeping partial input.
REPLY_LINE=
if read -r -t "$READ_TIMEOUT" REPLY_LINE <&3; then
	REPLY_LINE=$(printf '%s' "$REPLY_LINE" | tr -d '\r')
	say "got: $REPLY_LINE"
else
	fail "no line from /dev/$TTY within ${READ_TIMEOUT}s (partial: '$REPLY_LINE')"
fi

# How many interrupts the UART's line took: proof the INTx path works (a
# 16550 driven without interrupts would not have moved the data at all).
if [ -n "$IRQ" ]; then
	count=$(awk -v irq="$IRQ:" '$1 == irq { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s }' /proc/interrupts)
	say "irq=$IRQ count=${count:-unknown}"
fi

say "result=ok"
finish 0
