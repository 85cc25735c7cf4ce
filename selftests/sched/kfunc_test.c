// SPDX-License-Identifier: GPL-2.0
/*
 * wave.ko's kfuncs against bad arguments, with and without a scheduling link:
 *   kfunc_test --no-link   every kfunc answers -ENODEV (S64 for the age), nothing crashes
 *   kfunc_test --link      bad types, sizes, flags, CPUs are refused with -EINVAL and counted
 * Exit status 0 when every answer is the expected one; prints what it got.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wave_kfunc_test.skel.h"
#include "wave_sched_link.h"

static int fails;

static void expect(const char *what, long long got, long long want)
{
	printf("# %s: %lld (want %lld)%s\n", what, got, want, got == want ? "" : "  <-- FAIL");
	fails += got != want;
}

int main(int argc, char **argv)
{
	int link = argc > 1 && !strcmp(argv[1], "--link");
	struct wave_sched_stats s0 = {.argsz = sizeof(s0)}, s1 = {.argsz = sizeof(s1)};
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct wave_kfunc_test *skel;
	int fd = open("/dev/wave0", O_RDWR), ret;

	skel = wave_kfunc_test__open_and_load();
	if (!skel) {
		fprintf(stderr, "kfunc_test: cannot load the probe (kfuncs missing?)\n");
		return 1;
	}
	if (fd >= 0)
		ioctl(fd, WAVE_IOC_SCHED_STATS, &s0);
	ret = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.probe), &opts);
	if (ret) {
		fprintf(stderr, "kfunc_test: test run: %s\n", strerror(-ret));
		return 1;
	}
	if (fd >= 0)
		ioctl(fd, WAVE_IOC_SCHED_STATS, &s1);
	if (!link) {
		expect("send without link", skel->bss->send_ok, -ENODEV);
		expect("take without link", skel->bss->take_ok_cpu0, -ENODEV);
		expect("take with a bad size, without link", skel->bss->take_bad_size, -EINVAL);
		expect("age without link", skel->bss->age, -ENODEV);
		expect("epoch without link", (long long)skel->bss->epoch, 0);
	} else {
		expect("send a valid TASK_NEW", skel->bss->send_ok, 0);
		expect("send a decision type", skel->bss->send_bad_type, -EINVAL);
		expect("send a short event", skel->bss->send_bad_size, -EINVAL);
		expect("send an event with flags", skel->bss->send_bad_flags, -EINVAL);
		expect("send a task event with tid 0", skel->bss->send_tid0, -EINVAL);
		expect("send an outcome of unknown kind", skel->bss->send_outcome_bad, -EINVAL);
		expect("take for CPU 100000", skel->bss->take_bad_cpu, -EINVAL);
		expect("take into 8 bytes", skel->bss->take_bad_size, -EINVAL);
		expect("take for CPU 0 (nothing there)", skel->bss->take_ok_cpu0, 0);
		expect("refusals counted", (long long)(s1.msgs_rejected - s0.msgs_rejected), 5);
		expect("valid event sent", (long long)(s1.msgs_sent - s0.msgs_sent), 1);
		expect("heartbeat age is sane (< 60 s)",
		       skel->bss->age >= 0 && skel->bss->age < 60e9, 1);
	}
	wave_kfunc_test__destroy(skel);
	return fails != 0;
}
