#!/usr/bin/env bash
# prepare.sh — build, once, everything the QEMU guest tests need:
#
#   $CACHE/root/                 a minimal Debian trixie root holding a QEMU
#                                from trixie-backports (the first Debian QEMU
#                                with the vfio-user-pci client); run as
#                                `chroot $CACHE/root qemu-system-x86_64 ...`
#   $CACHE/root/guest/vmlinuz    Debian 12's stock amd64 kernel
#   $CACHE/root/guest/initrd.gz  busybox-static initramfs whose /init is
#                                tests/qemu/guest-init.sh
#
# CACHE is ${UVFIO_QEMU_CACHE:-$HOME/.cache/uvfio-qemu}. Each stage leaves a
# stamp file; a re-run with every stamp current does nothing and takes well
# under a second. Delete a stamp (or the whole cache) to force a rebuild.
#
# Why a chroot: Debian 12's own QEMU (7.2) has no vfio-user client, and the
# trixie QEMU binaries need trixie's glibc. A chroot needs no mounts at all
# for QEMU (-accel tcg, memfd RAM), so nothing can be left mounted behind.
#
# Needs root (debootstrap, chroot, mknod) and network access to the Debian
# mirror. Only Debian packages are installed, on the host only when missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${UVFIO_QEMU_CACHE:-$HOME/.cache/uvfio-qemu}
ROOT=$CACHE/root
MIRROR=${UVFIO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
# Bump a stage's version when its recipe changes so old caches rebuild it.
ROOT_RECIPE="root-v1 suite=$SUITE qemu=$SUITE-backports"
KERNEL_RECIPE="kernel-v2 meta=linux-image-amd64 pvh-vmlinux"
INITRD_RECIPE="initrd-v1"

log() { printf 'prepare: %s\n' "$*" >&2; }
die() {
	printf 'prepare: ERROR: %s\n' "$1" >&2
	shift
	local hint
	for hint in "$@"; do printf 'prepare:   -> %s\n' "$hint" >&2; done
	exit 1
}

# die_log LOG MESSAGE [HINT...]: die, showing the end of the log that says why.
die_log() {
	local logfile=$1
	shift
	if [[ -s "$logfile" ]]; then
		printf 'prepare: last lines of %s:\n' "$logfile" >&2
		tail -n 5 "$logfile" | sed 's/^/prepare:   | /' >&2
	fi
	die "$@"
}

# A stage is current when its stamp holds exactly the expected key; the key
# names everything that went into the stage, so a changed input rebuilds it.
stamp_ok() { [[ -f "$CACHE/$1.stamp" && "$(<"$CACHE/$1.stamp")" == "$2" ]]; }
stamp_set() { printf '%s\n' "$2" >"$CACHE/$1.stamp.tmp" && mv -f "$CACHE/$1.stamp.tmp" "$CACHE/$1.stamp"; }

# rm -rf on a directory we build as root: refuse if anything is mounted
# under it (nothing should be — we never mount — but a human debugging the
# root might have bind-mounted /dev or /proc, and rm -rf would follow it).
safe_rmtree() {
	local dir=$1 real
	[[ -e "$dir" ]] || return 0
	real=$(readlink -f "$dir")
	if awk -v p="$real" '$2 == p || index($2, p "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		die "something is mounted under $real; refusing to delete it" \
			"unmount it first (see: grep '$real' /proc/self/mounts), then re-run"
	fi
	rm -rf --one-file-system "$dir"
}

# ---------------------------------------------------------------- host tools

APT_UPDATED=0
host_apt_update() {
	((APT_UPDATED)) && return 0
	log "apt-get update (host)"
	# Only the Debian mirror matters to us: an unreachable third-party
	# source may make apt-get update fail as a whole, so carry on and let
	# the install or download that follows decide (its error is clearer).
	apt-get update -q >"$CACHE/host-apt.log" 2>&1 ||
		log "warning: apt-get update reported errors (log: $CACHE/host-apt.log); continuing"
	APT_UPDATED=1
}

ensure_host_tools() {
	local -a missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v gzip >/dev/null || missing+=(gzip)
	command -v flock >/dev/null || missing+=(util-linux)
	# xz unpacks Debian's kernel for the fast PVH boot (see build_kernel).
	command -v xz >/dev/null || missing+=(xz-utils)
	# The initramfs needs a *static* busybox: the guest has no libc.
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
		missing+=(busybox-static)
	((${#missing[@]})) || return 0
	log "installing host packages: ${missing[*]}"
	host_apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
		>>"$CACHE/host-apt.log" 2>&1 ||
		die_log "$CACHE/host-apt.log" "could not install ${missing[*]} on the host (log: $CACHE/host-apt.log)" \
			"run: apt-get update && apt-get install ${missing[*]}"
}

# ------------------------------------------------------------------- stage 1

# The trixie root with QEMU. Built in root.tmp and renamed into place, so an
# interrupted run never leaves a half-built root that looks finished.
build_root() {
	local tmp=$CACHE/root.tmp t0=$SECONDS
	safe_rmtree "$tmp"
	log "stage root: debootstrap --variant=minbase $SUITE (about 15-30 s)"
	debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		die_log "$CACHE/debootstrap.log" "debootstrap of $SUITE failed (log: $CACHE/debootstrap.log)" \
			"check network access to $MIRROR and that debian-archive-keyring knows $SUITE's key" \
			"then re-run $0"

	# Keep docs, man pages and translations out of the root from the start:
	# that is most of the size of a QEMU install, and nobody reads them here.
	cat >"$tmp/etc/dpkg/dpkg.cfg.d/01-uvfio-nodoc" <<-'EOF'
		path-exclude=/usr/share/doc/*
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/info/*
		path-exclude=/usr/share/locale/*
		path-exclude=/usr/share/lintian/*
	EOF
	# No daemon may start inside the chroot during package installation.
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	echo "deb $MIRROR $SUITE-backports main" >"$tmp/etc/apt/sources.list.d/backports.list"

	log "stage root: installing qemu-system-x86 from $SUITE-backports (about 15-30 s)"
	{
		chroot "$tmp" apt-get update -qq &&
			chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends -t "$SUITE-backports" qemu-system-x86
	} >"$CACHE/qemu-install.log" 2>&1 ||
		die_log "$CACHE/qemu-install.log" "installing qemu-system-x86 in the $SUITE root failed (log: $CACHE/qemu-install.log)" \
			"check network access to $MIRROR; delete $tmp and re-run $0"

	# Shrink: the apt caches and lists are re-creatable with apt-get update.
	rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb \
		"$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* \
		"$tmp"/usr/share/locale/* "$tmp"/var/log/*.log "$tmp"/var/log/apt/*

	# Prove the root works the way run-guest.sh will use it, before we call
	# it done: the binary runs, and it has the vfio-user client.
	local ver
	ver=$(chroot "$tmp" /usr/bin/qemu-system-x86_64 --version | head -n1) ||
		die "qemu-system-x86_64 does not run inside $tmp" "see $CACHE/qemu-install.log"
	chroot "$tmp" /usr/bin/qemu-system-x86_64 -device vfio-user-pci,help >"$CACHE/vfio-user-pci.help" 2>&1 ||
		die "$ver has no vfio-user-pci device (output in $CACHE/vfio-user-pci.help)" \
			"$SUITE-backports may have changed; check its qemu version"
	grep -q 'socket' "$CACHE/vfio-user-pci.help" ||
		die "vfio-user-pci in $ver has no 'socket' property (see $CACHE/vfio-user-pci.help)"
	mkdir -p "$tmp/guest" "$tmp/tmp"
	chmod 1777 "$tmp/tmp"
	printf '%s\n' "$ver" >"$tmp/guest/qemu-version"

	safe_rmtree "$ROOT"
	mv "$tmp" "$ROOT"
	# The guest files live inside the root; a new root means rebuild them.
	rm -f "$CACHE/kernel.stamp" "$CACHE/initrd.stamp"
	log "stage root: done in $((SECONDS - t0)) s: $ver, $(du -sh "$ROOT" | cut -f1)"
}

# ------------------------------------------------------------------- stage 2

# Debian 12's stock kernel, unpacked (not installed) from its .deb.
build_kernel() {
	local t0=$SECONDS pkg dl=$CACHE/dl x=$CACHE/kernel.x
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
	if [[ -z "$pkg" ]]; then
		host_apt_update
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
	fi
	[[ -n "$pkg" ]] || die "cannot resolve linux-image-amd64 to a kernel package" \
		"run apt-get update and check that the host uses Debian 12 (bookworm) sources"
	log "stage kernel: downloading $pkg"
	safe_rmtree "$dl"
	mkdir -p "$dl"
	# Download as root into our own dir (apt's _apt sandbox user can't
	# write there, and would only warn). A stale package list 404s: update
	# and retry once.
	if ! (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >"$CACHE/kernel-download.log" 2>&1); then
		host_apt_update
		(cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >"$CACHE/kernel-download.log" 2>&1) ||
			die_log "$CACHE/kernel-download.log" "apt-get download $pkg failed (log: $CACHE/kernel-download.log)" \
				"check network access to $MIRROR"
	fi
	safe_rmtree "$x"
	dpkg-deb -x "$dl"/"$pkg"_*.deb "$x"
	local vmlinuz config kver
	vmlinuz=$(find "$x/boot" -name 'vmlinuz-*' | head -n1)
	config=$(find "$x/boot" -name 'config-*' | head -n1)
	[[ -f "$vmlinuz" && -f "$config" ]] || die "$pkg has no /boot/vmlinuz-* or /boot/config-*"
	kver=${vmlinuz##*/vmlinuz-}

	mkdir -p "$ROOT/guest"
	cp "$vmlinuz" "$ROOT/guest/vmlinuz.tmp" && mv -f "$ROOT/guest/vmlinuz.tmp" "$ROOT/guest/vmlinuz"
	cp "$config" "$ROOT/guest/config"
	# Under TCG the bzImage spends ~4 s of a ~7 s boot unpacking itself
	# (Debian compresses it with xz). Unpack it once here: QEMU boots the
	# bare ELF vmlinux through its PVH entry point, same kernel, no
	# decompressor. Without PVH, or if unpacking fails, run-guest.sh boots
	# the bzImage instead.
	rm -f "$ROOT/guest/vmlinux"
	if grep -qx 'CONFIG_PVH=y' "$config" && extract_vmlinux "$vmlinuz" "$ROOT/guest/vmlinux.tmp"; then
		mv -f "$ROOT/guest/vmlinux.tmp" "$ROOT/guest/vmlinux"
		log "stage kernel: unpacked vmlinux for PVH boot ($(du -h "$ROOT/guest/vmlinux" | cut -f1))"
	else
		rm -f "$ROOT/guest/vmlinux.tmp"
		log "stage kernel: no PVH vmlinux (CONFIG_PVH unset or unknown compression); booting the bzImage"
	fi
	printf '%s\n' "$kver" >"$ROOT/guest/kernel-version"

	# The guest's PCI UART driver is 8250_pci. Debian 12 builds it in (=y);
	# should a later kernel make it a module, keep it and the modules it
	# depends on so the initramfs can insmod them in order.
	local mods=$CACHE/kmods
	safe_rmtree "$mods"
	mkdir -p "$mods"
	: >"$mods/load-order"
	local pci8250
	pci8250=$(sed -n 's/^CONFIG_SERIAL_8250_PCI=//p' "$config")
	case "$pci8250" in
	y) log "stage kernel: 8250_pci is built in (CONFIG_SERIAL_8250_PCI=y)" ;;
	m)
		log "stage kernel: 8250_pci is a module; collecting it and its dependencies"
		collect_module "$x/lib/modules/$kver" 8250_pci "$mods"
		log "stage kernel: modules to load: $(tr '\n' ' ' <"$mods/load-order")"
		;;
	*) die "CONFIG_SERIAL_8250_PCI is '${pci8250:-unset}' in $pkg: the guest cannot drive a PCI UART" ;;
	esac
	safe_rmtree "$x"
	safe_rmtree "$dl"
	printf '%s\n' "$pkg" >"$ROOT/guest/kernel-package"
	log "stage kernel: done in $((SECONDS - t0)) s: $kver ($pkg)"
}

# extract_vmlinux BZIMAGE OUT: find the compressed payload inside BZIMAGE by
# its format's magic bytes, decompress it, and accept the result only if it
# is an ELF file. Handles xz (Debian's choice) and gzip.
extract_vmlinux() {
	local bz=$1 out=$2 fmt magic off
	local -a cmd
	for fmt in xz gzip; do
		case $fmt in
		xz) magic=$'\xfd7zXZ' cmd=(xz -dc --single-stream) ;;
		gzip) magic=$'\x1f\x8b\x08' cmd=(gzip -dc) ;;
		esac
		command -v "${cmd[0]}" >/dev/null || continue
		off=$(LC_ALL=C grep -abo -m1 "$magic" "$bz" | head -n1 | cut -d: -f1) || true
		[[ -n "$off" ]] || continue
		# gzip warns about (and exits 2 for) the bzImage tail after the
		# payload; the ELF check below is what decides.
		tail -c +$((off + 1)) "$bz" | "${cmd[@]}" >"$out" 2>/dev/null || true
		[[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]] && return 0
	done
	return 1
}

# collect_module MODDIR NAME OUTDIR: copy NAME.ko (decompressed) and,
# depth-first, every module named in its .modinfo "depends=" into OUTDIR,
# appending names to OUTDIR/load-order in an order insmod can follow.
# Reads .modinfo with tr/grep so the host needs no kmod.
collect_module() {
	local moddir=$1 name=$2 out=$3 file dep deps
	grep -qx "$name" "$out/load-order" && return 0
	# Module file names use '-' or '_' interchangeably with the module name.
	file=$(find "$moddir" -regex ".*/${name//[-_]/[-_]}\.ko\(\.xz\|\.zst\|\.gz\)?" | head -n1)
	[[ -n "$file" ]] || die "kernel module $name not found under $moddir"
	case "$file" in
	*.xz) xz -dc "$file" >"$out/$name.ko" ;;
	*.zst) zstd -qdc "$file" >"$out/$name.ko" ;;
	*.gz) gzip -dc "$file" >"$out/$name.ko" ;;
	*) cp "$file" "$out/$name.ko" ;;
	esac
	deps=$(tr '\0' '\n' <"$out/$name.ko" | sed -n 's/^depends=//p' | head -n1)
	for dep in ${deps//,/ }; do
		collect_module "$moddir" "$dep" "$out"
	done
	echo "$name" >>"$out/load-order"
}

# ------------------------------------------------------------------- stage 3

initrd_key() {
	local busybox=$1
	printf '%s kernel=%s init=%s busybox=%s\n' "$INITRD_RECIPE" \
		"$(cat "$ROOT/guest/kernel-version" 2>/dev/null)" \
		"$(sha256sum <"$HERE/guest-init.sh" | cut -c1-16)" \
		"$(sha256sum <"$busybox" | cut -c1-16)"
}

build_initrd() {
	local busybox=$1 t0=$SECONDS st=$CACHE/initrd.staging applet
	safe_rmtree "$st"
	mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lib/modules}
	cp "$busybox" "$st/bin/busybox"
	# One symlink per applet, at the path busybox itself expects it at.
	while read -r applet; do
		[[ "$applet" == bin/busybox ]] && continue
		ln -sf /bin/busybox "$st/$applet"
	done < <("$busybox" --list-full)
	install -m 0755 "$HERE/guest-init.sh" "$st/init"
	# The kernel opens /dev/console for init's stdio before init can mount
	# devtmpfs, so the node must be in the archive itself.
	mknod -m 600 "$st/dev/console" c 5 1
	mknod -m 666 "$st/dev/null" c 1 3
	if [[ -s "$CACHE/kmods/load-order" ]]; then
		cp "$CACHE"/kmods/*.ko "$CACHE/kmods/load-order" "$st/lib/modules/"
	fi
	(cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 -n) \
		>"$ROOT/guest/initrd.gz.tmp"
	mv -f "$ROOT/guest/initrd.gz.tmp" "$ROOT/guest/initrd.gz"
	safe_rmtree "$st"
	log "stage initrd: done in $((SECONDS - t0)) s: $(du -h "$ROOT/guest/initrd.gz" | cut -f1)"
}

# ---------------------------------------------------------------------- main

main() {
	[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot and mknod need it)" "run: sudo $0"
	[[ $(uname -m) == x86_64 ]] || die "only x86_64 hosts are supported (the root holds amd64 QEMU)"
	[[ -f "$HERE/guest-init.sh" ]] || die "missing $HERE/guest-init.sh"
	mkdir -p "$CACHE"

	# Fast path first, without the lock: everything current means nothing
	# to do (a concurrent builder only ever replaces stamps atomically).
	# busybox-static installs /bin/busybox (it conflicts with the dynamic
	# busybox package, so this path is the static one once it is installed).
	local busybox=/bin/busybox
	if stamp_ok root "$ROOT_RECIPE" && stamp_ok kernel "$KERNEL_RECIPE" && [[ -x "$busybox" ]] &&
		[[ -x "$ROOT/usr/bin/qemu-system-x86_64" && -f "$ROOT/guest/vmlinuz" ]] &&
		stamp_ok initrd "$(initrd_key "$busybox")" && [[ -f "$ROOT/guest/initrd.gz" ]]; then
		log "up to date: $ROOT ($(cat "$ROOT/guest/qemu-version"), kernel $(cat "$ROOT/guest/kernel-version"))"
		return 0
	fi

	# Serialise builders: a second run waits for the first, then finds the
	# stamps current.
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		log "another prepare.sh is building in $CACHE; waiting for it (up to 30 min)"
		flock -w 1800 9 || die "timed out waiting for the lock on $CACHE/.lock" \
			"check for a stuck prepare.sh (fuser $CACHE/.lock)"
	fi

	ensure_host_tools
	[[ -x "$busybox" ]] || die "busybox-static is installed but $busybox is missing" \
		"run: apt-get install --reinstall busybox-static"

	if stamp_ok root "$ROOT_RECIPE" && [[ -x "$ROOT/usr/bin/qemu-system-x86_64" ]]; then
		log "stage root: up to date"
	else
		rm -f "$CACHE/root.stamp"
		build_root
		stamp_set root "$ROOT_RECIPE"
	fi

	if stamp_ok kernel "$KERNEL_RECIPE" && [[ -f "$ROOT/guest/vmlinuz" ]]; then
		log "stage kernel: up to date ($(cat "$ROOT/guest/kernel-version"))"
	else
		rm -f "$CACHE/kernel.stamp" "$CACHE/initrd.stamp"
		build_kernel
		stamp_set kernel "$KERNEL_RECIPE"
	fi

	local key
	key=$(initrd_key "$busybox")
	if stamp_ok initrd "$key" && [[ -f "$ROOT/guest/initrd.gz" ]]; then
		log "stage initrd: up to date"
	else
		rm -f "$CACHE/initrd.stamp"
		build_initrd "$busybox"
		stamp_set initrd "$key"
	fi
	log "ready: root=$ROOT qemu='$(cat "$ROOT/guest/qemu-version")' kernel=$(cat "$ROOT/guest/kernel-version")"
}

main "$@"
