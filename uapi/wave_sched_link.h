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
#define WAVE_SCHED_POLICY_VM 3u /* vCPU thread groups (a cgroup per VM) on reserved cores */
#define WAVE_SCHED_POLICY_MAX 3u

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

/*
 * The VM policy's table, in the message region at WAVE_SCHED_VM_CFG_OFF (after the info,
 * before the ring slots at WAVE_REGION_HDR_SIZE). User space passes it to
 * WAVE_IOC_SCHED_ATTACH (wave_sched_attach.vm_cfg, only with WAVE_SCHED_POLICY_VM); wave.ko
 * checks it with wave_sched_vm_cfg_ok() and writes it before the info, so it is complete
 * whenever the info's magic is; the NIC checks it again (untrusted) before using it.
 * Valid only while the info block is (its magic set) and the policy is VM.
 */
#define WAVE_SCHED_VM_CFG_OFF 0x400u
#define WAVE_SCHED_VM_CFG_MAGIC 0x4d564353u /* "SCVM" in memory order */
#define WAVE_SCHED_VM_CFG_VERSION 1u
#define WAVE_SCHED_VM_MAX 16u
#define WAVE_SCHED_VM_MAX_CPUS 64u

/* wave_sched_vm.flags */
#define WAVE_SCHED_VM_F_COSCHED (1u << 0) /* gang: the VM's vCPUs run at the same time */
#define WAVE_SCHED_VM_F_APART (1u << 1) /* at most one vCPU of the VM per physical core */
#define WAVE_SCHED_VM_F_PACK (1u << 2) /* idle headroom: use as few reserved cores as load allows */
#define WAVE_SCHED_VM_F_ALL 7u

struct wave_sched_vm {
	__le64 cgroup_id; /* kernfs id of the VM's cgroup (as in WAVE_MSG_TASK_GROUP), not 0 */
	__le64 cpumask; /* reserved CPUs, not empty, disjoint from every other VM's */
	__le32 flags; /* WAVE_SCHED_VM_F_*; COSCHED excludes APART and PACK */
	__le32 reserved0;
	__le64 reserved1;
};

struct wave_sched_vm_cfg {
	__le32 magic; /* WAVE_SCHED_VM_CFG_MAGIC */
	__le16 version; /* WAVE_SCHED_VM_CFG_VERSION */
	__le16 nr_vms; /* 1..WAVE_SCHED_VM_MAX entries of vms[] in use, the rest zero */
	__le32 flags; /* none defined */
	__le32 reserved;
	/* Physical core of each CPU (SMT siblings share one): what APART keeps apart. */
	__u8 core_of_cpu[WAVE_SCHED_VM_MAX_CPUS];
	struct wave_sched_vm vms[WAVE_SCHED_VM_MAX];
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
	/* Since argsz 56: user pointer to a struct wave_sched_vm_cfg (WAVE_SCHED_POLICY_VM
	 * only, required there), 0 otherwise. */
	__u64 vm_cfg;
};
#define WAVE_SCHED_ATTACH_SIZE_V1 48u /* without vm_cfg */

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
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_attach) == 56, "sched attach size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_attach, vm_cfg) ==
			   WAVE_SCHED_ATTACH_SIZE_V1, "vm_cfg");
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_vm) == 32, "sched vm size");
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_vm_cfg) == 80 + 32 * WAVE_SCHED_VM_MAX, "vm cfg size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_vm_cfg, vms) == 80, "vm cfg vms");
WAVE_STATIC_ASSERT(WAVE_SCHED_VM_CFG_OFF >= WAVE_SCHED_INFO_OFF + sizeof(struct wave_sched_info),
		   "vm cfg after info");
WAVE_STATIC_ASSERT(WAVE_SCHED_VM_CFG_OFF + sizeof(struct wave_sched_vm_cfg) <= 4096,
		   "vm cfg inside the region header");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_attach, slice_ns) == 32, "slice");
WAVE_STATIC_ASSERT(sizeof(struct wave_sched_stats) == 208, "sched stats size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_sched_stats, nic_irqs) ==
		   WAVE_SCHED_STATS_SIZE_V1, "sched stats v1 size");

/*
 * Whether a VM table is well formed for a host with @nr_cpus CPUs: magic, version, known
 * flags, reserved fields zero, 1..WAVE_SCHED_VM_MAX VMs with distinct non-zero cgroup ids and
 * non-empty reserved CPU sets inside 0..nr_cpus-1 that overlap no other VM's, at least one CPU
 * left unreserved (for the tasks that belong to no VM), unused entries zero. Fields are read
 * as stored (little-endian hosts: wave.ko and the NIC agree on byte order by the BAR's magic).
 * Returns 0 when well formed, else a short reason.
 */
static inline const char *wave_sched_vm_cfg_check(const struct wave_sched_vm_cfg *c, __u32 nr_cpus)
{
	__u64 all = nr_cpus >= 64 ? ~0ull : (1ull << nr_cpus) - 1, used = 0;
	__u32 i, j;

	if (c->magic != WAVE_SCHED_VM_CFG_MAGIC)
		return "bad magic";
	if (c->version != WAVE_SCHED_VM_CFG_VERSION)
		return "unknown version";
	if (c->flags || c->reserved)
		return "unknown flags or reserved bits";
	if (nr_cpus == 0 || nr_cpus > WAVE_SCHED_VM_MAX_CPUS)
		return "host CPU count out of range";
	if (c->nr_vms == 0 || c->nr_vms > WAVE_SCHED_VM_MAX)
		return "VM count out of range";
	for (i = 0; i < WAVE_SCHED_VM_MAX; i++) {
		const struct wave_sched_vm *v = &c->vms[i];

		if (i >= c->nr_vms) {
			if (v->cgroup_id || v->cpumask || v->flags || v->reserved0 || v->reserved1)
				return "unused VM entry not zero";
			continue;
		}
		if (!v->cgroup_id)
			return "VM without a cgroup id";
		if (!v->cpumask || (v->cpumask & ~all))
			return "VM CPU set empty or beyond the host's CPUs";
		if (v->cpumask & used)
			return "VM CPU sets overlap";
		if ((v->flags & ~WAVE_SCHED_VM_F_ALL) || v->reserved0 || v->reserved1)
			return "unknown VM flags or reserved bits";
		if ((v->flags & WAVE_SCHED_VM_F_COSCHED) &&
		    (v->flags & (WAVE_SCHED_VM_F_APART | WAVE_SCHED_VM_F_PACK)))
			return "co-scheduled VM also apart or packed";
		for (j = 0; j < i; j++) {
			if (c->vms[j].cgroup_id == v->cgroup_id)
				return "two VMs with one cgroup";
		}
		used |= v->cpumask;
	}
	if ((used & all) == all)
		return "no CPU left for tasks outside the VMs";
	return 0;
}

#endif /* WAVE_UAPI_SCHED_LINK_H */
