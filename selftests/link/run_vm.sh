#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The link across wave.ko's loopback device, inside the emulated host (run by
# tools/check/vm_tests.sh): libwave's wave: backend moves 10,000,000 messages between two
# processes (host role through ioctls and queue mmaps, NIC role through the whole-window
# mapping and doorbell/interrupt eventfds), DMA queue transfers go through the device's host
# DMA window, then wave-nicd's loopback transport is tested against the same device. Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/link/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
rc=0

rmmod wave 2>/dev/null
insmod "$top/kmod/wave.ko" loopback=1 || { echo "not ok 1 insmod loopback=1"; echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"; exit 1; }
for _ in $(seq 100); do ls /dev/wave* >/dev/null 2>&1 && break; sleep 0.05; done
"$top/libwave/tests/vm_link_test.sh" "$build" "${WAVE_VM_LINK_COUNT:-10000000}" || rc=1

# DMA queue over the loopback device's host DMA window: two processes, scatter-gather both
# ways checked byte for byte, bad descriptors refused and counted, then bytes/s.
bin=$build/libwave/tests/dma_exchange
if [ -x "$bin" ]; then
	batches=${WAVE_VM_DMA_BATCHES:-200} mib=${WAVE_VM_DMA_MIB:-512}
	if out=$("$bin" wave:loopback "$batches" "$mib" 2>&1); then
		sed 's/^/# /' <<<"$out"
		echo "ok 1 libwave DMA queue over the wave: host DMA window, $batches batches, $mib MiB"
		echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
	else
		sed 's/^/# /' <<<"$out" | tail -30
		echo "not ok 1 libwave DMA queue over the wave: host DMA window"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		rc=1
	fi
fi

# wave-nicd's loopback transport (GoogleTest), reported as one TAP line.
bin=$build/nic_fw/nicd/tests/nicd_loopback_tests
if [ -x "$bin" ]; then
	if out=$("$bin" 2>&1); then
		echo "ok 1 wave-nicd loopback transport against wave.ko ($(grep -o '[0-9]* tests\? ran' <<<"$out" | head -1))"
		echo "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"
	else
		sed 's/^/# /' <<<"$out" | tail -30
		echo "not ok 1 wave-nicd loopback transport against wave.ko"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		rc=1
	fi
fi
rmmod wave 2>/dev/null
exit $rc
