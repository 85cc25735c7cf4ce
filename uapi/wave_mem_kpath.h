/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The memory link's kernel batch path: wave.ko as the host producer of access batches.
 *
 * wave-mem-host creates the memory link as usual (libwave's MemHostLink: message region,
 * decision region, DMA buffer, the info block) and hands its host producer end to wave.ko
 * with WAVE_IOC_MEM_ATTACH. From then on the BPF program on DAMON's damon_aggregated
 * tracepoint (bpf/wave_mem_collect.bpf.c) calls wave.ko's kfuncs:
 *
 *   int bpf_wave_mem_add(u32 target, u64 start, u64 end, u32 nr_accesses, u32 age)
 *       appends one region to the batch being built (a kernel staging buffer). A region out
 *       of (target, start) order closes the batch first (counted as cut).
 *   int bpf_wave_mem_close(void)
 *       closes the batch: header and checksum (wave_mem_batch_finish below, the encoding of
 *       uapi/wave_mem.h), one copy into batch slot seq % WAVE_MEM_BATCH_SLOTS of the DMA
 *       buffer through wave.ko's mapping of it, WAVE_MSG_MEM_BATCH on ring 0 of the message
 *       region (uapi/wave_ring.h), and the DMA buffer's doorbell from irq_work.
 *
 * No host user-space thread is on that path. The decision ring stays with wave-mem-host (the
 * enactor is user space): it learns each batch's seq, length and collection time from
 * WAVE_IOC_MEM_STATS (a slot is published there before its batch-ready message is sent, so a
 * decision or done read from the ring always finds its slot in a stats read made after it),
 * and gives a slot back with WAVE_IOC_MEM_RELEASE once the NIC's batch-done for it came, or
 * when the batch expired. A slot is written only while free: a batch closed while its slot is
 * in flight is dropped and counted (dropped_no_slot), its seq is not used.
 *
 * Clipping: DAMON's regions span the gaps between a process's mappings. The host mechanism
 * pushes each target's mapped ranges (WAVE_IOC_MEM_MAPS, about once a second) and
 * bpf_wave_mem_add keeps only the parts of a region inside them: a region in no range is
 * dropped, one straddling a gap is cut into its mapped pieces (each keeping the region's
 * counts). A target without a snapshot passes unclipped (counted). The snapshot is a superset
 * of what is advisable (it may be a second old, or gaps merged to fit the bound): the enactor
 * still checks every decision against the current mappings.
 *
 * The link detaches on WAVE_IOC_MEM_DETACH, when the file that attached it is closed, when
 * any of its queues is destroyed and on unbind or unload.
 */
#ifndef WAVE_UAPI_MEM_KPATH_H
#define WAVE_UAPI_MEM_KPATH_H

#include "wave_mem.h"

#include <linux/ioctl.h>

/* WAVE_IOC_MEM_ATTACH: argsz-versioned as in wave_ioctl.h. */
struct wave_mem_kattach {
	__u32 argsz; /* sizeof(struct wave_mem_kattach) */
	__u32 flags; /* none defined: 0 */
	__u32 msg_queue; /* the link's message region: ring 0 is handed to wave.ko at position 0 */
	__u32 dec_queue; /* its decision region (holds ring 0's credit cell) */
	__u32 dma_queue; /* its DMA buffer, WAVE_MEM_BATCH_SLOTS * WAVE_MEM_BATCH_MAX or more */
	__u32 aggr_us; /* DAMON's aggregation interval, > 0: the batches' aggr_us */
	__u16 max_accesses; /* > 0: nr_accesses above it are clamped (counted) */
	__u16 reserved0; /* 0 */
	__u32 reserved1; /* 0 */
	__u64 attach_gen; /* must equal the info block's: the link is the one just created */
};

/* Slot states in wave_mem_kslot.state. */
#define WAVE_MEM_KSLOT_FREE 0u
#define WAVE_MEM_KSLOT_BUSY 1u /* announced to the NIC, not yet released */

struct wave_mem_kslot {
	__u64 seq;
	__u64 collected_ns; /* CLOCK_MONOTONIC at the close of the batch */
	__u32 len; /* total_bytes */
	__u32 state; /* WAVE_MEM_KSLOT_* */
};

/* WAVE_IOC_MEM_STATS: the kernel path's counters and slots (attached 0: all zero). */
struct wave_mem_kstats {
	__u32 argsz;
	__u32 attached;
	__u64 attach_gen;
	__u64 batches; /* announced to the NIC */
	__u64 regions; /* in those batches */
	__u64 bytes;
	__u64 dropped_no_slot; /* closed while their slot was in flight */
	__u64 dropped_ring_full; /* the message ring had no room for the notice */
	__u64 empty_closes; /* closes with no region: nothing sent */
	__u64 cut; /* batches closed by a region out of order */
	__u64 bad_regions; /* refused: empty, unaligned, target 0 */
	__u64 overflow; /* regions past WAVE_MEM_MAX_REGIONS in one batch */
	__u64 clamped; /* nr_accesses clamped to max_accesses */
	__u64 released; /* slots given back by WAVE_IOC_MEM_RELEASE */
	__u64 bad_releases; /* releases naming a slot not in flight with that seq */
	__u64 credit_reads;
	__u64 bad_credits;
	__u64 doorbells;
	__u64 next_seq;
	struct wave_mem_kslot slots[WAVE_MEM_BATCH_SLOTS];
	/* Since version 2 (argsz >= sizeof): the clipping to the mappings snapshots. */
	__u64 maps_updates; /* snapshots taken by WAVE_IOC_MEM_MAPS */
	__u64 bad_maps; /* WAVE_IOC_MEM_MAPS refused */
	__u64 clip_dropped; /* regions in no mapped range */
	__u64 clip_trimmed; /* regions cut to their mapped part(s) */
	__u64 clip_pieces; /* pieces added by cutting a region at a gap (beyond its first) */
	__u64 clip_bytes; /* unmapped bytes left out */
	__u64 unclipped; /* regions of a target without a snapshot */
	__u32 maps_targets; /* targets with a snapshot */
	__u32 reserved0;
};

/* The size of version 1 of wave_mem_kstats: a caller with it still gets its fields. */
#define WAVE_MEM_KSTATS_SIZE_V1 (144 + 24 * WAVE_MEM_BATCH_SLOTS)

/* WAVE_IOC_MEM_RELEASE: batch seq's slot may be written again. */
struct wave_mem_krelease {
	__u32 argsz;
	__u32 slot;
	__u64 seq;
};

/* WAVE_IOC_MEM_MAPS bounds: ranges per target, targets with a snapshot. */
#define WAVE_MEM_KMAPS_MAX_RANGES 256u
#define WAVE_MEM_KMAPS_MAX_TARGETS 16u

/* One mapped range [start, end), page aligned. */
struct wave_mem_krange {
	__u64 start;
	__u64 end;
};

/*
 * WAVE_IOC_MEM_MAPS (argsz-versioned; only the file that attached the link): replaces target's
 * snapshot with count ranges at ranges (a user pointer), sorted, disjoint, non-empty and page
 * aligned (wave_mem_kmaps_check), count <= WAVE_MEM_KMAPS_MAX_RANGES; count 0 forgets the
 * target's snapshot. -EINVAL for anything else, -ENOSPC when WAVE_MEM_KMAPS_MAX_TARGETS other
 * targets hold one, -ENOENT without a link of this file's. Refusals are counted (bad_maps).
 *
 * With WAVE_MEM_KMAPS_F_PAGED_OUT the ranges are instead what the host paged out of target
 * (a snapshot of its own, same rules): every region piece overlapping one is sent with
 * WAVE_MEM_REGION_F_PAGED_OUT, as the user path flags it, so the agent neither pages it out
 * again nor misses that it is being accessed again (WILLNEED).
 */
#define WAVE_MEM_KMAPS_F_PAGED_OUT (1u << 0)
#define WAVE_MEM_KMAPS_FLAGS_KNOWN WAVE_MEM_KMAPS_F_PAGED_OUT

struct wave_mem_kmaps {
	__u32 argsz;
	__u32 flags; /* WAVE_MEM_KMAPS_F_* */
	__u32 target; /* the target id the regions name, non-zero */
	__u32 count;
	__u64 ranges; /* struct wave_mem_krange[count] */
};

#define WAVE_IOC_MEM_ATTACH _IOW(0xb7, 0x20, struct wave_mem_kattach)
#define WAVE_IOC_MEM_DETACH _IO(0xb7, 0x21)
#define WAVE_IOC_MEM_STATS _IOWR(0xb7, 0x22, struct wave_mem_kstats)
#define WAVE_IOC_MEM_RELEASE _IOW(0xb7, 0x23, struct wave_mem_krelease)
#define WAVE_IOC_MEM_MAPS _IOW(0xb7, 0x24, struct wave_mem_kmaps)

/*
 * The clipping, shared by wave.ko and its user-space tests (C, no allocation, bounded work).
 * wave_mem_kmaps_check: 0 when r[0..n) is a valid snapshot. wave_mem_clip_first: the index of
 * the first range ending after start (n if none), by bisection. The pieces of a region
 * [start, end) are then [max(start, r[i].start), min(end, r[i].end)) for i from there while
 * r[i].start < end.
 */
static inline int wave_mem_kmaps_check(const struct wave_mem_krange *r, __u32 n)
{
	__u32 i;

	if (n > WAVE_MEM_KMAPS_MAX_RANGES)
		return -1;
	for (i = 0; i < n; i++) {
		if (r[i].end <= r[i].start || (r[i].start | r[i].end) & (WAVE_MEM_PAGE_SIZE - 1))
			return -1;
		if (i && r[i].start < r[i - 1].end)
			return -1;
	}
	return 0;
}

static inline __u32 wave_mem_clip_first(const struct wave_mem_krange *r, __u32 n, __u64 start)
{
	__u32 lo = 0, hi = n;

	while (lo < hi) {
		__u32 mid = lo + (hi - lo) / 2;

		if (r[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether any of the sorted, disjoint ranges r[0..n) overlaps [start, end). */
static inline int wave_mem_ranges_overlap(const struct wave_mem_krange *r, __u32 n, __u64 start,
					  __u64 end)
{
	__u32 i = wave_mem_clip_first(r, n, start);

	return i < n && r[i].start < end;
}

/*
 * The batch encoding of uapi/wave_mem.h, header only, for wave.ko (C, kernel) and user space
 * (C or C++): libwave's EncodeBatch and DecodeBatch are tested against it.
 */
#if defined(__KERNEL__)
#define WAVE_MEM_LE16(v) cpu_to_le16(v)
#define WAVE_MEM_LE32(v) cpu_to_le32(v)
#define WAVE_MEM_LE64(v) cpu_to_le64(v)
#elif !defined(__bpf__)
#include <endian.h>
#include <stddef.h>
#include <string.h>
#define WAVE_MEM_LE16(v) htole16(v)
#define WAVE_MEM_LE32(v) htole32(v)
#define WAVE_MEM_LE64(v) htole64(v)
#endif

#if defined(WAVE_MEM_LE64)
#define WAVE_MEM_FNV_BASIS 0xcbf29ce484222325ull
#define WAVE_MEM_FNV_PRIME 0x100000001b3ull

static inline __u64 wave_mem_fnv(__u64 h, const __u8 *p, __u64 n)
{
	__u64 i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= WAVE_MEM_FNV_PRIME;
	}
	return h;
}

/* One region in wire order. */
static inline void wave_mem_region_fill(struct wave_mem_region *w, __u64 start, __u64 end,
					__u32 target, __u32 age, __u16 nr_accesses, __u16 flags)
{
	w->start = WAVE_MEM_LE64(start);
	w->end = WAVE_MEM_LE64(end);
	w->target = WAVE_MEM_LE32(target);
	w->age = WAVE_MEM_LE32(age);
	w->nr_accesses = WAVE_MEM_LE16(nr_accesses);
	w->flags = WAVE_MEM_LE16(flags);
	w->reserved = 0;
}

/*
 * Writes the header of a batch whose @count regions already sit right after it in @buf
 * (normal memory, 64 + 32 * count bytes) and its checksum. Returns total_bytes.
 */
static inline __u64 wave_mem_batch_finish(__u8 *buf, __u32 count, __u64 seq,
					  __u64 collected_ns, __u32 aggr_us,
					  __u16 max_accesses)
{
	struct wave_mem_batch_hdr *h = (struct wave_mem_batch_hdr *)buf;
	__u64 total = sizeof(*h) + (__u64)count * sizeof(struct wave_mem_region);
	__u64 sum;

	memset(h, 0, sizeof(*h));
	h->magic = WAVE_MEM_LE32(WAVE_MEM_BATCH_MAGIC);
	h->version = WAVE_MEM_LE16(WAVE_MEM_BATCH_VERSION);
	h->hdr_size = WAVE_MEM_LE16(sizeof(*h));
	h->region_count = WAVE_MEM_LE32(count);
	h->seq = WAVE_MEM_LE64(seq);
	h->collected_ns = WAVE_MEM_LE64(collected_ns);
	h->aggr_us = WAVE_MEM_LE32(aggr_us);
	h->max_accesses = WAVE_MEM_LE16(max_accesses);
	h->total_bytes = WAVE_MEM_LE64(total);
	sum = wave_mem_fnv(WAVE_MEM_FNV_BASIS, buf,
			   __builtin_offsetof(struct wave_mem_batch_hdr, checksum));
	sum = wave_mem_fnv(sum, buf + sizeof(*h), total - sizeof(*h));
	h->checksum = WAVE_MEM_LE64(sum);
	return total;
}
#endif /* WAVE_MEM_LE64 */

WAVE_STATIC_ASSERT(sizeof(struct wave_mem_kattach) == 40, "mem kattach size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_kslot) == 24, "mem kslot size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_kstats) == WAVE_MEM_KSTATS_SIZE_V1 + 64,
		   "mem kstats size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_kstats, maps_updates) ==
			   WAVE_MEM_KSTATS_SIZE_V1, "mem kstats v2 after v1");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_krange) == 16, "mem krange size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_kmaps) == 24, "mem kmaps size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_krelease) == 16, "mem krelease size");

#endif /* WAVE_UAPI_MEM_KPATH_H */
