#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The VM scheduling policy (nic_fw/policies/sched/vm) inside the emulated host (tools/vm/run):
# the sched_ext scheduler and wave.ko against the VM agent of wave-nicd, running OUTSIDE the
# VM on the emulated NIC. The "VMs" are vCPU-like thread groups (vcpu_group: threads that
# alternate work and sleep), one cgroup each; no nested QEMU guest (it would not fit the time
# budget under TCG). Each thread records its CPU history itself (sched_getcpu() on every pass
# of its work loop) and every CPU it ran on must be one its VM reserved; threads in no VM must
# stay on the unreserved CPUs. The host's fallback (a task that waited --fallback-us without a
# decision runs on an idle CPU) keeps to the reservations too; it is set to 1 s here and its
# count printed.
# Layout by the guest's CPU count: 4 or more: A on 1, B on 2-3, CPU 0 (and any above 3)
# unreserved; 3: A on 1, B on 2; 2: A on 1 only. A FIFO run of the same groups is the
# control: it must cross the reservation (else this test could not tell).
# Prints kselftest TAP; exits non-zero if anything failed.
#   selftests/sched_vm/run_vm.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
ko=${WAVE_KO:-$top/kmod/wave.ko}
export WAVE_SCHED_DIR=/tmp/wave-sched-vm-test
wavectl=$build/tools/wavectl/wavectl
group=$build/bpf/vcpu_group
state=/sys/kernel/sched_ext/state
cg=/sys/fs/cgroup
# shellcheck source=../lib/sched_tap.sh
. "$top/selftests/lib/sched_tap.sh"

cleanup() {
	"$wavectl" sched stop >/dev/null 2>&1
	wait_state disabled 10
	for d in "$cg"/wave-vm*; do
		[ -d "$d" ] || continue
		while read -r p; do echo "$p" >"$cg/cgroup.procs"; done <"$d/cgroup.procs" 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
	rmmod wave 2>/dev/null
	true
}
trap cleanup EXIT

# mask_of CPULIST: "2-3" -> 12
mask_of() {
	local m=0 part a b
	IFS=, read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		a=${part%-*} b=${part#*-}
		for ((; a <= b; a++)); do m=$((m | (1 << a))); done
	done
	echo $m
}

# masks FILE: every vCPU thread's CPUs from its own record (sched_getcpu() while it ran), one
# per line. The sampled /proc processor field is printed, not checked: under sched_ext it is
# the CPU of the runqueue the task was queued on when it woke (select_cpu()'s pick) until a
# decision moves it, so a task waiting in WAVE_SCHED_DSQ shows CPUs it never ran on.
masks() {
	grep -o '"self_mask":[0-9]*' "$1" | cut -d: -f2
}

# inside FILE MASK: every thread seen, and only on CPUs of MASK.
inside() {
	local m n=0
	for m in $(masks "$1"); do
		n=$((n + 1))
		[ "$m" -ne 0 ] && [ $((m & ~$2)) -eq 0 ] || return 1
	done
	[ "$n" -gt 0 ]
}

# Runs the groups side by side: A and B each in its cgroup, "none" where this shell is, each
# under `wavectl sched run` (SCHED_EXT), results in /tmp/vm-$1-{a,b,none}.json. Sets ra rb rn.
run_groups() {
	local tag=$1 pa pb pn
	sh -c "echo \$\$ >$cg/wave-vmA/cgroup.procs && exec $wavectl sched run -- $group \
		--threads $threads_a --seconds 3" >/tmp/vm-$tag-a.json &
	pa=$!
	if [ -n "$cpus_b" ]; then
		sh -c "echo \$\$ >$cg/wave-vmB/cgroup.procs && exec $wavectl sched run -- $group \
			--threads $threads_b --seconds 3" >/tmp/vm-$tag-b.json &
		pb=$!
	fi
	"$wavectl" sched run -- "$group" --threads 2 --seconds 3 >/tmp/vm-$tag-none.json &
	pn=$!
	wait $pa
	ra=$?
	rb=0
	[ -z "$cpus_b" ] || { wait "$pb"; rb=$?; }
	wait $pn
	rn=$?
	for g in a b none; do
		[ -s /tmp/vm-$tag-$g.json ] && echo "# $tag $g: $(cat /tmp/vm-$tag-$g.json)"
	done
}

echo "TAP version 13"
echo "1..15"
if [ ! -e "$state" ] || [ ! -x "$wavectl" ] || [ ! -x "$group" ]; then
	skip "sched_vm tests" "no sched_ext in this kernel or wavectl/vcpu_group not built"
	totals
fi
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ]; then
	skip "sched_vm tests" "needs 2 CPUs, the guest has $ncpu"
	totals
fi
cpus_a=1 cpus_b='' threads_a=2 threads_b=0
if [ "$ncpu" -ge 4 ]; then
	cpus_b=2-3 threads_b=3
elif [ "$ncpu" -eq 3 ]; then
	cpus_b=2 threads_b=2
fi
mask_a=$(mask_of $cpus_a)
mask_b=0
[ -z "$cpus_b" ] || mask_b=$(mask_of "$cpus_b")
mask_none=$((((1 << ncpu) - 1) & ~(mask_a | mask_b)))
echo "# $ncpu CPUs: VM A on $cpus_a ($threads_a vCPUs), VM B on ${cpus_b:-none} ($threads_b vCPUs)," \
	"2 threads in no VM on mask $mask_none"

grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none "$cg"
mkdir -p "$cg/wave-vmA" "$cg/wave-vmB"
# The cpu controller makes the kernel call sched_ext's cgroup_move() on a move between them.
echo +cpu >"$cg/cgroup.subtree_control" 2>/dev/null
dmesg -C
if ! insmod "$ko"; then
	nok "insmod $ko"
	totals
fi
for _ in $(seq 100); do [ -e /dev/wave0 ] && break; sleep 0.05; done
vms=(--vm "$cg/wave-vmA:$cpus_a")
[ -z "$cpus_b" ] || vms+=(--vm "$cg/wave-vmB:$cpus_b")

# 1. Bad tables are refused before anything starts, with a reason.
start() { "$wavectl" sched start --partial --fallback-us 1000000 --hb-timeout-ms 3000 "$@"; }
refused() { # refused WHAT ARGS...: start fails, says why, no scheduler left
	local what=$1 r
	shift
	start "$@" >/tmp/vm-bad.out 2>&1
	r=$?
	echo "# $what: $(head -1 /tmp/vm-bad.out)"
	[ $r -ne 0 ] && [ -s /tmp/vm-bad.out ] && [ "$(cat $state)" = disabled ]
}
check "bad table refused: no such cgroup" "refused missing --policy vm --vm /nonexistent:1"
check "bad table refused: every CPU reserved" \
	"refused all --policy vm --vm $cg/wave-vmA:0-$((ncpu - 1))"
check "bad table refused: CPU beyond the host" "refused beyond --policy vm --vm $cg/wave-vmA:$ncpu"
check "bad table refused: overlapping VMs" \
	"refused overlap --policy vm --vm $cg/wave-vmA:1 --vm $cg/wave-vmB:1"
check "bad table refused: --vm without --policy vm" "refused nopolicy --policy fifo ${vms[*]}"

# 2. The VM policy: every vCPU stays on its VM's CPUs.
start --policy vm "${vms[@]}" >/tmp/vm-start.out 2>&1
check "vm: scheduler enabled" "wait_state enabled 10"
[ "$(cat $state 2>/dev/null)" = enabled ] || sed 's/^/# /' /tmp/vm-start.out
run_groups vm
check "vm: every thread group completes, no task lost" "[ $ra -eq 0 ] && [ $rb -eq 0 ] && [ $rn -eq 0 ]"
check "vm: VM A's vCPUs ran only on A's CPUs ($cpus_a)" "inside /tmp/vm-vm-a.json $mask_a"
if [ -n "$cpus_b" ]; then
	check "vm: VM B's vCPUs ran only on B's CPUs ($cpus_b)" "inside /tmp/vm-vm-b.json $mask_b"
else
	skip "vm: VM B's vCPUs ran only on B's CPUs" "2 CPUs: room for one VM only"
fi
check "vm: threads in no VM ran only on unreserved CPUs (mask $mask_none)" \
	"inside /tmp/vm-vm-none.json $mask_none"

# 3. A move between cgroups reaches the agent (sched_ext's cgroup_move, cpu controller on).
sleep 1.2 # the daemon refreshes stats.json twice a second
"$wavectl" sched status --json >/tmp/vm-status1.json
g1=$(grep -o '"group":[0-9]*' /tmp/vm-status1.json | cut -d: -f2)
"$wavectl" sched run -- sleep 2 &
sp=$!
sleep 0.5
echo $sp >"$cg/wave-vmA/cgroup.procs"
wait $sp
sleep 1.2
"$wavectl" sched status --json >/tmp/vm-status.json
echo "# vm scheduler: $(cat /tmp/vm-status.json)"
g2=$(grep -o '"group":[0-9]*' /tmp/vm-status.json | cut -d: -f2)
c=$(jget /tmp/vm-status.json committed)
f=$(jget /tmp/vm-status.json fallbacks)
echo "# vm: committed ${c:-?}, fallbacks ${f:-?}, task groups sent ${g1:-?} then ${g2:-?}"
check "vm: the agent's decisions committed, fallbacks a minority" \
	"[ \"${c:-0}\" -gt 0 ] && [ -n \"$f\" ] && [ \"$f\" -lt \"${c:-0}\" ]"
if grep -q '+cpu\|cpu' "$cg/cgroup.subtree_control" 2>/dev/null; then
	check "vm: a cgroup move sends the task's new group (${g1:-?} -> ${g2:-?})" \
		"[ \"${g2:-0}\" -gt \"${g1:-0}\" ]"
else
	skip "vm: a cgroup move sends the task's new group" "no cpu controller"
fi
"$wavectl" sched stop >/dev/null 2>&1
wait_state disabled 10

# 4. Control: FIFO ignores the reservation, so the same check must see it crossed.
start --policy fifo >/tmp/vm-start.out 2>&1
wait_state enabled 10
run_groups fifo
crossed=0
inside /tmp/vm-fifo-a.json "$mask_a" || crossed=1
[ -z "$cpus_b" ] || inside /tmp/vm-fifo-b.json "$mask_b" || crossed=1
check "control: under FIFO the groups complete and cross the reservation" \
	"[ $ra -eq 0 ] && [ $rb -eq 0 ] && [ $rn -eq 0 ] && [ $crossed -eq 1 ]"
"$wavectl" sched stop >/dev/null 2>&1
wait_state disabled 10

rmmod wave
check "scheduler stopped: wave.ko unloads" "[ \$? -eq 0 ]"
if dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' >/tmp/sched-vm-trouble; then
	nok "kernel log clean"
	sed 's/^/# /' /tmp/sched-vm-trouble | head -40
else
	ok "kernel log clean"
fi
totals
