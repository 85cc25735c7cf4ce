#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: end-to-end scheduling offload in the emulated host (boots the VM once): four
# workloads under EEVDF, the kernel's scx_simple/scx_central and the Wave policies, the
# schedulers interleaved round by round (tools/bench/sched_e2e/sched_e2e_vm.sh says what is
# measured). TCG, so only the ratios mean anything.
#   sched_e2e_bench --json OUT.json [--policy fifo,fifo_timer,shinjuku|none]
#                   [--agent actor|thread] [--rounds N]
# (--policy: the Wave policies, comma-separated, default fifo,fifo_timer,shinjuku: wave-nicd's
# agents, fifo_timer being FIFO without the NIC's decision interrupt (--sched-irq off);
# --agent: how wave-nicd runs them, as an actor of its runtime, the default, or in a polling
# thread of its own: wave-nicd --sched-agent)
set -eu
out= policy=fifo,fifo_timer,shinjuku agent=actor rounds=3
while [ $# -gt 0 ]; do
	case "$1" in
	--json) out=$2; shift 2 ;;
	--policy) policy=$2; shift 2 ;;
	--agent) agent=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	*) echo "usage: sched_e2e_bench --json OUT [--policy P,...] [--agent actor|thread] [--rounds N]" >&2; exit 2 ;;
	esac
done
top=@WAVE_TOP@
build=@WAVE_BUILD@
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# WAVE_KO: another wave.ko than the checkout's kmod/wave.ko (empty: that one).
case "$agent" in actor | thread) ;; *) echo "sched_e2e_bench: --agent actor|thread" >&2; exit 2 ;; esac
WAVE_BUILD=$build WAVE_NICD_ARGS="${WAVE_NICD_ARGS:-} --sched-agent $agent" \
	"$top/tools/vm/run" -- env "WAVE_KO=${WAVE_KO:-}" \
	"$top/tools/bench/sched_e2e/sched_e2e_vm.sh" \
	"$build" "$policy" "$rounds" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
line=$(grep -a '^SCHED_E2E_JSON ' "$log" | tail -n1 | tr -d '\r')
[ -n "$line" ] || { tail -20 "$log" >&2; exit 1; }
json=${line#SCHED_E2E_JSON }
json="${json%\}},\"nic_agent\":\"$agent\"}"
echo "$json"
[ -z "$out" ] || echo "$json" >"$out"
