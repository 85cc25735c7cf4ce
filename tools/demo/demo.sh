#!/bin/bash
# make demo, inside the emulated host (tools/vm/run): loads wave.ko, shows the SmartNIC the
# host sees, maps its queues with their cache modes, and sends bytes, doorbells and
# interrupts across the link to wave-nicd and back; then hands the host's scheduling to the
# FIFO agent that wave-nicd runs on the NIC, beside the same workload under EEVDF; then hands
# a memory-bound workload's memory policy to the SOL agent that wave-nicd runs on the NIC.
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

step "Thread scheduling offload: the FIFO agent runs in wave-nicd (the NIC), wave_sched (sched_ext + wave.ko kfuncs) enacts its decisions"
# The same messaging workload (hackbench: groups of processes passing messages over sockets),
# first under the kernel's default scheduler (EEVDF), then with every task of the host in the
# Wave class (switch-all mode): each task event goes to the NIC, each decision comes back.
workload=(hackbench --groups 2 --loops 200 --fds 10)
t0=$(date +%s.%N)
"${workload[@]}" >/dev/null
t1=$(date +%s.%N)
eevdf=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
echo "  EEVDF: ${workload[*]} took $eevdf s"
"$wavectl" sched start --policy fifo --fallback-us 20000 --hb-timeout-ms 3000
for _ in $(seq 100); do [ "$(cat /sys/kernel/sched_ext/state)" = enabled ] && break; sleep 0.1; done
echo "  sched_ext: $(cat /sys/kernel/sched_ext/state), scheduler $(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
t0=$(date +%s.%N)
"${workload[@]}" >/dev/null
t1=$(date +%s.%N)
wave=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
echo "  Wave:  ${workload[*]} took $wave s (every host task scheduled by the NIC's agent)"
sleep 1.2 # the loader refreshes its statistics twice a second
"$wavectl" sched status | sed 's/^/  /'
"$wavectl" sched stop
for _ in $(seq 100); do [ "$(cat /sys/kernel/sched_ext/state)" = disabled ] && break; sleep 0.1; done
echo "  Wave / EEVDF completion time: $(awk "BEGIN{printf \"%.2f\", $wave / $eevdf}") (TCG guest on a 2-core machine: a ratio from one boot, not a hardware figure)"

step "Memory offload: DAMON + BPF collect on the host, the SOL agent in wave-nicd (the NIC) decides, wave-mem-host enacts with process_madvise"
# A Zipf-keyed record store with a cold tail (75 % of its 128 MiB) and 256 MiB of zram swap as
# the far tier. DAMON_STAT holds DAMON exclusively on this kernel: it steps aside for the demo.
[ -w /sys/module/damon_stat/parameters/enabled ] && echo N >/sys/module/damon_stat/parameters/enabled
swap=
if modprobe zram num_devices=1 2>/dev/null && echo 256M >/sys/block/zram0/disksize &&
	mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0; then
	swap=/dev/zram0
fi
memwl=("$build/tools/mem-workload/wave-mem-workload" --mib 128 --cold-fraction 0.75 --seconds 15 --warmup 2)
export WAVE_MEM_HOST_BIN=$build/tools/mem-host/wave-mem-host
"$wavectl" mem start --policy sol --state-dir /tmp/wave-mem-demo --status-out /tmp/mem-demo.json \
	-- "${memwl[@]}" --json /tmp/mem-wl.json
echo "  workload: $(cat /tmp/mem-wl.json)"
"$wavectl" mem status --state-dir /tmp/wave-mem-demo | sed 's/^/  /'
[ -n "$swap" ] && swapoff "$swap"

rmmod wave
step "wave.ko unloaded; demo done"
