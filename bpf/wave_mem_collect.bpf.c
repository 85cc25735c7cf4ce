// SPDX-License-Identifier: GPL-2.0
/*
 * wave_mem_collect: DAMON's access information for the memory offload, one record per
 * region at the end of every aggregation interval.
 *
 * DAMON's kdamond calls the damon_aggregated tracepoint for every region of every target,
 * target by target (target_id is the target's index in the context's list) and region by
 * region in address order, right before it resets the counts (mm/damon/core.c,
 * kdamond_reset_aggregated). This program copies each into the ring buffer; the host's
 * Collector (tools/mem-host) assembles them into batches. Only the kdamond whose pid the
 * Collector set in filter_pid is recorded: other kdamonds (DAMON_STAT, DAMON_RECLAIM,
 * someone else's sysfs kdamond) call the same tracepoint.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mem_collect_record.h"

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* the Collector may resize it before load */
} records SEC(".maps");

/* Set by the Collector (.bss, mapped): the kdamond to record; 0 records every kdamond. */
volatile __u32 filter_pid;
/* Counters, read by the Collector. */
volatile __u64 nr_recorded;
volatile __u64 nr_filtered;
volatile __u64 nr_lost; /* ring buffer full */

SEC("tp_btf/damon_aggregated")
int BPF_PROG(wave_mem_aggregated, unsigned int target_id, struct damon_region *r,
	     unsigned int nr_regions)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u32 want = filter_pid;
	struct wave_mem_collect_rec *rec;

	if (want && pid != want) {
		__sync_fetch_and_add(&nr_filtered, 1);
		return 0;
	}
	rec = bpf_ringbuf_reserve(&records, sizeof(*rec), 0);
	if (!rec) {
		__sync_fetch_and_add(&nr_lost, 1);
		return 0;
	}
	rec->start = r->ar.start;
	rec->end = r->ar.end;
	rec->ktime_ns = bpf_ktime_get_ns();
	rec->target_idx = target_id;
	rec->nr_regions = nr_regions;
	rec->nr_accesses = r->nr_accesses;
	rec->age = r->age;
	rec->kdamond_pid = pid;
	rec->reserved = 0;
	bpf_ringbuf_submit(rec, 0);
	__sync_fetch_and_add(&nr_recorded, 1);
	return 0;
}
