#!/bin/bash
# Runs inside the emulated host: every VM test suite, one after the other, in one boot (a boot
# under TCG costs ~30 s). Each suite prints kselftest TAP with a "# Totals:" line.
#   tools/check/vm_tests.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
rc=0
for suite in "$top"/selftests/*/run_vm.sh; do
	echo "# suite: ${suite#"$top"/}"
	"$suite" "$build" || rc=1
done
exit $rc
