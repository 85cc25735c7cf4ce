#!/bin/sh
# Instructions per message on the producer and the consumer path of each queue, counted by
# callgrind (stable on a noisy machine, unlike timings). Run inside the dev root:
#   tools/vm/enter tools/bench/link/profile.sh BUILD_DIR [BATCH...]
set -eu
build=${1:?usage: profile.sh BUILD_DIR [BATCH...]}
shift
[ $# -gt 0 ] || set -- 1 32
bin=$build/bench-bin/link_bench
msgs=131072
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-15s %5s %14s %14s\n' queue batch "push Ir/msg" "pop Ir/msg"
for b in "$@"; do
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.$b" "$bin" --profile "$b" \
		--messages "$msgs" >/dev/null 2>"$out/log.$b"
	callgrind_annotate --inclusive=yes --threshold=100 "$out/cg.$b" >"$out/ann.$b"
	for q in WaveQueue:libwave_shm BoostQueue:boost_spsc DpdkQueue:dpdk_rte_ring; do
		cls=${q%%:*}
		name=${q#*:}
		push=$(grep "ProfilePush<wave::bench::$cls>" "$out/ann.$b" | head -1 | awk '{gsub(",","",$1); print $1}')
		pop=$(grep "ProfilePop<wave::bench::$cls>" "$out/ann.$b" | head -1 | awk '{gsub(",","",$1); print $1}')
		awk -v n="$name" -v b="$b" -v p="${push:-0}" -v c="${pop:-0}" -v m="$msgs" \
			'BEGIN { printf "%-15s %5d %14.1f %14.1f\n", n, b, p / m, c / m }'
	done
done
