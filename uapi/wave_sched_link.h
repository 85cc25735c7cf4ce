/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave thread-scheduling offload: the scheduling link between wave.ko's kfuncs (called by the
 * sched_ext scheduler in bpf/) and the scheduling agent on the NIC.
 *
 * The link is two queues that user space creates with WAVE_IOC_CREATE_QUEUE and hands to
 * wave.ko with WAVE_IOC_SCHED_ATTACH:
 *
 *   message region  (WAVE_QKIND_MESSAGE, host to NIC, WC): ring 0 carries task and CPU events
 *                   and transaction outcomes (wave_msg.h); credits[0] is the decision ring's
 *                   credit cell; struct wave_sched_info sits at WAVE_SCHED_INFO_OFF.
 *   decision region (WAVE_QKIND_DECISION, NIC to host, WT): ring 0 carries decisions, followed
 *                   by one prestaged slot per host CPU; credits[0] is the message ring's cell.
 *
 * This is exactly the layout of libwave's HostLink (libwave/include/wave/link.h) without DMA
 * rings, so the NIC attaches with NicLink::Attach. wave.ko zeroes both regions and writes
 * every descriptor itself at attach (message descriptor last, so the NIC never attaches to a
 * half-built link); the regions' previous contents are never trusted.
 *
 * One message ring shared by every host CPU (serialised by a spinlock in wave.ko) rather
 * than one per CPU: a region holds at most WAVE_REGION_MAX_RINGS rings and libwave's NIC side
 * consumes one message ring; the critical section is a few posted WC stores.
 *
 * Transactions (wave_msg.h): the agent epoch a decision must carry is the message ring's
 * wave_ring_consumer.epoch (region offset 0x100 + 8), which each NIC consumer increments when
 * it attaches. wave.ko rejects a decision of another epoch with WAVE_TXN_ABORTED, a malformed
 * one (CPU out of range, flags, reserved bits) with WAVE_TXN_INVALID, and reports these
 * outcomes itself; the BPF scheduler reports the others (committed, stale, CPU unavailable).
 *
 * The NIC's agent policy is chosen by the host: struct wave_sched_info.policy. A restarted
 * NIC agent must resume the message ring (RingConsumer::Start::kResume) so positions agree.
 */
#ifndef WAVE_UAPI_SCHED_LINK_H
#define WAVE_UAPI_SCHED_LINK_H

#include "wave_types.h"
#if !defined(__bpf__)
#include <linux/ioctl.h>
#endif

/* Agent policies (wave_sched_attach.policy, wave_sched_info.policy). */
#define WAVE_SCHED_POLICY_NONE 0u /* the NIC runs no agent (a test program plays the agent) */
#define WAVE_SCHED_POLICY_FIFO 1u /* centralized FIFO */
#define WAVE_SCHED_POLICY_SHINJUKU 2u /* preemptive slices, QoS classes */
#define WAVE_SCHED_POLICY_MAX 2u

/* Default Shinjuku preemption slice. */
#define WAVE_SCHED_DEFAULT_SLICE_NS 30000ull

/* In the message region, after the ring header's credits (0x200..0x23f). */
#define WAVE_SCHED_INFO_OFF 0x300u
#define WAVE_SCHED_INFO_MAGIC 0x44484353u /* "SCHD" in memory order */
#define WAVE_SCHED_INFO_VERSION 1u

/* Written by wave.ko at attach, before the ring descriptors; read by the NIC. */
struct wave_sched_info {
	__le32 magic; /* WAVE_SCHED_INFO_MAGIC, 0 while detached */
	__le16 version; /* WAVE_SCHED_INFO_VERSION */
	__le16 policy; /* WAVE_SCHED_POLICY_* */
	__le32 nr_cpus; /* host CPUs: CPU ids in events and decisions are below this */
	__le32 flags; /* none defined */
	__le64 slice_ns; /* Shinjuku's preemption slice */
	__le64 attach_gen; /* bumped by every attach since the module loaded */
	__u8 reserved[32];
};

/* WAVE_IOC_SCHED_ATTACH: hand two live queues to wave.ko as the scheduling link. */
struct wave_sched_attach {
	__u32 argsz;
	__u32 flags; /* none defined */
	__u32 msg_queue; /* a WAVE_QKIND_MESSAGE queue, WAVE_DIR_HOST_TO_NIC */
	__u32 dec_queue; /* a WAVE_QKIND_DECISION queue, WAVE_DIR_NIC_TO_HOST */
	__u32 msg_slots; /* power of two, 0: as many as fit (at most 4096) */
	__u32 dec_slots; /* power of two, 0: as many as fit after the prestaged slots (<= 1024) */
	__u16 policy; /* WAVE_SCHED_POLICY_* */
	__u16 reserved0;
	__u32 hb_poll_us; /* how often wave.ko samples the NIC heartbeat, 0: 2000 */
	__u64 slice_ns; /* 0: WAVE_SCHED_DEFAULT_SLICE_NS */
	__u32 nr_cpus; /* out: prestaged slots = host CPU ids */
	__u32 reserved1;
};

/* WAVE_IOC_SCHED_STATS: counters of the link (zero when detached). */
struct wave_sched_stats {
	__u32 argsz;
	__u32 attached; /* 1 while a link is attached */
	__u32 policy;
	__u32 nr_cpus;
	__u32 msg_queue;
	__u32 dec_queue;
	__u64 agent_epoch; /* current, as read from the message ring's consumer */
	__u64 hb_age_ns; /* since the NIC heartbeat last advanced */
	__u64 msgs_sent; /* events and outcomes written to the message ring */
	__u64 msgs_dropped_full; /* the ring had no room */
	__u64 msgs_rejected; /* bad type or size from the BPF program */
	__u64 credit_reads;
	__u64 bad_credits; /* credit cell outside [last credit, produced] */
	__u64 doorbells;
	__u64 prestaged_taken;
	__u64 ring_taken; /* decisions from the ring */
	__u64 torn; /* prestaged checksum mismatch */
	__u64 bad_slots; /* decision slot with a bad header, type or length */
	__u64 garbage_seqs; /* sequence word neither this lap nor the previous */
	__u64 invalid; /* malformed decision: outcome WAVE_TXN_INVALID */
	__u64 aborted_epoch; /* wrong agent epoch: outcome WAVE_TXN_ABORTED */
	__u64 pending_dropped; /* per-CPU pending decisions overflowed */
	__u64 attach_gen;
	/* Since argsz 192: the NIC's decision interrupts (issue 11 item 3). */
	__u64 nic_irqs; /* interrupts on the decision queue's vector while attached */
	__u64 irq_drained; /* ring decisions their handler moved to the pending lists */
	__u64 idle_kicks; /* IPIs sent to idle CPUs that got a decision */
	__u64 kicks_busy; /* a kick to that CPU was still on its way: none sent */
	__u64 irq_prestaged; /* idle CPUs kicked for a new prestaged decision */
	__u64 reserved_irq; /* zero */
};

/* The size of struct wave_sched_stats before the interrupt counters. */
#define WAVE_SCHED_STATS_SIZE_V1 160u

#define WAVE_IOC_SCHED_ATTACH _IOWR(0xb7, 0x10, struct wave_sched_attach)
#define WAVE_IOC_SCHED_DETACH _IO(0xb7, 0x11)
#define WAVE_IOC_SCHED_STATS _IOWR(0xb7, 0x12, struct wave_sched_stats)

WAVE_STATIC_ASSERT(sizeof(struct wave_sched_info) == 64, "sched info size");
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_attach) == 48, "sched attach size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_attach, slice_ns) == 32, "slice");
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_stats) == 208, "sched stats size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_stats, nic_irqs) ==
		   WAVE_SCHED_STATS_SIZE_V1, "sched stats v1 size");

#endif /* WAVE_UAPI_SCHED_LINK_H */
