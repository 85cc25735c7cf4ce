// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduling tests' workload: long-running CPU-bound tasks, many short-lived tasks, and
 * tasks that sleep and yield, so every kind of task event occurs. Every child must exit with
 * status 0; a lost or stuck task fails the run (alarm).
 *
 *   sched_workload [--long N] [--long-ms MS] [--short N] [--sleepers N] [--timeout S]
 *
 * Prints one JSON line: counts and the elapsed wall time.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Burns @ms of CPU time (not wall time: under TCG the two differ a lot). */
static void spin(double ms)
{
	double end = cpu_s() + ms / 1000;
	volatile unsigned long x = 0;

	while (cpu_s() < end)
		for (int i = 0; i < 1000; i++)
			x += i;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "sched_workload: timeout: a task did not finish\n";

	write(2, msg, sizeof(msg) - 1);
	_exit(3);
}

static pid_t child(int kind, double long_ms)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	switch (kind) {
	case 0:
		spin(long_ms);
		break;
	case 1:
		break; /* short-lived: exit at once */
	default:
		for (int i = 0; i < 10; i++) {
			usleep(2000);
			spin(1);
			sched_yield();
		}
		break;
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	int nlong = 4, nshort = 200, nsleep = 4, timeout = 120, i, status, failed = 0, reaped = 0;
	double long_ms = 300, t0;
	pid_t pid;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--long"))
			nlong = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--long-ms"))
			long_ms = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--short"))
			nshort = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--sleepers"))
			nsleep = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--timeout"))
			timeout = atoi(argv[i + 1]);
	}
	signal(SIGALRM, on_alarm);
	alarm(timeout);
	t0 = now_s();
	for (i = 0; i < nlong; i++)
		if (child(0, long_ms) < 0)
			failed++;
	for (i = 0; i < nsleep; i++)
		if (child(2, 0) < 0)
			failed++;
	/* Short-lived tasks in waves of 8, so many exist at once but not all. */
	for (i = 0; i < nshort; i++) {
		if (child(1, 0) < 0)
			failed++;
		if (i % 8 == 7)
			for (int j = 0; j < 8; j++) {
				pid = wait(&status);
				if (pid > 0) {
					reaped++;
					failed += !WIFEXITED(status) || WEXITSTATUS(status);
				}
			}
	}
	while ((pid = wait(&status)) > 0) {
		reaped++;
		failed += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	printf("{\"long\":%d,\"short\":%d,\"sleepers\":%d,\"reaped\":%d,\"failed\":%d,"
	       "\"elapsed_s\":%.3f}\n",
	       nlong, nshort, nsleep, reaped, failed, now_s() - t0);
	return failed || reaped != nlong + nshort + nsleep;
}
