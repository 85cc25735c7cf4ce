#!/usr/bin/env bash
# The vfio: backend test: boots the VM like tools/vm/run, plus an emulated Intel IOMMU
# (intel_iommu=on), with wave-nicd serving the ivshmem-doorbell device; inside, the device is
# bound to vfio-pci and vfio_echo talks to wave-nicd's echo service through VFIO.
#
#   tools/vm/enter libwave/tests/vfio_vm_test.sh LIBWAVE_BUILD_DIR [NICD_BUILD_DIR]
#
# Without interrupt remapping (QEMU's intremap needs a split irqchip that virtme-ng does not
# set up), vfio_iommu_type1 must be loaded with allow_unsafe_interrupts=1 for MSI-X.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "${1:-}" = --inside ]; then
	bin=$2
	modprobe vfio_iommu_type1 allow_unsafe_interrupts=1
	modprobe vfio-pci
	bdf=
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
			bdf=$(basename "$d")
		fi
	done
	[ -n "$bdf" ] || { echo "vfio_vm_test: no ivshmem device" >&2; exit 1; }
	[ -e "/sys/bus/pci/devices/$bdf/iommu_group" ] || { echo "vfio_vm_test: no IOMMU group" >&2; exit 1; }
	if [ -e "/sys/bus/pci/devices/$bdf/driver" ]; then
		echo "$bdf" >"/sys/bus/pci/devices/$bdf/driver/unbind"
	fi
	echo vfio-pci >"/sys/bus/pci/devices/$bdf/driver_override"
	echo "$bdf" >/sys/bus/pci/drivers_probe
	# Report through stdout and always exit 0: vng drops the output of a failing command.
	rc=0
	"$bin" "$bdf" 2>&1 || rc=$?
	echo "vfio_vm_test: result $rc"
	grep -i vfio /proc/interrupts || true
	lspci -vv -s "$bdf" 2>/dev/null | grep -i -A2 msi-x || true
	exit 0
fi

build=${1:?usage: vfio_vm_test.sh LIBWAVE_BUILD_DIR [NICD_BUILD_DIR]}
nicd_build=${2:-${WAVE_BUILD:-$top/build}}
nicd="$nicd_build/nic_fw/nicd/wave-nicd"
bin="$build/libwave/tests/vfio_echo"
[ -x "$nicd" ] || { echo "vfio_vm_test: $nicd missing" >&2; exit 1; }
[ -x "$bin" ] || { echo "vfio_vm_test: $bin missing" >&2; exit 1; }
kver=$(cat /.wave-kver 2>/dev/null || "$top/tools/vm/devroot" kver)
id="wave-vfio-$$"
sock="/tmp/$id.sock" shm="/dev/shm/$id" log="/tmp/$id.nicd.log"
"$nicd" --socket "$sock" --shm "$shm" --bar-size $((16 << 20)) --vectors 8 >"$log" 2>&1 &
nicd_pid=$!
cleanup() {
	kill -TERM "$nicd_pid" 2>/dev/null || true
	wait "$nicd_pid" 2>/dev/null || true
	rm -f "$sock" "$shm"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "vfio_vm_test: wave-nicd did not come up" >&2; cat "$log" >&2; exit 1; }
set +e
out=$(vng ${WAVE_VNG_VERBOSE:+--verbose} -r "/boot/vmlinuz-$kver-amd64" --disable-kvm --cpus 2 --memory 1G --append "intel_iommu=on" \
	--qemu-opts="-device intel-iommu,intremap=${WAVE_VFIO_INTREMAP:-off} -chardev socket,path=$sock,id=nic -device ivshmem-doorbell,chardev=nic,vectors=8" \
	-- "$here/vfio_vm_test.sh --inside $bin" 2>&1)
set -e
printf '%s\n' "$out"
rc=$(printf '%s\n' "$out" | sed -n 's/^vfio_vm_test: result \([0-9]*\).*/\1/p' | tail -n1)
rc=${rc:-1}
[ $rc = 0 ] || { echo "vfio_vm_test: failed ($rc); wave-nicd log:" >&2; tail -20 "$log" >&2; }
exit $rc
