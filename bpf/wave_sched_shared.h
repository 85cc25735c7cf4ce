/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared by bpf/wave_sched.bpf.c and its user-space side (loader, wavectl sched): the
 * counters and latency histograms the scheduler keeps in its per-CPU "stats" map (their
 * percentiles: wave_lat_percentile.h), and its exit codes.
 */
#ifndef WAVE_SCHED_SHARED_H
#define WAVE_SCHED_SHARED_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* The custom DSQ every runnable Wave task waits in until a decision (or the fallback). */
#define WAVE_SCHED_DSQ 0x5741u

/*
 * Latency histograms: log-linear buckets (HDR-style), the same scheme on both sides. Values
 * below 16 ns have a bucket each; above, every power of two [2^e, 2^(e+1)) is cut into 16
 * equal sub-buckets of width 2^(e-4), so a bucket is at most 1/16 (6.25 %) of its lower bound
 * wide. Values from 2^40 ns (about 18 minutes) on share one overflow bucket.
 *
 *   bucket 0..15      value itself
 *   bucket 16..591    group g = i / 16 (1..36), sub-bucket s = i % 16:
 *                     [(16 + s) << (g - 1), (17 + s) << (g - 1))
 *   bucket 592        [2^40, infinity)
 *
 * No loops, so the verifier takes it as straight-line code. Not scx's log2_u64() (which
 * returns fls64(), one more than the floor): user space has no copy of it, and both sides
 * must compute the same buckets from the same code.
 */
#define WAVE_LAT_SUB_BITS 4
#define WAVE_LAT_SUB (1u << WAVE_LAT_SUB_BITS) /* linear sub-buckets per power of two */
#define WAVE_LAT_MAX_SHIFT 40		       /* values >= 2^40 ns overflow */
#define WAVE_LAT_MAX_NS (1ull << WAVE_LAT_MAX_SHIFT)
#define WAVE_LAT_OVERFLOW ((WAVE_LAT_MAX_SHIFT - WAVE_LAT_SUB_BITS + 1) * WAVE_LAT_SUB)
#define WAVE_LAT_BUCKETS (WAVE_LAT_OVERFLOW + 1)

struct wave_lat_hist {
	__u64 count[WAVE_LAT_BUCKETS]; /* count[wave_lat_bucket(ns)] */
};

/* floor(log2(v)) for v > 0, fls64() - 1 by halving: six steps, no loop. */
static inline __u32 wave_lat_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* The bucket holding @ns: always < WAVE_LAT_BUCKETS. */
static inline __u32 wave_lat_bucket(__u64 ns)
{
	__u32 e;

	if (ns >= WAVE_LAT_MAX_NS)
		return WAVE_LAT_OVERFLOW;
	if (ns < WAVE_LAT_SUB)
		return (__u32)ns;
	e = wave_lat_log2(ns); /* WAVE_LAT_SUB_BITS .. WAVE_LAT_MAX_SHIFT - 1 */
	return (e - WAVE_LAT_SUB_BITS + 1) * WAVE_LAT_SUB +
	       (__u32)((ns >> (e - WAVE_LAT_SUB_BITS)) & (WAVE_LAT_SUB - 1));
}

/* The smallest value in bucket @i (WAVE_LAT_MAX_NS for the overflow bucket). */
static inline __u64 wave_lat_lower(__u32 i)
{
	__u32 group = i / WAVE_LAT_SUB, sub = i % WAVE_LAT_SUB;

	if (i >= WAVE_LAT_OVERFLOW)
		return WAVE_LAT_MAX_NS;
	if (!group)
		return i;
	return (__u64)(WAVE_LAT_SUB + sub) << (group - 1);
}

/* One past the largest value in bucket @i (~0 for the overflow bucket, which has no end). */
static inline __u64 wave_lat_upper(__u32 i)
{
	if (i >= WAVE_LAT_OVERFLOW)
		return ~0ull;
	return wave_lat_lower(i + 1);
}

/* How an idle CPU came to take its decision (wave_sched_bpf_stats.idle_pickups_by). */
enum wave_pickup_path {
	WAVE_PICKUP_DISPATCH, /* its own dispatch() found it in the ring (it woke for another reason) */
	WAVE_PICKUP_IRQ,      /* the NIC's interrupt drained it and kicked the CPU */
	WAVE_PICKUP_TIMER,    /* the kick timer took it for the CPU (the safety net) */
	WAVE_PICKUP_PRESTAGED, /* its dispatch() found it in its prestaged slot */
	WAVE_PICKUP_NR,
};

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
	WAVE_EVIDX_GROUP,
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
	/* enqueue() to the commit of the task's decision (COMMITTED outcomes only) */
	struct wave_lat_hist decision_lat;
	/*
	 * A committed decision for a CPU that was idle (cpu_idle[]) to the task running there
	 * (ops.running on that CPU). It starts when wave.ko read the decision off the ring: in
	 * the handler of the NIC's interrupt, or in a take by dispatch() or the kick timer
	 * (bpf_wave_decision_drained(); a prestaged one: at commit). The NIC's publication time
	 * is not on the host's clock, so the interrupt's delivery is not in it.
	 */
	struct wave_lat_hist idle_pickup_lat;
	/* The same pickups, by what made the idle CPU take its decision (WAVE_PICKUP_*). */
	__u64 idle_pickups_by[4];
};

/* scx_bpf_exit() codes (user exit info). */
#define WAVE_EXIT_NIC_DEAD 64 /* the NIC heartbeat stopped: tasks go back to the fair class */
#define WAVE_EXIT_NO_LINK 65  /* wave.ko has no scheduling link attached */

/* How the scheduler says why it left (its exit reason starts with file:line, then these). */
#define WAVE_EXIT_MSG_NIC_DEAD "wave: NIC heartbeat stopped"
#define WAVE_EXIT_MSG_NO_LINK "wave: no scheduling link in wave.ko"

#endif /* WAVE_SCHED_SHARED_H */
