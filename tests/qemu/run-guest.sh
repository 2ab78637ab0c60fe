#!/usr/bin/env bash
# run-guest.sh — boot the test guest (prepare.sh's kernel + busybox initrd)
# in the trixie QEMU under TCG, with one PCI 16550 UART attached either as
# QEMU's own emulated pci-serial (the stand-in) or as a vfio-user device
# served by a uvfio server on a UNIX socket.
#
# usage:
#   run-guest.sh --print-root
#   run-guest.sh --stand-in [--serial-pipe PATH] [options]
#   run-guest.sh --vfio-user SOCKET [options]
# options:
#   --serial-pipe PATH  stand-in only: connect the UART to the FIFOs PATH.in
#                       (host -> guest) and PATH.out (guest -> host), which
#                       must exist (mkfifo) inside the root. Without it the
#                       UART is connected to nothing and the guest's read
#                       times out.
#   --timeout SECS      kill QEMU after SECS seconds (default 120; 0 = never)
#   --console FILE      write the guest console (ttyS0) to FILE, not stdout
#   --pci VVVV:DDDD     PCI id the guest looks for (default 1b36:0002)
#   --token WORD        the guest sends "hello from guest WORD"
#   --reply-timeout S   how long the guest waits for the line back (default 20)
#   --append ARGS       extra kernel command line
#   --shell             end in a guest shell on the console, no poweroff
#   --trace PATTERN     enable QEMU trace events (to its stderr), e.g.
#                       'vfio_user_*' to see every vfio-user message, or
#                       'vfio_*intx*' for the INTx/EOI path (repeatable)
#   --dry-run           print the QEMU command line and exit
#
# SOCKET and PATH are host paths that must lie inside the root printed by
# --print-root (QEMU runs chrooted there and sees them without that prefix).
#
# Exit status: QEMU's (0 after the guest powers off; the guest's verdict is
# the "UVFIO-GUEST: result=ok" console line), 124 if --timeout fired.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${UVFIO_QEMU_CACHE:-$HOME/.cache/uvfio-qemu}
ROOT=$(readlink -m "$CACHE/root")

die() {
	printf 'run-guest: ERROR: %s\n' "$*" >&2
	exit 2
}
usage() {
	sed -n '/^# usage:/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit 0
}

mode='' target='' pipe='' timeout=120 console='' pci=1b36:0002 token=''
reply_timeout=20 append='' shell=0 dry_run=0 traces=()
while (($#)); do
	case "$1" in
	--print-root)
		echo "$ROOT"
		exit 0
		;;
	--stand-in) mode=stand-in ;;
	--vfio-user)
		mode=vfio-user
		target=${2:?--vfio-user needs a SOCKET}
		shift
		;;
	--serial-pipe)
		pipe=${2:?--serial-pipe needs a PATH}
		shift
		;;
	--timeout)
		timeout=${2:?}
		shift
		;;
	--console)
		console=${2:?}
		shift
		;;
	--pci)
		pci=${2:?}
		shift
		;;
	--token)
		token=${2:?}
		shift
		;;
	--reply-timeout)
		reply_timeout=${2:?}
		shift
		;;
	--append)
		append=${2:?}
		shift
		;;
	--shell) shell=1 ;;
	--trace)
		traces+=(-trace "${2:?--trace needs a PATTERN}")
		shift
		;;
	--dry-run) dry_run=1 ;;
	-h | --help) usage ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[[ -n "$mode" ]] || die "choose --stand-in or --vfio-user SOCKET (see --help)"
[[ $(id -u) == 0 ]] || die "must run as root (QEMU runs under chroot)"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, got '$timeout'"
[[ "$pci" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]] || die "--pci wants VVVV:DDDD, got '$pci'"
[[ -z "$token" || "$token" =~ ^[A-Za-z0-9._-]+$ ]] || die "--token must be one word of [A-Za-z0-9._-]"
[[ -x "$ROOT/usr/bin/qemu-system-x86_64" && -f "$ROOT/guest/initrd.gz" ]] ||
	die "no prepared root at $ROOT: run $HERE/prepare.sh first"

# in_root HOSTPATH: the same file as QEMU sees it from inside the chroot.
in_root() {
	local p
	p=$(readlink -m "$1")
	[[ "$p" == "$ROOT"/* ]] || die "$1 is not inside the QEMU root $ROOT (QEMU is chrooted there and cannot see it)"
	echo "/${p#"$ROOT"/}"
}

# The UART under test. Only this part differs between the stand-in and
# the real thing; the guest and everything around it stay the same.
dev_args=()
case "$mode" in
stand-in)
	if [[ -n "$pipe" ]]; then
		[[ -p "$pipe.in" && -p "$pipe.out" ]] || die "--serial-pipe $pipe: $pipe.in and $pipe.out must be FIFOs (mkfifo)"
		dev_args+=(-chardev "pipe,id=uart,path=$(in_root "$pipe")")
	else
		dev_args+=(-chardev "null,id=uart")
	fi
	dev_args+=(-device "pci-serial,chardev=uart")
	;;
vfio-user)
	[[ -z "$pipe" ]] || die "--serial-pipe is for --stand-in only: with --vfio-user the device server owns the UART's other end"
	sock=$(in_root "$target")
	[[ -S "$target" ]] || die "$target is not a listening UNIX socket (start the device server first)"
	# JSON because the socket property is a SocketAddress (a struct), which
	# the key=value -device syntax cannot express.
	dev_args+=(-device "{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"$sock\",\"type\":\"unix\"}}")
	;;
esac

# console=ttyS0 is QEMU's ISA UART (-serial); the PCI UART comes after the
# four legacy ttyS slots, and Debian's kernel only has 4 runtime UARTs
# unless told more (CONFIG_SERIAL_8250_RUNTIME_UARTS=4): hence nr_uarts.
cmdline="console=ttyS0,115200 8250.nr_uarts=8 panic=-1 loglevel=4"
cmdline+=" uvfio.pci=$pci uvfio.timeout=$reply_timeout uvfio.shell=$shell"
[[ -z "$token" ]] || cmdline+=" uvfio.token=$token"
# The guest's watchdog must fire before ours, so its verdict reaches the
# console; leave it 10 s of margin (and at least 20 s to boot and work).
if ((timeout > 30)); then
	cmdline+=" uvfio.watchdog=$((timeout - 10))"
elif ((timeout > 0)); then
	cmdline+=" uvfio.watchdog=20"
fi
[[ -z "$append" ]] || cmdline+=" $append"

# prepare.sh unpacks the kernel for a PVH boot when it can (saves ~4 s of
# in-guest decompression under TCG); otherwise boot the bzImage.
kernel=/guest/vmlinux
[[ -f "$ROOT$kernel" ]] || kernel=/guest/vmlinuz

qemu=(
	chroot "$ROOT" /usr/bin/qemu-system-x86_64
	-nodefaults -nographic -no-reboot
	-accel tcg -cpu max -smp 1
	# vfio-user hands guest RAM to the device server as fds: it must be
	# shareable memory (memfd, share=on), not anonymous.
	-object "memory-backend-memfd,id=mem,size=256M,share=on"
	-machine "q35,memory-backend=mem" -m 256M
	-kernel "$kernel" -initrd /guest/initrd.gz -append "$cmdline"
	# The console: ISA ttyS0 on QEMU's stdout. signal=off so a ^C typed
	# at an interactive --shell goes to the guest, not to QEMU.
	-chardev "stdio,id=con,signal=off" -serial chardev:con -monitor none
	"${dev_args[@]}"
	"${traces[@]}"
)

if ((dry_run)); then
	printf '%q ' "${qemu[@]}"
	echo
	exit 0
fi

# stdin: interactive shell needs the terminal; otherwise QEMU must not eat
# the caller's stdin.
((shell)) || exec </dev/null
[[ -z "$console" ]] || exec >"$console"
if ((timeout > 0)); then
	# exec: our pid is timeout's, so a caller that kills us kills QEMU
	# (timeout passes the signal on); -k: QEMU ignoring TERM gets KILL.
	exec timeout -k 5 "$timeout" "${qemu[@]}"
fi
exec "${qemu[@]}"
