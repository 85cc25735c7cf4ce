#!/bin/bash
# memcapable (libmemcached-tools' memcached protocol conformance tester, written by others)
# against the store on wave-nicd's network port, for the protocol the store claims: ascii.
# Also: a bad --kv is refused with a message, and the store survives every test's traffic.
#   memcapable_test.sh WAVE_NICD WAVECTL
set -u
nicd=$1
wavectl=$2
tester=$(command -v memccapable || command -v memcapable) || {
	echo "SKIP: memcapable is not installed (libmemcached-tools)"
	exit 77
}
d=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT

if "$nicd" --socket "$d/x.sock" --kv 127.0.0.1 2>"$d/err"; then
	echo "FAIL: wave-nicd took --kv without a port"
	exit 1
fi
grep -q -- "--kv wants ADDR:PORT" "$d/err" || { echo "FAIL: no clear error:"; cat "$d/err"; exit 1; }

"$nicd" --socket "$d/nic.sock" --shm "$d/bar" --sched-agent off \
	--kv 127.0.0.1:0,shards=2,mem=64M >"$d/out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	port=$(sed -nE 's/.*kv store on 127.0.0.1 tcp ([0-9]+).*/\1/p' "$d/out")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: wave-nicd did not start the store"; cat "$d/out"; exit 1; }

"$tester" -h 127.0.0.1 -p "$port" -a -t 10 >"$d/capable" 2>&1
rc=$?
cat "$d/capable"
passed=$(grep -c '\[pass\]' "$d/capable")
failed=$(grep -c '\[FAIL\]' "$d/capable")
echo "memcapable ascii: $passed passed, $failed failed (exit $rc)"
[ "$rc" = 0 ] && [ "$failed" = 0 ] && [ "$passed" -ge 27 ] || exit 1
# Still serving after the tester's traffic.
kill -0 $pid || { echo "FAIL: wave-nicd died"; cat "$d/out"; exit 1; }
reply=$(printf 'set after 0 0 2\r\nok\r\nget after\r\n' | timeout 5 bash -c \
	"exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3; sleep 0.3; timeout 1 cat <&3" | tr -d '\r')
[ "$reply" = "$(printf 'STORED\nVALUE after 0 2\nok\nEND')" ] || {
	echo "FAIL: after memcapable: '$reply'"
	exit 1
}
# The operator's view: wavectl kv status, text and JSON.
status=$("$wavectl" kv status --server 127.0.0.1:$port) || { echo "FAIL: wavectl kv status"; exit 1; }
echo "$status"
grep -q "2 shards" <<<"$status" && grep -qE "kv.shard1 +nic" <<<"$status" ||
	{ echo "FAIL: wavectl kv status does not show the shards"; exit 1; }
"$wavectl" kv status --server 127.0.0.1:$port --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert len(s["shards"]) == 2 and all(x["where"] == "nic" for x in s["shards"]), s
assert s["front"]["requests"] > 0, s
' || { echo "FAIL: wavectl kv status --json"; exit 1; }
echo "ok"
