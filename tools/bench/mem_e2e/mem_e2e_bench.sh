#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the memory offload end to end in the emulated host (boots the VM once): the
# workload with no policy, the kernel's DAMON_RECLAIM, Wave's age and SOL agents on the NIC and
# SOL on a host core, interleaved round by round (tools/bench/mem_e2e/mem_e2e_vm.sh). TCG, so
# only the ratios mean anything.
#   mem_bench --json OUT.json [--rounds N] [--seconds S]
set -eu
out= rounds=2 secs=20
while [ $# -gt 0 ]; do
	case "$1" in
	--json) out=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	*) echo "usage: mem_bench --json OUT [--rounds N] [--seconds S]" >&2; exit 2 ;;
	esac
done
top=@WAVE_TOP@
build=@WAVE_BUILD@
log=$(mktemp)
trap 'rm -f "$log"' EXIT
WAVE_BUILD=$build WAVE_NICD_ARGS="${WAVE_NICD_ARGS:-} --sched-agent off" \
	"$top/tools/vm/run" --memory 2G -- env "WAVE_KO=${WAVE_KO:-}" \
	"$top/tools/bench/mem_e2e/mem_e2e_vm.sh" "$build" "$rounds" "$secs" >"$log" 2>&1 ||
	{ tail -20 "$log" >&2; exit 1; }
grep -a '^# ' "$log" | tr -d '\r' >&2 || true
line=$(grep -a '^MEM_E2E_JSON ' "$log" | tail -n1 | tr -d '\r')
[ -n "$line" ] || { tail -20 "$log" >&2; exit 1; }
json=${line#MEM_E2E_JSON }
echo "$json"
[ -z "$out" ] || { mkdir -p "$(dirname "$out")" && echo "$json" >"$out"; }
