#!/bin/bash
# Runs inside the emulated host: every VM test suite (selftests/*/run_vm.sh), one after the
# other, in one boot (a boot under TCG costs ~30 s). The wave.ko suite goes first: the others
# build on it. Each suite starts with wave.ko unloaded and prints kselftest TAP with a
# "# Totals:" line; a suite that dies before printing one is reported as one failure.
#   tools/check/vm_tests.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
rc=0
suites=("$top/selftests/wave/run_vm.sh")
for s in "$top"/selftests/*/run_vm.sh; do
	[ "$s" = "${suites[0]}" ] || suites+=("$s")
done
for suite in "${suites[@]}"; do
	name=${suite#"$top"/}
	echo "# suite: $name"
	rmmod wave 2>/dev/null || true
	out=/tmp/suite.$$.log
	"$suite" "$build" 2>&1 | tee "$out"
	src=${PIPESTATUS[0]}
	if ! grep -q '^# Totals:' "$out"; then
		echo "not ok 1 $name ended (exit $src) without reporting its results"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	fi
	[ "$src" = 0 ] || rc=1
done
rmmod wave 2>/dev/null || true
exit $rc
