#!/bin/sh
# The wave: backend test, run inside the VM (tools/vm/run):
#   tools/vm/run -- libwave/tests/vm_link_test.sh BUILD_DIR [COUNT]
# Loads wave.ko with a loopback device if it is not loaded, then two processes exchange COUNT
# (default 10,000,000) messages through /dev/waveN: the host side through ioctls and queue
# mmaps, the NIC side through the WAVE_REGION_BAR mapping.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-$top/build}
count=${2:-10000000}
if ! grep -q '^wave ' /proc/modules; then
	insmod "$top/kmod/wave.ko" loopback=1
fi
bin="$build/libwave/tests/link_exchange"
[ -x "$bin" ] || { echo "vm_link_test: $bin missing" >&2; exit 1; }
exec "$bin" wave:loopback "$count"
