#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The memory link's kernel batch path (uapi/wave_mem_kpath.h), inside the emulated host
# (tools/vm/run): the ioctls' refusals and detaches (wave_mem_host_test KernelPath.*), then
# wave-mem-host with the batches built and shipped by wave.ko (nothing reaching user space)
# and, for comparison, by the user-space path. Prints kselftest TAP.
#   selftests/mem/kpath_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_MEM_HOST_BIN=$build/tools/mem-host/wave-mem-host
wavectl=$build/tools/wavectl/wavectl
workload=$build/tools/mem-workload/wave-mem-workload
unit=$build/tools/mem-host/tests/wave_mem_host_test
sd=/tmp/wave-mem-kpath
# shellcheck source=../lib/sched_tap.sh
. "$top/selftests/lib/sched_tap.sh"
mget() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }

damon_stat=/sys/module/damon_stat/parameters/enabled
damon_stat_was=
cleanup() {
	"$wavectl" mem stop --state-dir $sd >/dev/null 2>&1
	[ -n "$damon_stat_was" ] && echo "$damon_stat_was" >$damon_stat 2>/dev/null
	rmmod wave 2>/dev/null
	true
}
trap cleanup EXIT

echo "TAP version 13"
echo "1..5"
if [ ! -x "$WAVE_MEM_HOST_BIN" ] || [ ! -x "$unit" ] || [ ! -d /sys/kernel/mm/damon/admin ]; then
	skip "kernel batch path" "no DAMON sysfs in this kernel or the tools not built"
	totals
fi
if [ -w $damon_stat ]; then
	damon_stat_was=$(cat $damon_stat)
	echo N >$damon_stat
fi
if ! insmod "$ko"; then
	nok "insmod $ko"
	totals
fi
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

"$unit" --gtest_filter='KernelPath.*' >/tmp/kpath-unit.out 2>&1
r=$?
sed 's/^/# /' /tmp/kpath-unit.out | grep -E "OK|FAILED|SKIPPED|Failure|error" | head -20
check "ioctls: refusals, one link, detach on close and on queue destroy" \
	"[ $r -eq 0 ] && ! grep -q SKIPPED /tmp/kpath-unit.out"

# run PATH: wave-mem-host over a workload with that batch path; status in /tmp/kpath-PATH.json
run() {
	WAVE_MEM_BATCH_PATH=$1 "$wavectl" mem start --policy age --state-dir $sd --aggr-us 100000 \
		--sample-us 5000 --status-out /tmp/kpath-$1.json -- \
		"$workload" --mib 64 --seconds 8 --json /tmp/kpath-wl-$1.json >/tmp/kpath-start.out 2>&1
	local r=$?
	sed 's/^/# /' /tmp/kpath-start.out | tail -3
	echo "# status ($1): $(cat /tmp/kpath-$1.json 2>/dev/null)"
	return $r
}
enacted() { echo $(($(mget "$1" enacted_cold) + $(mget "$1" enacted_pageout) + $(mget "$1" enacted_willneed))); }

run kernel
r=$?
k=/tmp/kpath-kernel.json
check "kernel path: wave.ko built and shipped the batches, the NIC decoded them all" \
	"[ $r -eq 0 ] && grep -q '\"batch_path\": \"kernel\"' $k && \
	 [ \"\$(mget $k kernel_batches)\" -ge 5 ] && [ \"\$(mget $k nic_batches)\" -ge 5 ] && \
	 [ \"\$(mget $k nic_refused_batches)\" = 0 ] && [ \"\$(mget $k collector_records)\" = 0 ] && \
	 [ \"\$(mget $k kernel_bad_releases)\" = 0 ] && [ \"\$(mget $k kernel_release_errors)\" = 0 ]"
check "kernel path: decisions came back and were enacted, workload intact ($(enacted $k))" \
	"[ \$(enacted $k) -gt 0 ] && [ \"\$(mget /tmp/kpath-wl-kernel.json corrupt_records)\" = 0 ]"

# Refusals outside the mappings: near zero now that wave.ko clips to the pushed snapshots
# (before, 432 of 699 decisions were refused as outside_mappings). A few can remain when a
# mapping goes between a snapshot and the decision: at most 2 % of the decisions, or 2.
rout=$(mget $k refused_outside_mappings); rout=${rout:-0}
dec=$(mget $k decisions_received); dec=${dec:-0}
echo "# kernel clipping: $(mget $k kernel_maps_updates) snapshots, $(mget $k kernel_clip_dropped) regions dropped, $(mget $k kernel_clip_trimmed) trimmed, $(mget $k kernel_unclipped) unclipped; refused outside mappings $rout of $dec decisions"
check "kernel path: regions clipped to the mappings, refusals outside them near zero ($rout of $dec)" \
	"[ \"\$(mget $k kernel_maps_updates)\" -ge 1 ] && [ \"\$(mget $k kernel_bad_maps)\" = 0 ] && \
	 [ \"\$(mget $k maps_push_errors)\" = 0 ] && [ $rout -le 2 -o $((rout * 50)) -le $dec ]"

run user
r=$?
u=/tmp/kpath-user.json
check "user path when asked for: batches reach the NIC and decisions are enacted" \
	"[ $r -eq 0 ] && grep -q '\"batch_path\": \"user\"' $u && \
	 [ \"\$(mget $u nic_batches)\" -ge 5 ] && [ \$(enacted $u) -gt 0 ]"
echo "# daemon CPU (utime+stime): kernel path $(mget $k host_cpu_s) s (mechanism $(mget $k mechanism_cpu_s) s) for $(mget $k batches_sent) batches, user path $(mget $u host_cpu_s) s (mechanism $(mget $u mechanism_cpu_s) s) for $(mget $u batches_sent)"
echo "# per batch: kernel path $(mget $k mechanism_cpu_s) s daemon CPU for $(mget $k batches_sent) batches, user path $(mget $u mechanism_cpu_s) s for $(mget $u batches_sent)"
totals
