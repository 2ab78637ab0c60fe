#!/usr/bin/env bash
# The README's "driver in a page" must compile warning-free against the
# library as built, run, and be seen by uvfio-info as the device it claims
# to be - so the first code a new user copies always works.
# usage: test-readme-example.sh README CC INCLUDE_DIR LIBUVFIO UVFIO_INFO
# (LIBUVFIO: libuvfio.a, or libuvfio.so with LD_LIBRARY_PATH set)
set -euo pipefail
readme=$1 cc=$2 inc=$3 lib=$4 info=$5
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The first ```c block of the README is the example.
awk '/^```c$/{f=1;next} /^```$/{if(f)exit} f' "$readme" > "$work/counter.c"
[ -s "$work/counter.c" ] || { echo "FAIL: no C example found in $readme"; exit 1; }

# shellcheck disable=SC2086 # EXTRA_CFLAGS is a list of flags
"$cc" -std=gnu11 -Wall -Wextra -Werror ${EXTRA_CFLAGS:-} -I"$inc" "$work/counter.c" "$lib" \
    $(pkg-config --libs json-c liburing) -pthread -o "$work/counter" \
    || { echo "FAIL: README example does not compile"; exit 1; }

"$work/counter" "$work/ctr.sock" 2>"$work/stderr" &
pid=$!
for _ in $(seq 100); do [ -S "$work/ctr.sock" ] && break; sleep 0.05; done
[ -S "$work/ctr.sock" ] || { echo "FAIL: example did not create its socket"; cat "$work/stderr"; exit 1; }

json=$("$info" --json "$work/ctr.sock")
python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
pci = d["pci"]
# Identity and the BAR the example declares must be what a client sees.
assert pci["vendor_id"] == 0x1234 and pci["device_id"] == 0x0001, pci
assert pci["class"] == 0xff0000, pci["class"]
bar0 = [b for b in pci["bars"] if b["index"] == 0][0]
assert bar0["type"] == "mem32" and bar0["size"] == 4096, bar0
assert "PCI" in d["device"]["flags"], d["device"]
print("README example: compiled, served, identified by uvfio-info")
PY
