#!/usr/bin/env bash
# The mem-host tests in the dev root's 7.2 kernel under QEMU (TCG), where no other kdamond
# runs: the DAMON end-to-end test (Collector.EndToEndHotAndCold) cannot run on a host whose
# DAMON already has a running kdamond (nr_kdamonds cannot change then). DAMON_STAT is
# turned off on the kernel command line: it runs its kdamond exclusively, and a sysfs
# kdamond cannot start beside it. No NIC needed.
#   tools/mem-host/tests/run_vm.sh [BUILD_DIR] [GTEST_FILTER]
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$top/build}
filter=${2:-*}
if [ ! -f /.wave-root-ok ] && [ "${WAVE_NO_DEVROOT:-0}" != 1 ]; then
	exec "$top/tools/vm/enter" "$0" "$@"
fi
kernel=$(ls /boot/vmlinuz-* | sort -V | tail -n1)
cd "$top"
exec vng -r "$kernel" --disable-kvm --cpus 2 --memory 2G --append damon_stat.enabled=N -- \
	"$build/tools/mem-host/tests/wave_mem_host_test --gtest_filter='$filter'"
