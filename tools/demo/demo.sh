#!/bin/bash
# make demo, inside the emulated host (tools/vm/run): loads wave.ko, shows the SmartNIC the
# host sees, maps its queues with their cache modes, and sends bytes, doorbells and
# interrupts across the link to wave-nicd and back.
#   tools/demo/demo.sh BUILD_DIR
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
wavectl=$build/tools/wavectl/wavectl

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Emulated host: kernel $(uname -r), $(nproc) CPUs, sched_ext $([ -d /sys/kernel/sched_ext ] && echo present || echo absent)"
lspci -nn -d 1af4:1110 || true

step "insmod wave.ko"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
insmod "$top/kmod/wave.ko"
udevadm settle 2>/dev/null || true
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done
dmesg | grep -E '^\[[^]]*\] wave' | sed 's/^/  /'
ls -l /dev/wave0

step "The device, as wavectl reads it (ioctl WAVE_IOC_GET_INFO + the NIC's control page)"
"$wavectl" info

step "Queues, their page attributes (the kernel's PAT list), and an interrupt round trip"
"$wavectl" ping --count 200

step "sysfs"
for a in abi_version backend bar_size nic_state heartbeat nr_queues irq_counts rejected_ioctls rejected_mmaps; do
	[ -r "/sys/class/wave/wave0/$a" ] && printf '  %-16s %s\n' "$a" "$(tr '\n' ' ' <"/sys/class/wave/wave0/$a")"
done

step "The NIC's statistics (control page, written by wave-nicd)"
"$wavectl" stats || true

rmmod wave
step "wave.ko unloaded; demo done"
