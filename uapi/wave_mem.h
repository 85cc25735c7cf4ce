/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave memory-management offload: the memory link between the host's access collection and
 * enactment (wave-mem-host) and the memory agent on the NIC (nic_fw/policies/mem).
 *
 * The link is libwave's standard link (libwave/include/wave/link.h) with a DMA queue:
 *
 *   message region  (WAVE_QKIND_MESSAGE, host to NIC, WC): ring 0 carries WAVE_MSG_MEM_BATCH
 *                   notices; ring 1 DMA descriptors; struct wave_mem_info at WAVE_MEM_INFO_OFF.
 *   decision region (WAVE_QKIND_DECISION, NIC to host, WT): ring 0 carries WAVE_MSG_MEM_DECISION
 *                   and WAVE_MSG_MEM_BATCH_DONE; ring 1 DMA completions.
 *   DMA buffer      (WAVE_QKIND_DMA, NIC memory): WAVE_MEM_BATCH_SLOTS access batches.
 *
 * One round: the host writes an access batch (below) into its DMA window, has the NIC's DMA
 * engine gather it into batch slot seq % WAVE_MEM_BATCH_SLOTS of the DMA buffer, and once the
 * completion is back sends WAVE_MSG_MEM_BATCH naming the slot. The agent parses the batch
 * (every field untrusted), answers with zero or more WAVE_MSG_MEM_DECISION and always one
 * WAVE_MSG_MEM_BATCH_DONE, after which the host may reuse the slot.
 *
 * Several links share one device (the scheduling link too): the NIC finds the memory link by
 * the info block's magic, and the info block names the link's other two queues.
 *
 * Access batch, every field little-endian, total_bytes long:
 *
 *   struct wave_mem_batch_hdr              64 bytes
 *   region_count struct wave_mem_region    32 bytes each, ending exactly at total_bytes
 *
 * Regions are DAMON's: a range of one target process's address space with the number of
 * samples of the last aggregation interval that found it accessed (0..max_accesses) and its
 * age (aggregation intervals its access pattern has not changed). Ranges are page aligned,
 * non-empty, and sorted by (target, start) without overlap.
 *
 * checksum: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the header's
 * first 56 bytes followed by bytes [64, total_bytes), as in wave_kv_flush.h: it catches torn
 * and corrupt transfers; the reader still checks every field.
 */
#ifndef WAVE_UAPI_MEM_H
#define WAVE_UAPI_MEM_H

#include "wave_types.h"

#define WAVE_MEM_BATCH_MAGIC 0x424d454du /* "MEMB" in memory order */
#define WAVE_MEM_BATCH_VERSION 1u
#define WAVE_MEM_MAX_REGIONS 4096u /* per batch */
#define WAVE_MEM_BATCH_SLOTS 4u /* batch slots in the DMA buffer, each WAVE_MEM_BATCH_MAX */
#define WAVE_MEM_BATCH_MAX (64u + 32u * WAVE_MEM_MAX_REGIONS)
#define WAVE_MEM_PAGE_SIZE 4096u /* ranges are aligned to it */

/* Agent policies (wave_mem_info.policy). */
#define WAVE_MEM_POLICY_AGE 1u /* age thresholds only (DAMON-like) */
#define WAVE_MEM_POLICY_SOL 2u /* the learned model, guarded by the age policy */
#define WAVE_MEM_POLICY_MAX 2u

/* wave_mem_info.flags */
#define WAVE_MEM_INFO_F_KILL (1u << 0) /* kill switch: the agent decides nothing but keep */
#define WAVE_MEM_INFO_FLAGS_KNOWN WAVE_MEM_INFO_F_KILL

#define WAVE_MEM_INFO_OFF 0x300u
#define WAVE_MEM_INFO_MAGIC 0x494d454du /* "MEMI" in memory order */
#define WAVE_MEM_INFO_VERSION 1u

/* Written by the host before the ring descriptors; read (and re-read) by the NIC. */
struct wave_mem_info {
	__le32 magic; /* WAVE_MEM_INFO_MAGIC, 0 while detached */
	__le16 version; /* WAVE_MEM_INFO_VERSION */
	__le16 policy; /* WAVE_MEM_POLICY_* */
	__le32 flags; /* WAVE_MEM_INFO_F_*; the host may flip KILL while attached */
	__le32 dec_queue; /* queue id of the link's decision region */
	__le32 dma_queue; /* queue id of the link's DMA buffer */
	__le32 max_reclaim_mib_s; /* page-out budget of the agent, MiB per second, 0: none */
	__le64 attach_gen; /* bumped by every attach of the host mechanism */
	__le32 deadline_us; /* a decision later than this after collection is void, 0: 1 s */
	__le32 reserved0;
	__u8 reserved[24];
};

/* wave_mem_batch_hdr.flags: none defined. */
#define WAVE_MEM_BATCH_FLAGS_KNOWN 0u

struct wave_mem_batch_hdr {
	__le32 magic; /* WAVE_MEM_BATCH_MAGIC */
	__le16 version; /* WAVE_MEM_BATCH_VERSION */
	__le16 hdr_size; /* sizeof(struct wave_mem_batch_hdr) */
	__le32 region_count; /* 0..WAVE_MEM_MAX_REGIONS */
	__le32 flags; /* WAVE_MEM_BATCH_FLAGS_KNOWN */
	__le64 seq; /* per attach, first 1, one more per batch */
	__le64 collected_ns; /* host CLOCK_MONOTONIC at the end of the aggregation */
	__le32 aggr_us; /* DAMON aggregation interval */
	__le16 max_accesses; /* samples per aggregation: nr_accesses is at most this */
	__le16 reserved0;
	__le64 total_bytes; /* header and regions */
	__le64 reserved1; /* 0 */
	__le64 checksum; /* FNV-1a 64, see above */
};

/* wave_mem_region.flags */
#define WAVE_MEM_REGION_F_PAGED_OUT (1u << 0) /* the host paged (part of) it out since */
#define WAVE_MEM_REGION_FLAGS_KNOWN WAVE_MEM_REGION_F_PAGED_OUT

struct wave_mem_region {
	__le64 start; /* page aligned */
	__le64 end; /* exclusive, page aligned, > start */
	__le32 target; /* the host's target id (stable for a process while it is tracked) */
	__le32 age; /* DAMON age, in aggregation intervals */
	__le16 nr_accesses; /* <= the batch's max_accesses */
	__le16 flags; /* WAVE_MEM_REGION_F_* */
	__le32 reserved; /* 0 */
};

/* Link messages (wave_slot_hdr.type; see wave_msg.h for the other types). */
#define WAVE_MSG_MEM_BATCH 80u /* host to NIC: struct wave_mem_batch_ready */
#define WAVE_MSG_MEM_DECISION 81u /* NIC to host: struct wave_mem_decision */
#define WAVE_MSG_MEM_BATCH_DONE 82u /* NIC to host: struct wave_mem_batch_done */

struct wave_mem_batch_ready {
	__le64 seq; /* the batch's seq */
	__le32 slot; /* batch slot in the DMA buffer, < WAVE_MEM_BATCH_SLOTS */
	__le32 len; /* the batch's total_bytes */
};

/* Actions (wave_mem_decision.action). */
#define WAVE_MEM_KEEP 0u /* never sent: keep is the absence of a decision */
#define WAVE_MEM_COLD 1u /* MADV_COLD: deprioritise */
#define WAVE_MEM_PAGEOUT 2u /* MADV_PAGEOUT: reclaim now */
#define WAVE_MEM_WILLNEED 3u /* MADV_WILLNEED: prefetch back */
#define WAVE_MEM_ACTION_MAX 3u

/* Who decided (wave_mem_decision.source). */
#define WAVE_MEM_SRC_MODEL 1u /* the learned model */
#define WAVE_MEM_SRC_FALLBACK 2u /* the age policy */
#define WAVE_MEM_SRC_MAX 2u

struct wave_mem_decision {
	__le64 batch_seq; /* the batch whose regions it is about */
	__le64 start; /* page aligned */
	__le64 len; /* bytes, page aligned, non-zero */
	__le32 target; /* the region's target id */
	__u8 action; /* WAVE_MEM_COLD..WAVE_MEM_WILLNEED */
	__u8 source; /* WAVE_MEM_SRC_* */
	__le16 reserved; /* 0 */
};

/* wave_mem_batch_done.status */
#define WAVE_MEM_BATCH_OK 0u
#define WAVE_MEM_BATCH_REFUSED 1u /* the batch failed the agent's checks; nothing decided */
#define WAVE_MEM_BATCH_LATE 2u /* past its deadline on arrival; nothing decided */

struct wave_mem_batch_done {
	__le64 seq;
	__le32 slot;
	__le32 status; /* WAVE_MEM_BATCH_* */
	__le32 decisions; /* WAVE_MSG_MEM_DECISION messages sent for it before this one */
	__le32 agent_ns; /* the agent's time on the batch, saturated */
};

/*
 * The agent's counters, written by the NIC into the decision region at WAVE_MEM_STATS_OFF
 * (after the ring header's credits) and read by the host for `wavectl mem status`. update is
 * odd while the NIC rewrites the block: a reader retries until it reads the same even value
 * before and after copying.
 */
#define WAVE_MEM_STATS_OFF 0x300u
#define WAVE_MEM_STATS_MAGIC 0x534d454du /* "MEMS" in memory order */

struct wave_mem_nic_stats {
	__le32 magic; /* WAVE_MEM_STATS_MAGIC */
	__le16 policy; /* the policy serving the link */
	__le16 killed; /* 1 while the kill switch is on */
	__le64 update; /* odd while being written */
	__le64 attach_gen; /* the link these counters are of */
	__le64 batches; /* decoded and decided */
	__le64 regions;
	__le64 refused_batches; /* failed the format checks (any wave_mem BatchError) */
	__le64 stale_batches; /* seq not above the last one: replayed or reordered */
	__le64 late_batches; /* past the deadline: nothing decided */
	__le64 killed_batches; /* arrived while the kill switch was on */
	__le64 decisions[WAVE_MEM_ACTION_MAX + 1]; /* by action; [0] unused */
	__le64 decided_bytes[WAVE_MEM_ACTION_MAX + 1]; /* by action; [0] unused */
	__le64 model_decisions;
	__le64 fallback_decisions;
	__le64 scored; /* model predictions checked against what happened next */
	__le64 correct;
	__le32 recent_accuracy_ppm; /* over the model's recent window */
	__le32 reserved0;
	__le64 fallback_unsure; /* regions the model was unsure of */
	__le64 fallback_accuracy; /* regions decided by the fallback for low model accuracy */
	__le64 fallback_late; /* regions decided by the fallback because the model ran late */
	__le64 rate_limited; /* page-outs held back by the reclaim budget */
	__le64 rate_limited_bytes;
	__le64 agent_ns; /* the agent's time on batches, summed */
	__le64 reserved[8];
};

WAVE_STATIC_ASSERT(sizeof(struct wave_mem_info) == 64, "mem info size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_nic_stats) == 288, "mem stats size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_info, attach_gen) == 24, "attach_gen");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_batch_hdr) == 64, "mem batch header size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_batch_hdr, seq) == 16, "seq");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_batch_hdr, total_bytes) == 40, "total");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_batch_hdr, checksum) == 56, "checksum");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_region) == 32, "mem region size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_mem_region, target) == 16, "target");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_batch_ready) == 16, "batch ready size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_decision) == 32, "mem decision size");
WAVE_STATIC_ASSERT(sizeof(struct wave_mem_batch_done) == 24, "batch done size");

#endif /* WAVE_UAPI_MEM_H */
