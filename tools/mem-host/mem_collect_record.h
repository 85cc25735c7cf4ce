/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * One record of bpf/wave_mem_collect.bpf.c: a DAMON region at the end of an aggregation
 * interval (the damon_aggregated tracepoint), written to the program's ring buffer. Shared by
 * the BPF program (C) and the Collector (C++).
 */
#ifndef WAVE_MEM_COLLECT_RECORD_H
#define WAVE_MEM_COLLECT_RECORD_H

#ifdef __bpf__
/* vmlinux.h gives the __u types. */
#else
#include <linux/types.h>
#endif

struct wave_mem_collect_rec {
  __u64 start; /* region, [start, end) */
  __u64 end;
  __u64 ktime_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u32 target_idx; /* the tracepoint's target_id: index in the context's target list */
  __u32 nr_regions; /* regions of that target in this aggregation */
  __u32 nr_accesses;
  __u32 age;
  __u32 kdamond_pid; /* the task that emitted it (the kdamond) */
  __u32 reserved;
};

/*
 * The kernel batch path (uapi/wave_mem_kpath.h): the program hands regions to wave.ko's
 * kfuncs instead of the ring buffer. kslots[i] maps DAMON's target index i to the host's
 * target id, valid for records collected from valid_from_ns on (CLOCK_MONOTONIC).
 */
#define WAVE_MEM_COLLECT_MAX_KSLOTS 64

struct wave_mem_collect_kslot {
  __u32 target; /* 0: none, records dropped */
  __u32 reserved;
  __u64 valid_from_ns;
};

#endif /* WAVE_MEM_COLLECT_RECORD_H */
