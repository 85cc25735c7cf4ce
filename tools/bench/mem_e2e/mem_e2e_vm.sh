#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the emulated host: the memory offload against its peers, one boot, the same workload
# under every configuration, configurations interleaved round by round (A B C D E A B C D E):
#   none      no policy
#   kernel    the kernel's DAMON_RECLAIM (always-on watermarks, min_age 2 s)
#   age_nic   Wave's age policy in wave-nicd outside the VM (the emulated NIC)
#   sol_nic   Wave's SOL agent on the NIC
#   sol_host  the same agent on a host core: wave.ko's loopback device, wave-nicd in the VM
# The far tier is 1 GiB of zram swap. Prints one line "MEM_E2E_JSON {...}".
#   mem_e2e_vm.sh BUILD_DIR [ROUNDS] [SECONDS] [CONFIGS]
# CONFIGS (comma separated, default all; "none" is always run first, the ratios need it) runs
# only those. WAVE_MEM_E2E_DIAG=1 also prints each run's daemon status and, halfway through the
# run, where the workload's memory is (Rss and Swap of its mappings, from smaps).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$top/build}
rounds=${2:-2}
secs=${3:-20}
ko=${WAVE_KO:-$top/kmod/wave.ko}
memhost=$build/tools/mem-host/wave-mem-host
nicd=$build/nic_fw/nicd/wave-nicd
workload=$build/tools/mem-workload/wave-mem-workload
wl_args=(--mib 256 --cold-fraction 0.75 --cold-reads 0.01 --warmup 3 --seconds "$secs")
sd=/tmp/wave-mem-bench
configs=(none kernel age_nic sol_nic sol_host)
if [ -n "${4:-}" ]; then
	configs=(none)
	for c in ${4//,/ }; do [ "$c" = none ] || configs+=("$c"); done
fi
diag=${WAVE_MEM_E2E_DIAG:-0}
mget() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }
fail() { echo "mem_e2e: $*" >&2; exit 1; }
cpu_s() { # utime + stime of a pid, seconds
	awk '{print ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0
}

[ -w /sys/module/damon_stat/parameters/enabled ] && echo N >/sys/module/damon_stat/parameters/enabled
modprobe zram num_devices=1 && echo 1G >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null &&
	swapon /dev/zram0 || fail "no zram swap"
insmod "$ko" loopback=1 || fail "insmod $ko loopback=1"
pci= loop=
for _ in $(seq 100); do
	for d in /sys/class/wave/wave*; do
		[ -e "$d/backend" ] || continue
		case "$(cat "$d/backend")" in
		loopback) loop=/dev/$(basename "$d") ;;
		*) pci=/dev/$(basename "$d") ;;
		esac
	done
	[ -n "$pci" ] && [ -n "$loop" ] && [ -e "$pci" ] && [ -e "$loop" ] && break
	sleep 0.05
done
[ -n "$pci" ] && [ -n "$loop" ] || fail "need the PCI device and the loopback device ($pci, $loop)"
# The on-host agent: wave-nicd on the loopback device, only its memory agent.
"$nicd" --device "$loop" --sched-agent off >/tmp/nicd-host.log 2>&1 &
host_nicd=$!
sleep 1
kill -0 $host_nicd || fail "on-host wave-nicd did not start: $(tail -3 /tmp/nicd-host.log)"

reclaim=/sys/module/damon_reclaim/parameters
kernel_on() {
	echo 2000000 >$reclaim/min_age && echo 1000 >$reclaim/wmarks_high &&
		echo 999 >$reclaim/wmarks_mid && echo 0 >$reclaim/wmarks_low && echo Y >$reclaim/enabled
}
kernel_off() { echo N >$reclaim/enabled 2>/dev/null; sleep 0.5; }
kdamond_cpu() { # summed CPU of the kdamond threads now alive
	local s=0 p
	for p in $(pgrep kdamond); do s=$(awk -v a="$s" -v b="$(cpu_s "$p")" 'BEGIN{print a + b}'); done
	echo "$s"
}

# run CONFIG ROUND: the workload under CONFIG; leaves /tmp/r-CONFIG-ROUND.json.
run() {
	local c=$1 r=$2 dev= policy= mh= k0 k1 n0=0 n1=0
	case "$c" in
	kernel) kernel_on || fail "DAMON_RECLAIM did not start" ;;
	age_nic) dev=wave:$pci policy=age ;;
	sol_nic) dev=wave:$pci policy=sol ;;
	sol_host) dev=wave:$loop policy=sol n0=$(cpu_s $host_nicd) ;;
	esac
	k0=$(kdamond_cpu)
	rm -f /tmp/wl.pid
	"$workload" "${wl_args[@]}" --seed "$r" --ready-file /tmp/wl.pid --json /tmp/wl.json \
		>/dev/null 2>/tmp/wl.err &
	local wl=$!
	for _ in $(seq 300); do [ -s /tmp/wl.pid ] && break; sleep 0.1; done
	if [ -n "$policy" ]; then
		"$memhost" start --policy "$policy" --device "$dev" --state-dir $sd --pid $wl \
			--status-out /tmp/mh.json >/tmp/mh.out 2>&1 || fail "wave-mem-host: $(cat /tmp/mh.out)"
		mh=$(cat $sd/pid)
	fi
	if [ "$diag" = 1 ]; then
		sleep $((secs / 2 + 3))
		# Rss/Swap (kB) of each mapping with any, and the process's totals.
		echo "# smaps $c round $r: $(awk '/^[0-9a-f]+-[0-9a-f]+ /{m=$1" "$2" "$6} /^Rss:/{rss=$2} /^Swap:/{if (rss + $2 > 0) printf "%s rss=%d swap=%d; ", m, rss, $2}' /proc/$wl/smaps 2>/dev/null)"
		[ -n "$mh" ] && echo "# status-mid $c round $r: $(tr -d '\n' <$sd/status.json 2>/dev/null)"
	fi
	wait $wl || fail "$c: the workload failed: $(cat /tmp/wl.err)"
	k1=$(kdamond_cpu)
	local mh_cpu=0 mh_kd=0 mh_enact=0
	if [ -n "$mh" ]; then
		# The daemon ends by itself once its target exited, writing its final status.
		for _ in $(seq 100); do kill -0 "$mh" 2>/dev/null || break; sleep 0.1; done
		"$memhost" stop --state-dir $sd >/dev/null 2>&1
		mh_cpu=$(mget /tmp/mh.json mechanism_cpu_s)
		mh_enact=$(mget /tmp/mh.json enact_cpu_s)
		mh_kd=$(mget /tmp/mh.json kdamond_cpu_s)
	fi
	[ "$c" = kernel ] && kernel_off
	[ "$c" = sol_host ] && n1=$(cpu_s $host_nicd)
	local kd agent
	kd=$(awk -v a="$k0" -v b="$k1" -v w="${mh_kd:-0}" 'BEGIN{d = b - a; print (d > 0 ? d : 0) + w}')
	agent=$(awk -v a="$n0" -v b="$n1" 'BEGIN{print b - a}')
	# Host CPU spent on the policy: the mechanism (wave-mem-host: collection, shipping,
	# checking), plus the agent itself when it runs on a host core (wave-nicd in the VM).
	# DAMON's kdamond (collection) and the enactment (process_madvise doing the reclaim) are
	# reported apart: every configuration that monitors or reclaims pays them.
	local policy_cpu
	policy_cpu=$(awk -v a="$mh_cpu" -v c="$agent" 'BEGIN{print a + c}')
	sed "s/}\$/, \"config\": \"$c\", \"mechanism_cpu_s\": $mh_cpu, \"kdamond_cpu_s\": $kd, \"agent_cpu_s\": $agent, \"policy_cpu_s\": $policy_cpu, \"enact_cpu_s\": $mh_enact, \"enacted_pageout\": $( [ -n "$mh" ] && mget /tmp/mh.json enacted_pageout || echo 0), \"bytes_paged_out\": $( [ -n "$mh" ] && mget /tmp/mh.json bytes_paged_out || echo 0), \"model_accuracy\": $( [ -n "$mh" ] && mget /tmp/mh.json model_accuracy || echo 0)}/" \
		/tmp/wl.json >/tmp/r-$c-$r.json
	echo "# $c round $r: $(cat /tmp/r-$c-$r.json)"
	[ "$diag" = 1 ] && [ -n "$mh" ] && echo "# status $c round $r: $(tr -d '\n' </tmp/mh.json)"
	[ "$(mget /tmp/wl.json corrupt_records)" = 0 ] || fail "$c: corrupt records"
}

for r in $(seq "$rounds"); do
	for c in "${configs[@]}"; do run "$c" "$r"; done
done
kill $host_nicd 2>/dev/null
wait $host_nicd 2>/dev/null
swapoff /dev/zram0

# Medians over rounds of the per-round figures and of the per-round ratios to "none".
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "null"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
med() { for r in $(seq "$rounds"); do mget /tmp/r-$1-$r.json "$2"; done | median; }
ratio() { # ratio CONFIG KEY: median of per-round CONFIG/none
	for r in $(seq "$rounds"); do
		awk -v a="$(mget /tmp/r-$1-$r.json "$2")" -v b="$(mget /tmp/r-none-$r.json "$2")" \
			'BEGIN{if (b > 0) print a / b}'
	done | median
}
json="{\"rounds\": $rounds, \"seconds\": $secs, \"workload\": \"wave-mem-workload ${wl_args[*]}\", \"tcg\": true"
for c in "${configs[@]}"; do
	for k in requests_per_s p99_ns rss_avg_bytes rss_peak_bytes major_faults policy_cpu_s kdamond_cpu_s enact_cpu_s bytes_paged_out; do
		json+=", \"${k}_$c\": $(med "$c" "$k")"
	done
done
for c in "${configs[@]}"; do
	[ "$c" = none ] && continue
	json+=", \"throughput_ratio_${c}_vs_none\": $(ratio "$c" requests_per_s)"
	json+=", \"p99_ratio_${c}_vs_none\": $(ratio "$c" p99_ns)"
	rr=$(ratio "$c" rss_avg_bytes)
	json+=", \"rss_saved_ratio_$c\": $(awk -v x="$rr" 'BEGIN{if (x == "null") print "null"; else print 1 - x}')"
done
on_host=$(med sol_host policy_cpu_s)
on_nic=$(med sol_nic policy_cpu_s)
json+=", \"host_policy_cpu_s_on_host\": $on_host, \"host_policy_cpu_s_on_nic\": $on_nic"
json+=", \"host_policy_cpu_ratio_nic_vs_host\": $(awk -v a="$on_nic" -v b="$on_host" 'BEGIN{if (b > 0) print a / b; else print "null"}')"
json+=", \"agent_cpu_s_on_host\": $(med sol_host agent_cpu_s)}"
echo "MEM_E2E_JSON $json"
