#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Scheduling offload with the real NIC agent, run inside the emulated host (tools/vm/run, via
# tools/check/vm_tests.sh): the sched_ext scheduler (bpf/) and wave.ko's kfuncs against the
# FIFO and Shinjuku agents of nic_fw/agents running in wave-nicd, OUTSIDE the VM, on the
# emulated NIC (nic_fw/nicd/sched_service.h). No stand-in agent runs in the VM.
# Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/sched_nic/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_SCHED_DIR=/tmp/wave-sched-nic-test
wavectl=$build/tools/wavectl/wavectl
workload=$build/bpf/sched_workload
state=/sys/kernel/sched_ext/state
# shellcheck source=../lib/sched_tap.sh
. "$top/selftests/lib/sched_tap.sh"
stop_sched() {
	"$wavectl" sched stop >/dev/null 2>&1
	wait_state disabled 10
}

# Whatever happens, leave no scheduler behind and wave.ko unloaded.
cleanup() {
	"$wavectl" sched stop >/dev/null 2>&1
	wait_state disabled 10
	rmmod wave 2>/dev/null
	true
}
trap cleanup EXIT

# run_policy POLICY: starts the scheduler (partial mode: only the workload is in the Wave
# class), runs the workload under it, leaves the scheduler's status in /tmp/nic-POLICY.json.
run_policy() {
	local p=$1 r
	"$wavectl" sched start --policy "$p" --partial --fallback-us 50000 --hb-timeout-ms 3000 \
		>/tmp/nic-start.out 2>&1
	check "$p: scheduler enabled" "wait_state enabled 10"
	[ "$(cat $state 2>/dev/null)" = enabled ] || sed 's/^/# /' /tmp/nic-start.out
	t0=$(date +%s.%N)
	"$wavectl" sched run -- "$workload" --long 3 --long-ms 200 --short 64 --sleepers 2 \
		>/tmp/nic-wl.json
	r=$?
	t1=$(date +%s.%N)
	check "$p: workload completes under the NIC agent, no task lost" "[ $r -eq 0 ]"
	sleep 1.2 # the daemon refreshes stats.json twice a second
	"$wavectl" sched status --json >/tmp/nic-$p.json
	echo "# $p workload: $(cat /tmp/nic-wl.json)"
	echo "# $p scheduler: $(cat /tmp/nic-$p.json)"
	local c f d
	c=$(jget /tmp/nic-$p.json committed)
	f=$(jget /tmp/nic-$p.json fallbacks)
	d=$(jget /tmp/nic-$p.json decisions)
	echo "# $p: ${d:-?} decisions in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s," \
		"committed ${c:-?}, fallbacks ${f:-?}, agent epoch $(jget /tmp/nic-$p.json agent_epoch)"
	check "$p: decisions of wave-nicd's agent committed" "[ \"${c:-0}\" -gt 0 ]"
	check "$p: fallbacks are a minority" "[ -n \"$f\" ] && [ \"$f\" -lt \"${c:-0}\" ]"
	stop_sched
}

echo "TAP version 13"
echo "1..12"
if [ ! -e "$state" ] || [ ! -x "$wavectl" ] || [ ! -x "$build/bpf/wave-sched" ]; then
	skip "sched_nic tests" "no sched_ext in this kernel or wavectl/wave-sched not built"
	totals
fi
dmesg -C
if ! insmod "$ko"; then
	nok "insmod $ko"
	totals
fi
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

# 1. FIFO, then Shinjuku: each start attaches a new link (new attach_gen; wave.ko zeroes the
#    regions), so wave-nicd drops the previous agent and builds the one the info block names;
#    its NicLink::Attach takes the zeroed ring's epoch to 1, which is what wave.ko accepts.
run_policy fifo
run_policy shinjuku
e1=$(jget /tmp/nic-fifo.json agent_epoch)
e2=$(jget /tmp/nic-shinjuku.json agent_epoch)
check "re-attach: a fresh agent attached to each link (epochs $e1, $e2)" \
	"[ \"${e1:-0}\" -eq 1 ] && [ \"${e2:-0}\" -eq 1 ]"

# 2. Policy none: a test program would play the agent; wave-nicd must stay off the rings
#    (attaching would have bumped the epoch to 1). Without one, every task runs by fallback.
"$wavectl" sched start --policy none --partial --fallback-us 2000 --hb-timeout-ms 3000 \
	>/tmp/nic-start.out 2>&1
wait_state enabled 10
"$wavectl" sched run -- "$workload" --long 1 --long-ms 100 --short 16 --sleepers 1 \
	>/tmp/nic-wl.json
r=$?
sleep 1.2
"$wavectl" sched status --json >/tmp/nic-none.json
echo "# none scheduler: $(cat /tmp/nic-none.json)"
check "policy none: wave-nicd decides nothing, the workload still completes (fallback)" \
	"[ $r -eq 0 ] && [ \"\$(jget /tmp/nic-none.json committed)\" = 0 ] && \
	 [ \"\$(jget /tmp/nic-none.json agent_epoch)\" = 0 ]"
stop_sched

rmmod wave
check "scheduler stopped: wave.ko unloads" "[ \$? -eq 0 ]"
if dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' >/tmp/sched-nic-trouble; then
	nok "kernel log clean"
	sed 's/^/# /' /tmp/sched-nic-trouble | head -40
else
	ok "kernel log clean"
fi
totals
