# Wave: the one entry point.
#   make deps    host packages + the pinned Debian trixie dev root (kernel 7.2, toolchain)
#   make         build everything: wave.ko, libwave, nic_fw (wave-nicd), tools, selftests
#   make check   unit tests, checkpatch, and the kselftests in the emulated host (VM)
#   make demo    boot the emulated host + NIC and show Wave working
#   make bench   run the benchmarks; JSON lands in build/bench/
#
# Everything that targets the kernel is built in the dev root (tools/vm/devroot); outside it,
# each goal re-runs itself there with this checkout at the same path.
BUILD ?= $(CURDIR)/build
GOALS := all kmod cxx selftests check demo bench clean
.DEFAULT_GOAL := all

ifeq ($(wildcard /.wave-root-ok)$(WAVE_NO_DEVROOT),)

deps:
	@tools/vm/host-deps
	@tools/vm/devroot ensure >/dev/null

$(GOALS): deps
	@tools/vm/enter $(MAKE) --no-print-directory -C $(CURDIR) BUILD=$(BUILD) $@

else

KVER := $(shell cat /.wave-kver 2>/dev/null || uname -r | sed 's/-amd64$$//')
KDIR ?= /usr/lib/modules/$(KVER)-amd64/build

deps:
	@true

all: kmod cxx selftests

kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

cxx:
	cmake -S $(CURDIR) -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j2

selftests:
	$(MAKE) -C selftests/wave OUTPUT=$(BUILD)/selftests

check: all
	tools/check/run $(BUILD)

demo: all
	WAVE_BUILD=$(BUILD) tools/vm/run -- tools/demo/demo.sh $(BUILD)
	tools/vm/enter tools/demo/kv_demo.sh $(BUILD)

bench: all
	tools/bench/run-all $(BUILD)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
	$(MAKE) -C selftests/wave OUTPUT=$(BUILD)/selftests clean
	rm -rf $(BUILD)

endif

.PHONY: deps $(GOALS)
