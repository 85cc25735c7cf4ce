/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave link rings: the layout of a queue region and of its slots, shared by libwave,
 * the NIC firmware, wave.ko's kfuncs and BPF programs.
 *
 * A queue region (one entry of the BAR's queue table) starts with one region header page,
 * followed by the slot arrays of its rings and, for decision regions, the prestaged slots:
 *
 *   +0x000  wave_ring_desc[WAVE_REGION_MAX_RINGS]   written once by the region's creator
 *   +0x100  wave_ring_consumer[...]                  written by each ring's consumer only
 *   +0x200  wave_ring_credit[WAVE_REGION_MAX_CREDITS] credits for rings in the PEER region,
 *                                                    written by those rings' consumers
 *   +0x1000 slots of ring 0, ring 1, ... (offsets in the descriptors)
 *
 * Rules (single producer, single consumer, one direction per ring):
 *  - Slot i of a ring holds position pos when pos % nr_slots == i. The producer fills a slot:
 *    payload first, then a store fence, then seq = pos + 1 (so zeroed memory is never valid).
 *    The consumer accepts the slot at its position pos only if seq == pos + 1; it never
 *    writes into the slot.
 *  - The consumer reports how far it has read (a position) in a wave_ring_credit that lives in
 *    memory local to the producer, lazily: every credit_batch slots and when it goes idle.
 *    The producer reads its credit cell only when its cached copy says the ring is full, so
 *    the fast path never reads across the link.
 *  - A credit outside [last credit, produced] or a slot whose header is inconsistent is
 *    counted and ignored by the reader; it never advances a position on its own.
 *  - wave_ring_consumer.committed lets a restarted consumer resume where the last one
 *    committed.
 *
 * Memory ordering (who fences what) is documented in libwave/include/wave/fence.h.
 */
#ifndef WAVE_UAPI_RING_H
#define WAVE_UAPI_RING_H

#include "wave_types.h"

#define WAVE_RING_MAGIC 0x474e4952u /* "RING" in memory order */
#define WAVE_RING_VERSION 1u

#define WAVE_CACHELINE 64u
#define WAVE_REGION_HDR_SIZE 4096u
#define WAVE_REGION_MAX_RINGS 4u
#define WAVE_REGION_MAX_CREDITS 4u
#define WAVE_RING_MAX_SLOTS (1u << 20)
#define WAVE_RING_MAX_SLOT_SIZE 4096u

/* Per-ring flags in wave_ring_desc.flags. */
#define WAVE_RING_F_PRESTAGED (1u << 0) /* the region also holds per-CPU prestaged slots */

/* What the slots of a ring carry (wave_ring_desc.kind). */
#define WAVE_RING_KIND_MESSAGE 1u /* struct wave_msg in each slot (host to NIC events) */
#define WAVE_RING_KIND_DECISION 2u /* struct wave_msg carrying a decision (NIC to host) */
#define WAVE_RING_KIND_DMA_DESC 3u /* struct wave_dma_desc (host to NIC) */
#define WAVE_RING_KIND_DMA_DONE 4u /* struct wave_msg carrying a DMA completion (NIC to host) */
#define WAVE_RING_KIND_RAW 5u /* opaque bytes */

/* Written by the region's creator before the queue is announced; validated by every reader. */
struct wave_ring_desc {
	__le32 magic; /* WAVE_RING_MAGIC, 0 for an unused entry */
	__le16 version; /* WAVE_RING_VERSION */
	__le16 kind; /* WAVE_RING_KIND_* */
	__le32 slot_size; /* bytes, a power of two, >= 64, <= WAVE_RING_MAX_SLOT_SIZE */
	__le32 nr_slots; /* a power of two, <= WAVE_RING_MAX_SLOTS */
	__le64 slots_off; /* from the region start, 64-byte aligned, inside the region */
	__le32 credit_batch; /* consumer returns credits at least every this many slots */
	__le32 flags; /* WAVE_RING_F_* */
	__le32 credit_queue; /* queue id of the region that holds this ring's credit cell */
	__le32 credit_index; /* index into that region's credits[] */
	__le32 prestaged_nr; /* number of prestaged slots (one per host CPU) */
	__le32 reserved0;
	__le64 prestaged_off; /* from the region start, 64-byte aligned */
	__le64 reserved1;
};

/* Written by a ring's consumer only (restart point). */
struct wave_ring_consumer {
	__le64 committed; /* every position below this one was consumed and acted on */
	__le64 epoch; /* incremented by each consumer that attaches */
	__u8 reserved[WAVE_CACHELINE - 16];
};

/* Written by a ring's consumer into memory local to the ring's producer. */
struct wave_ring_credit {
	__le64 consumed; /* every position below this one may be overwritten */
	__u8 reserved[WAVE_CACHELINE - 8];
};

struct wave_region_hdr {
	struct wave_ring_desc rings[WAVE_REGION_MAX_RINGS]; /* at 0x000 */
	struct wave_ring_consumer consumers[WAVE_REGION_MAX_RINGS]; /* at 0x100 */
	struct wave_ring_credit credits[WAVE_REGION_MAX_CREDITS]; /* at 0x200 */
	__u8 reserved[WAVE_REGION_HDR_SIZE - 0x300];
};

/* Header at the start of every slot. */
struct wave_slot_hdr {
	__le64 seq; /* position + 1; written last, after a store fence */
	__le16 type; /* message type, meaning defined by the ring kind (wave_msg.h) */
	__le16 len; /* payload bytes that follow this header, <= slot_size - 16 */
	__le32 flags; /* none defined, must be zero */
};

/*
 * A prestaged decision slot (one per host CPU, one cache line each). The NIC overwrites it
 * whenever it has a newer decision for that CPU; the host flushes and prefetches the line
 * ahead of need through its WT mapping and validates what it reads. version grows with every
 * write; csum (wave_prestage_csum in wave_msg.h) covers version and body so a line fetched
 * while the NIC was writing it (torn) is detected.
 */
struct wave_prestaged_slot {
	__le64 version; /* 0: empty */
	__u8 body[48]; /* a struct wave_decision */
	__le32 csum;
	__le32 reserved;
};

WAVE_STATIC_ASSERT(sizeof(struct wave_ring_desc) == 64, "ring desc size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_ring_desc, slots_off) == 16, "slots_off");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_ring_desc, credit_queue) == 32, "credit_queue");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_ring_desc, prestaged_off) == 48, "prestaged");
WAVE_STATIC_ASSERT(sizeof(struct wave_ring_consumer) == WAVE_CACHELINE, "consumer size");
WAVE_STATIC_ASSERT(sizeof(struct wave_ring_credit) == WAVE_CACHELINE, "credit size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_region_hdr, consumers) == 0x100, "consumers");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_region_hdr, credits) == 0x200, "credits");
WAVE_STATIC_ASSERT(sizeof(struct wave_region_hdr) == WAVE_REGION_HDR_SIZE, "region hdr size");
WAVE_STATIC_ASSERT(sizeof(struct wave_slot_hdr) == 16, "slot hdr size");
WAVE_STATIC_ASSERT(sizeof(struct wave_prestaged_slot) == WAVE_CACHELINE, "prestaged size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_prestaged_slot, csum) == 56, "prestaged csum");

#endif /* WAVE_UAPI_RING_H */
