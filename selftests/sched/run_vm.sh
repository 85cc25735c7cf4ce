#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Scheduling offload tests, run inside the emulated host (tools/vm/run, via
# tools/check/vm_tests.sh): wave.ko's kfuncs, the sched_ext scheduler (bpf/wave_sched.bpf.c)
# and its loader, against a stand-in NIC agent running in the VM (wave_sched_agent).
# Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/sched/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
bin=$build/bpf
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_SCHED_DIR=/tmp/wave-sched-test
sched=$bin/wave-sched
agent=$bin/wave_sched_agent
workload=$bin/sched_workload
state=/sys/kernel/sched_ext/state
# shellcheck source=../lib/sched_tap.sh
. "$top/selftests/lib/sched_tap.sh"
agent_pid=
start_agent() {
	"$agent" --mode "$1" >/tmp/agent.json 2>/tmp/agent.err &
	agent_pid=$!
	sleep 0.5
	kill -0 "$agent_pid" 2>/dev/null || { echo "# agent: $(cat /tmp/agent.err)"; agent_pid=; }
}
stop_agent() {
	[ -n "$agent_pid" ] || return 0
	kill -TERM "$agent_pid" 2>/dev/null
	wait "$agent_pid" 2>/dev/null
	agent_pid=
}
stop_all() {
	stop_agent
	"$sched" stop >/dev/null 2>&1
	wait_state disabled 10
}
sum_task_events() { # from the scheduler's stats.json
	local f=$WAVE_SCHED_DIR/stats.json s=0 k
	for k in new runnable blocked preempted yield dead affinity running; do
		s=$((s + $(jget "$f" "$k")))
	done
	echo $s
}

# Whatever happens, leave no scheduler, agent or frozen NIC behind for the next suite.
cleanup() {
	stop_agent
	"$sched" stop >/dev/null 2>&1
	[ -n "${WAVE_NICD_CTL:-}" ] && [ -e "$WAVE_NICD_CTL/stopped" ] && touch "$WAVE_NICD_CTL/cont"
	true
}
trap cleanup EXIT

echo "TAP version 13"
echo "1..29"
if [ ! -e "$state" ] || [ ! -x "$sched" ]; then
	skip "sched tests" "no sched_ext in this kernel or wave-sched not built"
	totals
fi
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
dmesg -C
if ! insmod "$ko"; then
	nok "insmod $ko"
	totals
fi
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done
check "kfuncs registered in wave.ko's BTF" \
	"grep -q bpf_wave_take_decision /proc/kallsyms"
"$bin/kfunc_test" --no-link >/tmp/kt.out 2>&1
check "kfuncs without a link: -ENODEV, no crash" "[ \$? -eq 0 ]" || true
sed 's/^/# /; s/^# # /# /' /tmp/kt.out

# 1. FIFO agent, partial mode: only the workload is in the Wave class.
"$sched" start --policy none --partial --fallback-us 50000 --hb-timeout-ms 3000 >/tmp/start.out 2>&1
check "partial mode: scheduler enabled" "wait_state enabled 10"
start_agent fifo
"$sched" run -- "$workload" --long 3 --long-ms 200 --short 64 --sleepers 2 >/tmp/wl.json
check "partial mode: workload completes, no task lost" "[ \$? -eq 0 ]"
sleep 1.2 # the daemon refreshes stats.json twice a second
stop_agent
"$sched" status --json >/tmp/st.json
cp "$WAVE_SCHED_DIR/stats.json" /tmp/st.json
echo "# workload: $(cat /tmp/wl.json)"
echo "# agent: $(cat /tmp/agent.json)"
echo "# scheduler: $(cat /tmp/st.json)"
check "partial mode: the agent's decisions were committed" \
	"[ \"\$(jget /tmp/st.json committed)\" -gt 0 ]"
check "partial mode: every task event sent was seen by the agent" \
	"[ \"\$(jget /tmp/agent.json task_events)\" -eq \"\$(sum_task_events)\" ] && \
	 [ \"\$(jget /tmp/st.json send_failed)\" -eq 0 ]"
check "partial mode: every outcome reached the agent" \
	"[ \"\$(jget /tmp/agent.json outcomes_committed)\" -eq \"\$(jget /tmp/st.json committed)\" ]"
check "partial mode: one decision latency sample per committed decision" \
	"[ \"\$(jget /tmp/st.json decision_latency_count)\" -eq \"\$(jget /tmp/st.json committed)\" ]"
check "partial mode: latency percentiles ordered, at most one idle pickup per commit" \
	"[ \"\$(jget /tmp/st.json decision_latency_p50_ns)\" -gt 0 ] && \
	 [ \"\$(jget /tmp/st.json decision_latency_p50_ns)\" -le \"\$(jget /tmp/st.json decision_latency_p99_ns)\" ] && \
	 [ \"\$(jget /tmp/st.json idle_pickup_p50_ns)\" -le \"\$(jget /tmp/st.json idle_pickup_p99_ns)\" ] && \
	 [ \"\$(jget /tmp/st.json idle_pickup_count)\" -le \"\$(jget /tmp/st.json committed)\" ]"
"$sched" status >/tmp/status.txt
sed 's/^/# /' /tmp/status.txt
check "status prints decisions/s, outcomes and latency percentiles" \
	"grep -q 'decisions' /tmp/status.txt && grep -q 'decision latency.*p99' /tmp/status.txt && \
	 grep -q 'idle pickup.*p99' /tmp/status.txt"
if [ -x "$build/tools/wavectl/wavectl" ]; then
	"$build/tools/wavectl/wavectl" sched status --json >/tmp/wstatus.json 2>&1
	check "wavectl sched status --json is the loader's status" \
		"grep -q '\"state\":\"running\"' /tmp/wstatus.json"
else
	skip "wavectl sched status --json" "wavectl not built"
fi
stop_all

# 2. Switch-all mode: every task of the VM goes through the agent (or the fallback).
"$sched" start --policy none --fallback-us 20000 --hb-timeout-ms 3000 >/tmp/start.out 2>&1
check "switch-all mode: scheduler enabled" "wait_state enabled 10"
start_agent fifo
"$workload" --long 2 --long-ms 200 --short 32 --sleepers 2 >/tmp/wl.json
check "switch-all mode: workload completes" "[ \$? -eq 0 ]"
sleep 1.2
echo "# scheduler: $(cat $WAVE_SCHED_DIR/stats.json)"
check "switch-all mode: still enabled, decisions committed" \
	"[ \"\$(cat $state)\" = enabled ] && [ \"\$(jget $WAVE_SCHED_DIR/stats.json committed)\" -gt 0 ]"
stop_all

# 3. A NIC that writes garbage and stale decisions: counted, never a crash or a hang.
"$sched" start --policy none --partial --fallback-us 2000 --hb-timeout-ms 3000 >/tmp/start.out 2>&1
wait_state enabled 10
start_agent garbage
"$sched" run -- "$workload" --long 2 --long-ms 100 --short 32 --sleepers 2 >/tmp/wl.json
r1=$?
stop_agent
start_agent stale
"$sched" run -- "$workload" --long 2 --long-ms 100 --short 32 --sleepers 2 >/tmp/wl.json
r2=$?
sleep 1.2
stop_agent
cp "$WAVE_SCHED_DIR/stats.json" /tmp/st.json
echo "# scheduler: $(cat /tmp/st.json)"
check "garbage/stale NIC: workloads complete, scheduler still enabled" \
	"[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ \"\$(cat $state)\" = enabled ]"
check "garbage NIC: bad slots, garbage sequence words, torn lines, invalid decisions counted" \
	"[ \$((\$(jget /tmp/st.json bad_slots) + \$(jget /tmp/st.json garbage_seqs))) -gt 0 ] && \
	 [ \$((\$(jget /tmp/st.json torn) + \$(jget /tmp/st.json invalid))) -gt 0 ]"
check "stale NIC: stale and aborted outcomes counted" \
	"[ \"\$(jget /tmp/st.json stale)\" -gt 0 ] && [ \"\$(jget /tmp/st.json aborted)\" -gt 0 ]"
stop_all

# 4. The NIC hangs (wave-nicd frozen): the heartbeat stops, the scheduler leaves, tasks run in
#    the fair class; the NIC comes back: the offload resumes.
if [ -n "${WAVE_NICD_CTL:-}" ] && [ -d "$WAVE_NICD_CTL" ]; then
	"$sched" start --policy none --partial --hb-timeout-ms 1000 >/tmp/start.out 2>&1
	wait_state enabled 10
	start_agent fifo
	"$sched" run -- "$workload" --long 2 --long-ms 1500 --short 32 --sleepers 2 \
		>/tmp/wl.json &
	wl_pid=$!
	sleep 1
	touch "$WAVE_NICD_CTL/stop"
	t0=$(date +%s.%N)
	wait_state disabled 10
	r=$?
	t1=$(date +%s.%N)
	echo "# scheduler left $(awk "BEGIN{print $t1 - $t0}") s after the NIC froze"
	check "NIC hang: scheduler leaves within the bound, tasks back in the fair class" "[ $r -eq 0 ]"
	wait "$wl_pid"
	check "NIC hang: workload completes, no task lost" "[ \$? -eq 0 ]"
	touch "$WAVE_NICD_CTL/cont"
	check "NIC back: offload resumes" "wait_state enabled 20"
	check "NIC back: the daemon counted the restart" \
		"sleep 1; [ \"\$(jget $WAVE_SCHED_DIR/stats.json restarts)\" -ge 1 ]"
	grep -E '^wave-sched:|^EXIT' "$WAVE_SCHED_DIR/log" | sed 's/^/# daemon: /'
	stop_all
else
	for t in "NIC hang: scheduler leaves" "NIC hang: workload completes" \
		"NIC back: offload resumes" "NIC back: restart counted"; do
		skip "$t" "no WAVE_NICD_CTL (tools/vm/run provides it)"
	done
fi

# 5. Unload orders: rmmod while the scheduler runs is refused; a killed daemon leaves the link
#    attached and rmmod still detaches it safely.
"$sched" start --policy none --partial --hb-timeout-ms 3000 >/tmp/start.out 2>&1
wait_state enabled 10
rmmod wave 2>/dev/null
check "rmmod refused while the scheduler holds wave.ko's kfuncs" \
	"[ \$? -ne 0 ] && [ \"\$(cat $state)\" = enabled ]"
start_agent fifo
kill -KILL "$(cat $WAVE_SCHED_DIR/pid)"
wait_state disabled 10
# The link is still attached, the scheduler gone, the agent drains the ring: kfuncs alone.
"$bin/kfunc_test" --link >/tmp/kt.out 2>&1
check "kfuncs with a link: bad types, sizes, flags and CPUs refused and counted" "[ \$? -eq 0 ]"
sed 's/^/# /; s/^# # /# /' /tmp/kt.out
stop_agent
rmmod wave
check "scheduler killed, link left attached: rmmod detaches and unloads" "[ \$? -eq 0 ]"

# 6. The peers of the benchmarks, the kernel's own scx_simple and scx_central (built from
#    linux-source-7.2 by bpf/scx_peers): each attaches, runs the workload and detaches.
for peer in simple central; do
	pbin=$build/bpf/scx_peers/scx_$peer
	if [ ! -x "$pbin" ]; then
		skip "scx_$peer attaches and runs the workload" "not built"
		skip "scx_$peer detaches on SIGINT" "not built"
		continue
	fi
	"$pbin" >/tmp/scx_$peer.out 2>&1 &
	peer_pid=$!
	wait_state enabled 10 && [ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = "$peer" ] &&
		"$workload" --long 2 --long-ms 200 --short 64 --sleepers 2 >/tmp/wl-$peer.json
	rc=$?
	if [ $rc -ne 0 ] && grep -qE "'scx_bpf_kick_cpu'.*incompatible with vmlinux|does not have a valid func_proto" \
		/tmp/scx_$peer.out; then
		# scx_central kicks CPUs: the Debian 7.2 build's BTF has no usable
		# scx_bpf_kick_cpu (bpf/README.md): libbpf, or the verifier, refuses it here.
		why="the kernel's BTF has no usable scx_bpf_kick_cpu (bpf/README.md)"
		skip "scx_$peer attaches and runs the workload" "$why"
		skip "scx_$peer detaches on SIGINT" "$why"
		wait "$peer_pid" 2>/dev/null
		continue
	fi
	check "scx_$peer attaches and runs the workload" "[ $rc -eq 0 ]"
	[ $rc -eq 0 ] || sed 's/^/# /' /tmp/scx_$peer.out | tail -5
	kill -INT "$peer_pid"
	wait "$peer_pid" 2>/dev/null
	check "scx_$peer detaches on SIGINT" "wait_state disabled 10"
done

if dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' >/tmp/sched-trouble; then
	nok "kernel log clean"
	sed 's/^/# /' /tmp/sched-trouble | head -40
else
	ok "kernel log clean"
fi
totals
