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
 *
 * With kernel_path set (wave.ko attached the memory link's batch path, uapi/wave_mem_kpath.h)
 * no record goes to user space: each region of a known target goes to bpf_wave_mem_add()
 * under its host target id (kslots), and the last region of the last target of an aggregation
 * (the tracepoint gives each target's nr_regions) closes the batch with bpf_wave_mem_close(),
 * which ships it to the NIC. A record dropped here (unknown or settling target) still counts
 * toward that boundary.
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WAVE_MEM_COLLECT_MAX_KSLOTS);
	__type(key, __u32);
	__type(value, struct wave_mem_collect_kslot);
} kslots SEC(".maps");

extern int bpf_wave_mem_add(__u32 target, __u64 start, __u64 end, __u32 nr_accesses,
			    __u32 age) __ksym __weak;
extern int bpf_wave_mem_close(void) __ksym __weak;

/* Set by the Collector (.bss, mapped): the kdamond to record; 0 records every kdamond. */
volatile __u32 filter_pid;
/* Counters, read by the Collector. */
volatile __u64 nr_recorded;
volatile __u64 nr_filtered;
volatile __u64 nr_lost; /* ring buffer full */
/* The kernel path: on when non-zero; nr_kslots DAMON targets (indices 0..nr_kslots-1). */
volatile __u32 kernel_path;
volatile __u32 nr_kslots;
volatile __u64 nr_kadded; /* regions wave.ko took */
volatile __u64 nr_krefused; /* regions wave.ko refused (bad range, batch full, no link) */
volatile __u64 nr_kunknown; /* records of an index without a (settled) target */
volatile __u64 nr_kshipped; /* batches wave.ko shipped */
volatile __u64 nr_kdropped; /* batches wave.ko dropped (slot in flight, ring full) */
volatile __u64 nr_kmissing; /* kernel_path set but wave.ko's kfuncs absent */
/* Where the current aggregation is: the target index and how many of its regions came. */
__u32 cur_idx;
__u32 cur_seen;

static void wave_mem_kernel_record(unsigned int target_id, struct damon_region *r,
				   unsigned int nr_regions, __u64 now)
{
	struct wave_mem_collect_kslot *ks;
	__u32 idx = target_id;
	int ret;

	if (!bpf_ksym_exists(bpf_wave_mem_add) || !bpf_ksym_exists(bpf_wave_mem_close)) {
		__sync_fetch_and_add(&nr_kmissing, 1);
		return;
	}
	if (idx != cur_idx) {
		cur_idx = idx;
		cur_seen = 0;
	}
	cur_seen++;
	ks = bpf_map_lookup_elem(&kslots, &idx);
	if (!ks || !ks->target || now < ks->valid_from_ns) {
		__sync_fetch_and_add(&nr_kunknown, 1);
	} else {
		ret = bpf_wave_mem_add(ks->target, r->ar.start, r->ar.end, r->nr_accesses, r->age);
		if (ret)
			__sync_fetch_and_add(&nr_krefused, 1);
		else
			__sync_fetch_and_add(&nr_kadded, 1);
	}
	if (cur_seen >= nr_regions && idx + 1 >= nr_kslots) {
		ret = bpf_wave_mem_close();
		if (ret == 1)
			__sync_fetch_and_add(&nr_kshipped, 1);
		else if (ret < 0)
			__sync_fetch_and_add(&nr_kdropped, 1);
		cur_seen = 0;
		cur_idx = (__u32)-1;
	}
}

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
	if (kernel_path) {
		__sync_fetch_and_add(&nr_recorded, 1);
		wave_mem_kernel_record(target_id, r, nr_regions, bpf_ktime_get_ns());
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
