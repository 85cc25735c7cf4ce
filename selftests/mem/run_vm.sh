#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Memory-management offload end to end, inside the emulated host (tools/vm/run, via
# tools/check/vm_tests.sh): DAMON and the BPF collector in this kernel, wave-mem-host as the
# only host mechanism, the memory agent of nic_fw/policies/mem in wave-nicd OUTSIDE the VM
# (the emulated NIC), decisions enacted with process_madvise on wave-mem-workload, whose
# records are all verified at the end. A zram swap device is the far tier.
# Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/mem/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
ko=${WAVE_KO:-$top/kmod/wave.ko}
memhost=$build/tools/mem-host/wave-mem-host
wavectl=$build/tools/wavectl/wavectl
workload=$build/tools/mem-workload/wave-mem-workload
export WAVE_MEM_HOST_BIN=$memhost
sd=/tmp/wave-mem-test
# shellcheck source=../lib/sched_tap.sh
. "$top/selftests/lib/sched_tap.sh"
# mget FILE KEY: the number after "KEY": in a one-line JSON file.
mget() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }
status() { "$wavectl" mem status --json --state-dir $sd >"$1" 2>/dev/null; }

damon_stat=/sys/module/damon_stat/parameters/enabled
damon_stat_was=
cleanup() {
	"$wavectl" mem stop --state-dir $sd >/dev/null 2>&1
	if [ -n "${WAVE_NICD_CTL:-}" ] && [ -e "$WAVE_NICD_CTL/killed" ]; then
		touch "$WAVE_NICD_CTL/start"
		for _ in $(seq 200); do [ -e "$WAVE_NICD_CTL/started" ] && break; sleep 0.05; done
	fi
	swapoff /dev/zram0 2>/dev/null
	[ -n "$damon_stat_was" ] && echo "$damon_stat_was" >$damon_stat 2>/dev/null
	rmmod wave 2>/dev/null
	true
}
trap cleanup EXIT

echo "TAP version 13"
echo "1..13"
if [ ! -x "$memhost" ] || [ ! -x "$workload" ] || [ ! -d /sys/kernel/mm/damon/admin ]; then
	skip "mem tests" "no DAMON sysfs in this kernel or wave-mem-host not built"
	totals
fi
# DAMON_STAT runs its kdamond exclusively: the kernel refuses a sysfs kdamond beside it.
if [ -w $damon_stat ]; then
	damon_stat_was=$(cat $damon_stat)
	echo N >$damon_stat
fi
# The far tier: 512 MiB of zram swap, so page-outs of anonymous memory really leave RAM.
if modprobe zram num_devices=1 2>/dev/null && echo 512M >/sys/block/zram0/disksize &&
	mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0; then
	swap=1
	echo "# zram swap: $(grep zram0 /proc/swaps)"
else
	swap=0
	echo "# no zram swap: page-outs of anonymous memory cannot leave RAM"
fi
if ! insmod "$ko"; then
	nok "insmod $ko"
	totals
fi
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

# 1. The SOL agent on the NIC over a running workload: batches reach the NIC, its decisions
#    come back and are enacted, and every record of the workload survives.
"$wavectl" mem start --policy sol --state-dir $sd --aggr-us 100000 --sample-us 5000 \
	--status-out /tmp/mem-sol.json -- \
	"$workload" --mib 96 --seconds 12 --json /tmp/mem-wl.json >/tmp/mem-start.out 2>&1
r=$?
sed 's/^/# /' /tmp/mem-start.out | tail -5
echo "# workload: $(cat /tmp/mem-wl.json 2>/dev/null)"
echo "# status: $(cat /tmp/mem-sol.json 2>/dev/null)"
check "sol: the workload ran to the end under the policy, every record intact" \
	"[ $r -eq 0 ] && [ \"\$(mget /tmp/mem-wl.json corrupt_records)\" = 0 ]"
check "sol: access batches reached the NIC agent" \
	"[ \"\$(mget /tmp/mem-sol.json nic_batches)\" -ge 5 ]"
e=$(($(mget /tmp/mem-sol.json enacted_cold) + $(mget /tmp/mem-sol.json enacted_pageout) + \
	$(mget /tmp/mem-sol.json enacted_willneed)))
check "sol: the agent's decisions were enacted ($e)" "[ $e -gt 0 ]"
check "sol: cold memory was paged out ($(mget /tmp/mem-sol.json bytes_paged_out) bytes)" \
	"[ \"\$(mget /tmp/mem-sol.json bytes_paged_out)\" -gt 0 ]"
if [ $swap = 1 ]; then
	check "sol: pages went to the far tier ($(mget /tmp/mem-sol.json swap_outs_pages))" \
		"[ \"\$(mget /tmp/mem-sol.json swap_outs_pages)\" -gt 0 ]"
else
	skip "sol: pages went to the far tier" "no swap device"
fi
# A page-out reclaims inside the enactor's syscall: under TCG one can outlast a batch's
# expiry, and the answers to an expired batch are dropped (stray), by design. Anything else
# stray would be a lost batch.
check "sol: no batch refused on the link; stray answers only for expired batches" \
	"[ \"\$(mget /tmp/mem-sol.json nic_refused_batches)\" = 0 ] && \
	 { [ \"\$(mget /tmp/mem-sol.json decisions_stray)\" = 0 ] || \
	   [ \"\$(mget /tmp/mem-sol.json batches_expired)\" -gt 0 ]; }"

# 2. The firmware dies mid-run: the host keeps running and enacts nothing while it is gone;
#    the restarted firmware picks the link up again.
"$workload" --mib 64 --seconds 300 --ready-file /tmp/mem-wl.pid --json /tmp/mem-wl2.json \
	>/dev/null 2>&1 &
wl=$!
for _ in $(seq 100); do [ -s /tmp/mem-wl.pid ] && break; sleep 0.1; done
"$wavectl" mem start --policy age --state-dir $sd --pid $wl >/tmp/mem-start.out 2>&1
check "age: the daemon started on a running process" "[ $? -eq 0 ]"
sed 's/^/# /' /tmp/mem-start.out
sleep 4
status /tmp/mem-a.json
if [ -n "${WAVE_NICD_CTL:-}" ]; then
	touch "$WAVE_NICD_CTL/kill"
	for _ in $(seq 200); do [ -e "$WAVE_NICD_CTL/killed" ] && break; sleep 0.05; done
	sleep 2.5 # past the deadline: whatever was in flight is void
	status /tmp/mem-b.json
	sleep 3
	status /tmp/mem-c.json
	en() { echo $(($(mget "$1" enacted_cold) + $(mget "$1" enacted_pageout) + $(mget "$1" enacted_willneed))); }
	echo "# before kill: $(cat /tmp/mem-a.json)"
	echo "# firmware dead: $(cat /tmp/mem-c.json)"
	check "firmware killed: no decision enacted while it is gone ($(en /tmp/mem-b.json) -> $(en /tmp/mem-c.json))" \
		"[ \"\$(en /tmp/mem-b.json)\" = \"\$(en /tmp/mem-c.json)\" ]"
	check "firmware killed: the host mechanism keeps running and collecting" \
		"kill -0 \$(cat $sd/pid) && [ \"\$(mget /tmp/mem-c.json batches_collected)\" -gt \"\$(mget /tmp/mem-b.json batches_collected)\" ]"
	touch "$WAVE_NICD_CTL/start"
	for _ in $(seq 200); do [ -e "$WAVE_NICD_CTL/started" ] && break; sleep 0.05; done
	sleep 4
	status /tmp/mem-d.json
	echo "# after restart: $(cat /tmp/mem-d.json)"
	check "firmware restarted: the new agent serves the link again" \
		"[ \"\$(mget /tmp/mem-d.json nic_attached)\" = 1 ] && [ \"\$(mget /tmp/mem-d.json batches_answered)\" -gt \"\$(mget /tmp/mem-c.json batches_answered)\" ]"
else
	for t in "no decision while dead" "host keeps running" "restart serves again"; do
		skip "firmware killed: $t" "no WAVE_NICD_CTL (not under tools/vm/run)"
	done
fi

# 3. The kill switch: the agent decides nothing while it is on, batches still flow.
"$wavectl" mem kill on --state-dir $sd
sleep 1.5
status /tmp/mem-e.json
sleep 2
status /tmp/mem-f.json
check "kill switch: the agent reports it and decides nothing" \
	"[ \"\$(mget /tmp/mem-f.json killed)\" = 1 ] && \
	 [ \"\$(mget /tmp/mem-e.json nic_decisions_cold)\" = \"\$(mget /tmp/mem-f.json nic_decisions_cold)\" ] && \
	 [ \"\$(mget /tmp/mem-e.json nic_decisions_pageout)\" = \"\$(mget /tmp/mem-f.json nic_decisions_pageout)\" ] && \
	 [ \"\$(mget /tmp/mem-f.json nic_batches)\" -gt \"\$(mget /tmp/mem-e.json nic_batches)\" ]"
"$wavectl" mem stop --state-dir $sd
check "stop: the daemon is gone and restored DAMON" \
	"[ ! -e $sd/pid ] && [ \"\$(cat /sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds)\" = 0 ]"
kill -TERM $wl # ends its load; it verifies every record and reports
wait $wl
r=$?
echo "# workload 2: $(cat /tmp/mem-wl2.json 2>/dev/null)"
check "the workload of the kill tests ends with every record intact" \
	"[ $r -eq 0 ] && [ \"\$(mget /tmp/mem-wl2.json corrupt_records)\" = 0 ]"
totals
