#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the emulated host (tools/vm/run): loads wave.ko, runs the wave.ko selftests and
# checks the kernel log. Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/wave/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
bin=$build/selftests
ko=$top/kmod/wave.ko
rc=0

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
dmesg -C
if ! insmod "$ko"; then
	echo "not ok 1 insmod $ko"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
fi
udevadm settle 2>/dev/null || true
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

"$bin/wave_test" || rc=1
WAVE_KO=$ko "$bin/wave_lifecycle_test" || rc=1
WAVE_KO=$ko "$bin/wave_loopback_test" || rc=1

# Nothing the tests did may have upset the kernel.
if dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' >/tmp/wave-trouble; then
	echo "not ok 1 kernel log clean"
	sed 's/^/# /' /tmp/wave-trouble | head -40
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	rc=1
else
	echo "ok 1 kernel log clean"
	echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
fi
rmmod wave 2>/dev/null || true
exit $rc
