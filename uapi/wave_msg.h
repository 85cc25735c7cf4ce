/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave link messages: task events (host to NIC), decisions (NIC to host), transaction
 * outcomes (host to NIC) and DMA descriptors/completions. Each message is the payload of one
 * ring slot (wave_ring.h): wave_slot_hdr.type is a WAVE_MSG_* value and wave_slot_hdr.len
 * the payload size, which must equal the size of the type's struct below.
 *
 * Transactions follow ghOSt: the host keeps a sequence number per task, bumped on every event
 * it sends for the task, and sends it in the event. A decision names the task, the sequence
 * number the agent last saw for it and the agent's epoch; the host commits it only if the
 * task still has that sequence number and the agent epoch is current, and reports the outcome
 * back in a WAVE_MSG_TXN_OUTCOME message.
 */
#ifndef WAVE_UAPI_MSG_H
#define WAVE_UAPI_MSG_H

#include "wave_types.h"

/* Message types (wave_slot_hdr.type). */
#define WAVE_MSG_NOP 0u
/* Task events, host to NIC: struct wave_task_event. */
#define WAVE_MSG_TASK_NEW 1u
#define WAVE_MSG_TASK_RUNNABLE 2u
#define WAVE_MSG_TASK_BLOCKED 3u
#define WAVE_MSG_TASK_PREEMPTED 4u
#define WAVE_MSG_TASK_YIELD 5u
#define WAVE_MSG_TASK_DEAD 6u
#define WAVE_MSG_TASK_AFFINITY 7u
/* The task started running on ev.cpu (whether or not a decision of the agent put it there). */
#define WAVE_MSG_TASK_RUNNING 8u
/*
 * The task's cgroup (cgroup v2 kernfs id = inode number of its cgroupfs directory), host to
 * NIC: struct wave_task_group. Sent after TASK_NEW and when the task moves to another cgroup;
 * it bumps the task's sequence number like any task event.
 */
#define WAVE_MSG_TASK_GROUP 9u
/* CPU events, host to NIC: struct wave_task_event with tid 0. */
#define WAVE_MSG_CPU_IDLE 16u
#define WAVE_MSG_CPU_TICK 17u
#define WAVE_MSG_CPU_AVAILABLE 18u
#define WAVE_MSG_CPU_UNAVAILABLE 19u
/* Transaction outcome, host to NIC: struct wave_txn_outcome. */
#define WAVE_MSG_TXN_OUTCOME 32u
/* Decision, NIC to host: struct wave_decision. */
#define WAVE_MSG_DECISION 48u
/* DMA completion, NIC to host: struct wave_dma_done. */
#define WAVE_MSG_DMA_DONE 64u
/* DMA request, host to NIC: struct wave_dma_desc + sge[nr_sge]. */
#define WAVE_MSG_DMA_REQ 65u
/* Memory-link messages, 80..82: wave_mem.h. */
/* Opaque payload (tests and benchmarks). */
#define WAVE_MSG_RAW 100u

/* Task ids: 0 means "no task" (a decision to leave the CPU idle). */
#define WAVE_TID_NONE 0u

struct wave_task_event {
	__le32 tid; /* task id, WAVE_TID_NONE for CPU events */
	__le32 cpu; /* the CPU the event happened on */
	__le64 task_seq; /* the task's sequence number after this event */
	__le64 time_ns; /* host monotonic clock */
	__le64 runtime_ns; /* task's cumulated runtime */
	__le64 cpumask; /* allowed CPUs 0..63 (TASK_NEW, TASK_AFFINITY) */
	__le32 weight; /* nice-derived weight (TASK_NEW) */
	__le32 flags; /* none defined, must be zero */
};

struct wave_task_group {
	__le32 tid; /* never WAVE_TID_NONE */
	__le32 flags; /* none defined, must be zero */
	__le64 task_seq; /* the task's sequence number after this event */
	__le64 cgroup_id; /* kernfs id of the task's cgroup v2 cgroup, never 0 */
	__le64 time_ns; /* host monotonic clock */
};

/* Decision flags. */
#define WAVE_DECISION_F_PRESTAGED (1u << 0) /* came from a prestaged slot */

struct wave_decision {
	__le64 txn_id; /* chosen by the agent, echoed in the outcome */
	__le32 tid; /* task to run, WAVE_TID_NONE to idle the CPU */
	__le32 cpu; /* target CPU */
	__le64 task_seq; /* the task's sequence number the agent last saw */
	__le64 agent_epoch; /* the epoch of the agent that decided */
	__le64 slice_ns; /* time slice, 0 for the default */
	__le32 flags; /* WAVE_DECISION_F_* */
	__le32 reserved; /* must be zero */
};

/* Transaction outcomes. */
#define WAVE_TXN_COMMITTED 1u /* enacted */
#define WAVE_TXN_STALE 2u /* task_seq no longer matches: the agent missed an event */
#define WAVE_TXN_ABORTED 3u /* agent epoch is old, or the task is gone */
#define WAVE_TXN_CPU_UNAVAILABLE 4u /* the target CPU is offline or not ours */
#define WAVE_TXN_INVALID 5u /* malformed: bad CPU, flags or reserved bits */
#define WAVE_TXN_OUTCOME_MAX 5u

struct wave_txn_outcome {
	__le64 txn_id;
	__le32 tid;
	__le32 cpu;
	__le32 outcome; /* WAVE_TXN_* */
	__le32 reserved;
	__le64 task_seq; /* the host's current sequence number of the task */
	__le64 agent_epoch; /* the host's current agent epoch */
};

/* DMA: the NIC's engine gathers host memory into a NIC buffer region or scatters back. */
#define WAVE_DMA_TO_NIC 1u /* gather the host segments into the NIC buffer */
#define WAVE_DMA_TO_HOST 2u /* scatter the NIC buffer into the host segments */

struct wave_dma_sge {
	__le64 addr; /* host DMA address (the emulated engine: offset in the host window) */
	__le32 len; /* bytes, non-zero */
	__le32 reserved;
};

struct wave_dma_desc {
	__le64 cookie; /* echoed in the completion */
	__le16 op; /* WAVE_DMA_TO_* */
	__le16 nr_sge; /* entries that follow, fitting in the slot */
	__le32 total_len; /* sum of the segments' lengths */
	__le64 nic_off; /* offset in the NIC buffer region */
	__le32 nic_queue; /* queue id of the NIC buffer region */
	__le32 reserved;
	/* struct wave_dma_sge sge[nr_sge]; */
};

/* wave_dma_done.status */
#define WAVE_DMA_OK 0u
#define WAVE_DMA_EINVAL 1u /* malformed descriptor: bad op, lengths or segment count */
#define WAVE_DMA_EFAULT 2u /* a segment or the NIC range lies outside its window */

struct wave_dma_done {
	__le64 cookie;
	__le32 status; /* WAVE_DMA_* */
	__le32 bytes; /* bytes moved */
};

WAVE_STATIC_ASSERT(sizeof(struct wave_task_event) == 48, "task event size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_task_event, task_seq) == 8, "event seq");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_task_event, cpumask) == 32, "event mask");
WAVE_STATIC_ASSERT(sizeof(struct wave_task_group) == 32, "task group size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_task_group, task_seq) == 8, "group seq");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_task_group, cgroup_id) == 16, "group id");
WAVE_STATIC_ASSERT(sizeof(struct wave_decision) == 48, "decision size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_decision, task_seq) == 16, "decision seq");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_decision, agent_epoch) == 24, "epoch");
WAVE_STATIC_ASSERT(sizeof(struct wave_txn_outcome) == 40, "outcome size");
WAVE_STATIC_ASSERT(sizeof(struct wave_dma_sge) == 16, "sge size");
WAVE_STATIC_ASSERT(sizeof(struct wave_dma_desc) == 32, "dma desc size");
WAVE_STATIC_ASSERT(sizeof(struct wave_dma_done) == 16, "dma done size");

/*
 * Checksum of a prestaged slot (wave_ring.h): FNV-1a over the 7 little-endian 64-bit words
 * that hold version and body, folded to 32 bits. Not a security measure: it catches a line
 * that was read while the NIC rewrote it, and random garbage.
 */
static inline __u32 wave_prestage_csum(const __u64 words[7])
{
	__u64 h = 0xcbf29ce484222325ull;
	int i;

	for (i = 0; i < 7; i++) {
		h ^= words[i];
		h *= 0x100000001b3ull;
	}
	return (__u32)(h ^ (h >> 32));
}

/*
 * Whether a host-to-NIC scheduling message (task event, task group, CPU event or outcome)
 * is well formed: its length is its type's struct size and its must-be-zero fields are zero.
 * Returns 0 for any other type. wave.ko checks what BPF programs send with it and libwave
 * what its consumers receive, so both sides accept exactly the same messages.
 */
static inline int wave_sched_msg_ok(__u32 type, const void *msg, __u32 len)
{
	const struct wave_task_event *ev = (const struct wave_task_event *)msg;
	const struct wave_txn_outcome *o = (const struct wave_txn_outcome *)msg;
	const struct wave_task_group *g = (const struct wave_task_group *)msg;

	switch (type) {
	case WAVE_MSG_TASK_NEW:
	case WAVE_MSG_TASK_RUNNABLE:
	case WAVE_MSG_TASK_BLOCKED:
	case WAVE_MSG_TASK_PREEMPTED:
	case WAVE_MSG_TASK_YIELD:
	case WAVE_MSG_TASK_DEAD:
	case WAVE_MSG_TASK_AFFINITY:
	case WAVE_MSG_TASK_RUNNING:
		return len == sizeof(*ev) && !ev->flags && ev->tid != WAVE_TID_NONE;
	case WAVE_MSG_TASK_GROUP:
		return len == sizeof(*g) && !g->flags && g->tid != WAVE_TID_NONE && g->cgroup_id;
	case WAVE_MSG_CPU_IDLE:
	case WAVE_MSG_CPU_TICK:
	case WAVE_MSG_CPU_AVAILABLE:
	case WAVE_MSG_CPU_UNAVAILABLE:
		return len == sizeof(*ev) && !ev->flags;
	case WAVE_MSG_TXN_OUTCOME:
		return len == sizeof(*o) && o->outcome >= WAVE_TXN_COMMITTED &&
		       o->outcome <= WAVE_TXN_OUTCOME_MAX && !o->reserved;
	default:
		return 0;
	}
}

#endif /* WAVE_UAPI_MSG_H */
