#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the emulated host: the same workloads under every scheduler, in one boot, the
# schedulers interleaved round by round (A B C ... A B C ...); prints one line
# "SCHED_E2E_JSON {...}" for sched_e2e_bench to pick up.
#   sched_e2e_vm.sh BUILD_DIR [POLICIES] [ROUNDS]
# POLICIES: Wave policies, comma-separated (default fifo,shinjuku: wave-nicd's agents; none:
# the stand-in agent of selftests/sched in the VM; fifo_timer: FIFO with wave-nicd restarted
# with --sched-irq off, so idle CPUs find their decisions by the host's kick timer alone). The peers are EEVDF (the kernel's default)
# and the kernel's own scx_simple and scx_central (bpf/scx_peers), when they load.
# Workloads: mixed (selftests/sched/sched_workload), hackbench (rt-tests), forkexec (300
# fork+exec of /bin/true) by wall time, and wakeup (cyclictest: mean wake-up latency).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$top/build}
policies=${2:-fifo,shinjuku}
rounds=${3:-3}
bin=$build/bpf
peers=$bin/scx_peers
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_SCHED_DIR=/tmp/wave-sched-bench
state=/sys/kernel/sched_ext/state
workloads=(mixed hackbench forkexec wakeup)
unavailable=()
jget() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }
fail() { echo "sched_e2e: $*" >&2; exit 1; }
wait_state() {
	for _ in $(seq 100); do [ "$(cat $state 2>/dev/null)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}

# nicd_restart [FLAGS...]: a new wave-nicd outside the VM, with these extra flags
# (tools/vm/run's control directory).
nicd_restart() {
	[ -n "${WAVE_NICD_CTL:-}" ] || fail "no \$WAVE_NICD_CTL: run under tools/vm/run"
	echo "$*" >"$WAVE_NICD_CTL/args"
	touch "$WAVE_NICD_CTL/kill"
	for _ in $(seq 200); do [ -e "$WAVE_NICD_CTL/killed" ] && break; sleep 0.05; done
	touch "$WAVE_NICD_CTL/start"
	for _ in $(seq 200); do [ -e "$WAVE_NICD_CTL/started" ] && return 0; sleep 0.05; done
	fail "wave-nicd did not restart with '$*'"
}

# run_workload NAME [PREFIX...]: the workload's figure (seconds, or µs for wakeup) on stdout.
run_workload() {
	local name=$1 t0 t1
	shift
	case "$name" in
	mixed)
		"$@" "$bin/sched_workload" --long 4 --long-ms 300 --short 256 --sleepers 4 --timeout 600 \
			>/tmp/wl.json || return 1
		jget /tmp/wl.json elapsed_s ;;
	hackbench)
		"$@" hackbench -g 4 -l 100 -s 100 >/tmp/hb.out 2>&1 || return 1
		awk '/^Time:/ {print $2}' /tmp/hb.out ;;
	forkexec)
		t0=$(date +%s.%N)
		"$@" bash -c 'for i in $(seq 300); do /bin/true; done' || return 1
		t1=$(date +%s.%N)
		awk "BEGIN{print $t1 - $t0}" ;;
	wakeup)
		# Two threads, 1 ms period, 1000 loops, SCHED_OTHER (so the scheduler under test
		# decides their wake-ups); the mean of the threads' average latencies.
		"$@" cyclictest -q -t 2 -i 1000 -l 1000 >/tmp/ct.out 2>&1 || return 1
		awk '/Avg:/ {for (i = 1; i <= NF; i++) if ($i == "Avg:") {s += $(i + 1); n++}}
			END {if (n) print s / n; else exit 1}' /tmp/ct.out ;;
	esac
}

# The schedulers of this boot, in the order each round runs them.
scheds=(eevdf)
for p in simple central; do
	if [ -x "$peers/scx_$p" ]; then
		"$peers/scx_$p" >/tmp/scx_$p.out 2>&1 &
		pid=$!
		if wait_state enabled; then scheds+=("scx_$p"); else
			echo "sched_e2e: scx_$p does not load here: $(tail -1 /tmp/scx_$p.out)" >&2
			unavailable+=("scx_$p")
		fi
		kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; wait_state disabled
	fi
done
IFS=, read -ra wave_policies <<<"$policies"
for p in "${wave_policies[@]}"; do scheds+=("wave_$p"); done

insmod "$ko" || fail "insmod $ko"
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done

declare -A fig         # fig[sched,workload,round]
declare -A wstat       # per Wave policy, per round: fallback share, latencies, decisions/s
for r in $(seq "$rounds"); do
	for s in "${scheds[@]}"; do
		prefix=() pid= agent_pid=
		case "$s" in
		scx_*)
			"$peers/$s" >/tmp/$s.out 2>&1 &
			pid=$!
			wait_state enabled || fail "$s did not attach" ;;
		wave_*)
			policy=${s#wave_}
			if [ "$policy" = fifo_timer ]; then
				policy=fifo
				nicd_restart --sched-irq off
			fi
			# Partial mode (a ghOSt enclave): the workload is in the Wave class, the rest of
			# the VM is not, as the agent would be on a real NIC.
			"$bin/wave-sched" start --policy "$policy" --partial --hb-timeout-ms 3000 >/dev/null ||
				fail "wave-sched start --policy $policy"
			if [ "$policy" = none ]; then
				"$bin/wave_sched_agent" --mode fifo >/tmp/agent.json 2>/dev/null &
				agent_pid=$!
			fi
			sleep 1.2
			c0=$(jget "$WAVE_SCHED_DIR/stats.json" committed)
			f0=$(jget "$WAVE_SCHED_DIR/stats.json" fallbacks)
			t0=$(date +%s.%N)
			prefix=("$bin/wave-sched" run --) ;;
		esac
		for w in "${workloads[@]}"; do
			v=$(run_workload "$w" "${prefix[@]}") || fail "$w failed under $s"
			fig[$s,$w,$r]=$v
		done
		case "$s" in
		scx_*) kill -INT "$pid"; wait "$pid" 2>/dev/null; wait_state disabled ;;
		wave_*)
			t1=$(date +%s.%N)
			sleep 1.2 # the daemon refreshes stats.json twice a second
			st=$WAVE_SCHED_DIR/stats.json
			c1=$(jget "$st" committed) f1=$(jget "$st" fallbacks)
			wstat[$s,fallback,$r]=$(awk "BEGIN{d = $c1 - $c0 + $f1 - $f0; print d ? ($f1 - $f0) / d : 0}")
			wstat[$s,rate,$r]=$(awk "BEGIN{print ($c1 - $c0) / ($t1 - $t0)}")
			for k in decision_latency_p50_ns decision_latency_p99_ns idle_pickup_p50_ns idle_pickup_p99_ns; do
				wstat[$s,$k,$r]=$(jget "$st" $k)
			done
			# Idle pickups the kick timer made (the rest: the NIC's interrupt and the CPUs'
			# own dispatch), over the whole run of this scheduler.
			wstat[$s,timer_share,$r]=$(awk -v t="$(jget "$st" idle_pickups_timer)" \
				-v n="$(jget "$st" idle_pickup_count)" 'BEGIN{print n ? t / n : 0}')
			[ -n "$agent_pid" ] && kill "$agent_pid" && wait "$agent_pid" 2>/dev/null
			"$bin/wave-sched" stop >/dev/null
			wait_state disabled
			[ "$s" = wave_fifo_timer ] && nicd_restart ;;
		esac
	done
done
rmmod wave

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# ratio_median A B W: the median over rounds of A's figure / B's figure for workload W.
ratio_median() {
	local r v=()
	for r in $(seq "$rounds"); do v+=("$(awk "BEGIN{print ${fig[$1,$3,$r]} / ${fig[$2,$3,$r]}}")"); done
	median "${v[@]}"
}
has() { local x; for x in "${scheds[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
json="{\"rounds\":$rounds,\"schedulers\":\"${scheds[*]}\",\"workloads\":{"
sep=
for w in "${workloads[@]}"; do
	json+="$sep\"$w\":{\"unit\":\"$([ $w = wakeup ] && echo us || echo s)\""
	for s in "${scheds[@]}"; do
		v=()
		for r in $(seq "$rounds"); do v+=("${fig[$s,$w,$r]}"); done
		json+=",\"${s}\":$(median "${v[@]}")"
	done
	for s in "${scheds[@]}"; do
		case "$s" in wave_*) ;; *) continue ;; esac
		json+=",\"${s}_ratio_vs_eevdf\":$(ratio_median "$s" eevdf "$w")"
		for p in scx_simple scx_central; do
			has "$p" && json+=",\"${s}_ratio_vs_${p}\":$(ratio_median "$s" "$p" "$w")"
		done
	done
	json+="}"
	sep=,
done
json+="}"
# The headline figures are Wave FIFO's (the first policy), on its worst workload.
lead=wave_${wave_policies[0]}
worst() { # worst PEER: the largest median per-round ratio of $lead to PEER over the workloads
	local w m=0 v
	for w in "${workloads[@]}"; do
		v=$(ratio_median "$lead" "$1" "$w")
		m=$(awk "BEGIN{print ($v > $m) ? $v : $m}")
	done
	echo "$m"
}
json+=",\"workload_ratio_vs_eevdf\":$(worst eevdf)"
for p in scx_simple scx_central; do
	if has "$p"; then json+=",\"workload_ratio_vs_$p\":$(worst "$p")"; else json+=",\"workload_ratio_vs_$p\":null"; fi
done
for s in "${scheds[@]}"; do
	case "$s" in wave_*) ;; *) continue ;; esac
	for k in fallback rate decision_latency_p50_ns decision_latency_p99_ns idle_pickup_p50_ns idle_pickup_p99_ns timer_share; do
		v=()
		for r in $(seq "$rounds"); do v+=("${wstat[$s,$k,$r]}"); done
		name=$k
		[ $k = fallback ] && name=fallback_share
		[ $k = rate ] && name=e2e_decisions_per_s
		[ $k = timer_share ] && name=idle_pickup_timer_share
		json+=",\"${s}_$name\":$(median "${v[@]}")"
		[ "$s" = "$lead" ] && json+=",\"$name\":$(median "${v[@]}")"
	done
done
note="VM under TCG (no KVM): ratios only, each the median of per-round ratios (the schedulers run"
note+=" in turn within each round); Wave in partial mode (only the workload in its class), the"
note+=" scx peers switch every task; e2e_decisions_per_s = committed NIC decisions per second"
[ ${#unavailable[@]} -gt 0 ] && note+="; not run: ${unavailable[*]} (did not load on this kernel)"
echo "SCHED_E2E_JSON $json,\"mode\":\"partial\",\"note\":\"$note\"}"
