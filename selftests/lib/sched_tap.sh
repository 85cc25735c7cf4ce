# SPDX-License-Identifier: GPL-2.0
# Shell helpers shared by the scheduling VM suites (selftests/sched, selftests/sched_nic):
# kselftest-style TAP lines with a final "# Totals:" line, a JSON field reader, and a wait on
# sched_ext's state. Source it after setting $state (the sched_ext state file).
n=0 pass=0 fail=0 skip=0

ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; echo "# failed: $2"; fi; }
totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" -eq 0 ]
	exit $?
}
# jget FILE KEY: the first number after "KEY": in a one-line JSON file.
jget() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }
wait_state() { # wait_state enabled|disabled SECONDS
	local i
	for i in $(seq $(($2 * 10))); do
		[ "$(cat $state 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
