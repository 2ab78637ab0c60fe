#!/usr/bin/env bash
# Install the Debian 12 packages uvfio needs to build and test, if missing.
# Runs as root on a fresh machine (CI); as a normal user it only reports.
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc clang libjson-c-dev libcmocka-dev liburing-dev
      libclang-rt-14-dev valgrind python3 debootstrap busybox-static cpio
      iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "uvfio: missing packages: ${missing[*]}" >&2
    echo "uvfio: run 'sudo apt-get install ${missing[*]}' (or make deps as root)" >&2
    exit 1
fi
echo "uvfio: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
