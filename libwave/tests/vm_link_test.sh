#!/bin/sh
# The wave: backend test, run inside the VM (tools/vm/run), printing kselftest-style TAP:
#   tools/vm/run -- libwave/tests/vm_link_test.sh BUILD_DIR [COUNT]
# Loads wave.ko with a loopback device if it is not loaded yet (if it is, it must have been
# loaded with loopback=1), then two processes exchange COUNT (default 10,000,000) messages
# through /dev/waveN: the host side through ioctls and queue mmaps, the NIC side through the
# WAVE_REGION_BAR mapping, doorbell eventfds and WAVE_IOC_RAISE_IRQ.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-$top/build}
count=${2:-10000000}
echo "TAP version 13"
echo "1..1"
if ! grep -q '^wave ' /proc/modules; then
	insmod "$top/kmod/wave.ko" loopback=1 || true
fi
bin="$build/libwave/tests/link_exchange"
if [ ! -x "$bin" ]; then
	echo "not ok 1 libwave wave: backend # $bin missing"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
fi
if out=$("$bin" wave:loopback "$count" 2>&1); then
	echo "# $out"
	echo "ok 1 libwave wave: backend, $count messages between two processes"
	echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
	exit 0
fi
echo "$out" | sed 's/^/# /'
echo "not ok 1 libwave wave: backend, $count messages between two processes"
echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
exit 1
