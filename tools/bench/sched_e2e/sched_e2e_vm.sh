#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the emulated host: the same workload under the kernel's default scheduler (EEVDF)
# and under the Wave scheduler, side by side in one boot; prints one line
# "SCHED_E2E_JSON {...}" for sched_e2e_bench to pick up.
#   sched_e2e_vm.sh BUILD_DIR [POLICY]
# POLICY none (default) uses the stand-in agent in the VM (selftests/sched); fifo/shinjuku
# ask wave-nicd's agent.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$top/build}
policy=${2:-none}
bin=$build/bpf
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_SCHED_DIR=/tmp/wave-sched-bench
wl=("$bin/sched_workload" --long 4 --long-ms 300 --short 256 --sleepers 4 --timeout 600)
jget() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }
fail() { echo "sched_e2e: $*" >&2; exit 1; }

insmod "$ko" || fail "insmod $ko"
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

runs=3
eevdf=() wave=() rates=() fb=() p99=() pickup99=()
for i in $(seq $runs); do
	# Alternate, so drift in the emulator's speed hits both sides alike.
	"${wl[@]}" >/tmp/e.json || fail "workload failed under EEVDF"
	eevdf+=("$(jget /tmp/e.json elapsed_s)")

	# Partial mode (a ghOSt enclave): the workload is in the Wave class, the stand-in agent
	# and the rest of the VM are not, as the agent would be on a real NIC.
	"$bin/wave-sched" start --policy "$policy" --partial --hb-timeout-ms 3000 >/dev/null ||
		fail "wave-sched start"
	agent_pid=
	if [ "$policy" = none ]; then
		"$bin/wave_sched_agent" --mode fifo >/tmp/agent.json 2>/dev/null &
		agent_pid=$!
	fi
	sleep 1.2
	c0=$(jget "$WAVE_SCHED_DIR/stats.json" committed)
	f0=$(jget "$WAVE_SCHED_DIR/stats.json" fallbacks)
	"$bin/wave-sched" run -- "${wl[@]}" >/tmp/w.json || fail "workload failed under Wave"
	sleep 1.2
	c1=$(jget "$WAVE_SCHED_DIR/stats.json" committed)
	f1=$(jget "$WAVE_SCHED_DIR/stats.json" fallbacks)
	fb+=("$(awk "BEGIN{d = $c1 - $c0 + $f1 - $f0; print d ? ($f1 - $f0) / d : 0}")")
	p99+=("$(jget "$WAVE_SCHED_DIR/stats.json" decision_latency_p99_ns)")
	pickup99+=("$(jget "$WAVE_SCHED_DIR/stats.json" idle_pickup_p99_ns)")
	t=$(jget /tmp/w.json elapsed_s)
	wave+=("$t")
	rates+=("$(awk "BEGIN{print ($c1 - $c0) / $t}")")
	[ -n "$agent_pid" ] && kill "$agent_pid" && wait "$agent_pid" 2>/dev/null
	"$bin/wave-sched" stop >/dev/null
	for _ in $(seq 100); do [ "$(cat /sys/kernel/sched_ext/state)" = disabled ] && break; sleep 0.1; done
done
rmmod wave

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
me=$(median "${eevdf[@]}") mw=$(median "${wave[@]}") mr=$(median "${rates[@]}")
mf=$(median "${fb[@]}") mp=$(median "${p99[@]}") mi=$(median "${pickup99[@]}")
echo "SCHED_E2E_JSON {\"policy\":\"$policy\",\"runs\":$runs,\"eevdf_s\":$me,\"wave_s\":$mw,\
\"workload_ratio_vs_eevdf\":$(awk "BEGIN{print $mw / $me}"),\"e2e_decisions_per_s\":$mr,\
\"fallback_share\":$mf,\"decision_latency_p99_ns\":$mp,\"idle_pickup_p99_ns\":$mi,\"mode\":\"partial\",\
\"note\":\"VM under TCG (no KVM): ratios only; decisions/s = committed NIC decisions per second of the workload; agent = $([ "$policy" = none ] && echo 'stand-in FIFO agent in the VM' || echo "wave-nicd $policy")\"}"
