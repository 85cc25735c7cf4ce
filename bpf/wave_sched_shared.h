/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared by bpf/wave_sched.bpf.c and its user-space side (loader, wavectl sched): the
 * counters the scheduler keeps in its per-CPU "stats" map, and its exit codes.
 */
#ifndef WAVE_SCHED_SHARED_H
#define WAVE_SCHED_SHARED_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* The custom DSQ every runnable Wave task waits in until a decision (or the fallback). */
#define WAVE_SCHED_DSQ 0x5741u

/* Decision latency histogram: bucket i counts latencies in [2^i, 2^(i+1)) ns. */
#define WAVE_LAT_BUCKETS 40

/* Event counters, indexed by WAVE_EVIDX_*. */
enum wave_evidx {
	WAVE_EVIDX_NEW,
	WAVE_EVIDX_RUNNABLE,
	WAVE_EVIDX_BLOCKED,
	WAVE_EVIDX_PREEMPTED,
	WAVE_EVIDX_YIELD,
	WAVE_EVIDX_DEAD,
	WAVE_EVIDX_AFFINITY,
	WAVE_EVIDX_CPU_IDLE,
	WAVE_EVIDX_CPU_TICK,
	WAVE_EVIDX_RUNNING,
	WAVE_EVIDX_NR,
};

struct wave_sched_bpf_stats {
	__u64 events[WAVE_EVIDX_NR]; /* sent to the NIC */
	__u64 send_failed;	     /* ring full or link gone */
	__u64 enqueued;		     /* tasks put in WAVE_SCHED_DSQ */
	__u64 direct;		     /* per-CPU kthreads run locally, never offered to the NIC */
	__u64 decisions;	     /* taken from the link */
	__u64 idle_decisions;	     /* decisions naming no task */
	__u64 outcomes[6];	     /* by WAVE_TXN_* (index 0 unused) */
	__u64 fallbacks; /* tasks dispatched locally after waiting fallback_ns for a decision */
	__u64 lat_hist[WAVE_LAT_BUCKETS]; /* enqueue to committed decision */
};

/* scx_bpf_exit() codes (user exit info). */
#define WAVE_EXIT_NIC_DEAD 64 /* the NIC heartbeat stopped: tasks go back to the fair class */
#define WAVE_EXIT_NO_LINK 65  /* wave.ko has no scheduling link attached */

/* How the scheduler says why it left (its exit reason starts with file:line, then these). */
#define WAVE_EXIT_MSG_NIC_DEAD "wave: NIC heartbeat stopped"
#define WAVE_EXIT_MSG_NO_LINK "wave: no scheduling link in wave.ko"

#endif /* WAVE_SCHED_SHARED_H */
