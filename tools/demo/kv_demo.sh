#!/bin/bash
# make demo, second part (on this machine, in the dev root): the key-value store that runs as
# actors on the emulated NIC, served on the NIC's network port (a socket of wave-nicd here)
# and driven by real memcached clients from libmemcached-tools.
#   tools/demo/kv_demo.sh BUILD_DIR
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
wavectl=$build/tools/wavectl/wavectl
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

d=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
step "wave-nicd --kv: the store's shards as actors of the NIC runtime, on the NIC's port"
"$build/nic_fw/nicd/wave-nicd" --socket "$d/nic.sock" --shm "$d/bar" --sched-agent off \
	--kv 127.0.0.1:0,shards=2,mem=128M >"$d/out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	port=$(sed -nE 's/.*kv store on 127.0.0.1 tcp ([0-9]+).*/\1/p' "$d/out")
	[ -n "$port" ] && break
	sleep 0.1
done
sed 's/^/  /' "$d/out"

step "memcapable -a (libmemcached-tools' protocol conformance tester) against it"
memccapable -h 127.0.0.1 -p "$port" -a | tail -n 4

step "memccp / memccat: a file in, the same file out"
seq 1 2000 >"$d/numbers.txt"
memccp --servers=127.0.0.1:$port "$d/numbers.txt"
# memccat ends what it prints with a newline of its own (as it does against memcached).
size=$(wc -c <"$d/numbers.txt")
memccat --servers=127.0.0.1:$port numbers.txt | head -c "$size" | cmp - "$d/numbers.txt" &&
	echo "  identical ($size bytes)"

step "memcslap: 4 client threads, 20000 gets of 5000 keys"
memcslap --servers=127.0.0.1:$port --concurrency=4 --execute-number=5000 --test=get | sed 's/^/  /'

step "wavectl kv status: where each shard runs, its load and memory"
"$wavectl" kv status --server 127.0.0.1:$port
