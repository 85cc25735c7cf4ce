// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_group: a stand-in for one VM's vCPU threads (selftests/sched_vm/run_vm.sh). It starts
 * --threads N threads that, for --seconds S, alternate --spin-us of work with --sleep-us of
 * sleep, as halting vCPUs do, and records where each of them ran twice over:
 *   - the thread itself: sched_getcpu() on every pass of its work loop;
 *   - the main thread: /proc/self/task/TID/stat field 39 (processor) of every vCPU thread,
 *     every --sample-us. Under sched_ext this is the runqueue the task was put on when it
 *     woke, which for a task still waiting for a decision is not where it runs: the first
 *     record is the one to check.
 * Then it prints one JSON line: per thread the CPUs seen by each record (masks) and its
 * completed work periods. Exits 0 when every thread finished its run (joined, at least one
 * period done), 1 otherwise.
 *   vcpu_group [--threads N] [--seconds S] [--spin-us N] [--sleep-us N] [--sample-us N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

struct vcpu {
	pthread_t thread;
	_Atomic int tid;
	_Atomic uint64_t self_mask; /* CPUs sched_getcpu() returned */
	uint64_t sampled_mask; /* CPUs /proc showed (main thread only) */
	uint64_t samples;
	uint64_t periods;
	int done;
};

static struct vcpu vcpus[MAX_THREADS];
static unsigned int nr_threads = 2;
static double seconds = 3;
static long spin_us = 300, sleep_us = 300, sample_us = 1000;
static _Atomic int started;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_cpu(struct vcpu *v)
{
	int cpu = sched_getcpu();

	if (cpu >= 0 && cpu < 64)
		atomic_fetch_or(&v->self_mask, 1ull << cpu);
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	double end;

	atomic_store(&v->tid, (int)syscall(SYS_gettid));
	atomic_fetch_add(&started, 1);
	end = now_s() + seconds;
	while (now_s() < end) {
		double stop = now_s() + spin_us / 1e6;
		struct timespec nap = {.tv_sec = sleep_us / 1000000,
				       .tv_nsec = (sleep_us % 1000000) * 1000};

		while (now_s() < stop)
			note_cpu(v);
		v->periods++;
		nanosleep(&nap, NULL);
		note_cpu(v);
	}
	v->done = 1;
	return NULL;
}

/* Field 39 (processor) of /proc/self/task/TID/stat: after the ")" that ends comm, field 3. */
static int sample_cpu(int tid)
{
	char path[64], buf[1024], *p;
	int fd, n, field, cpu;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (field = 3; field < 39 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p, " %d", &cpu) != 1)
		return -1;
	return cpu;
}

int main(int argc, char **argv)
{
	unsigned int i;
	double end;
	int bad = 0;

	for (int a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--threads"))
			nr_threads = strtoul(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--seconds"))
			seconds = strtod(argv[a + 1], NULL);
		else if (!strcmp(argv[a], "--spin-us"))
			spin_us = strtol(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--sleep-us"))
			sleep_us = strtol(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--sample-us"))
			sample_us = strtol(argv[a + 1], NULL, 0);
		else {
			fprintf(stderr, "vcpu_group: unknown option %s\n", argv[a]);
			return 2;
		}
	}
	if (argc % 2 == 0 || !nr_threads || nr_threads > MAX_THREADS || seconds <= 0 ||
	    spin_us <= 0 || sleep_us < 0 || sample_us <= 0) {
		fprintf(stderr, "usage: vcpu_group [--threads N] [--seconds S] [--spin-us N] "
				"[--sleep-us N] [--sample-us N]\n");
		return 2;
	}
	for (i = 0; i < nr_threads; i++) {
		if (pthread_create(&vcpus[i].thread, NULL, vcpu_main, &vcpus[i])) {
			fprintf(stderr, "vcpu_group: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	}
	while (atomic_load(&started) < (int)nr_threads)
		usleep(1000);
	end = now_s() + seconds;
	while (now_s() < end) {
		struct timespec nap = {.tv_sec = sample_us / 1000000,
				       .tv_nsec = (sample_us % 1000000) * 1000};

		for (i = 0; i < nr_threads; i++) {
			int cpu = sample_cpu(atomic_load(&vcpus[i].tid));

			if (cpu >= 0 && cpu < 64) {
				vcpus[i].sampled_mask |= 1ull << cpu;
				vcpus[i].samples++;
			}
		}
		nanosleep(&nap, NULL);
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(vcpus[i].thread, NULL);
	printf("{\"threads\":%u,\"vcpus\":[", nr_threads);
	for (i = 0; i < nr_threads; i++) {
		struct vcpu *v = &vcpus[i];

		printf("%s{\"tid\":%d,\"self_mask\":%llu,\"sampled_mask\":%llu,\"samples\":%llu,"
		       "\"periods\":%llu,\"done\":%d}",
		       i ? "," : "", atomic_load(&v->tid),
		       (unsigned long long)atomic_load(&v->self_mask),
		       (unsigned long long)v->sampled_mask, (unsigned long long)v->samples,
		       (unsigned long long)v->periods, v->done);
		if (!v->done || !v->periods)
			bad = 1;
	}
	printf("]}\n");
	return bad;
}
