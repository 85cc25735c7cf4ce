/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduling link (uapi/wave_sched_link.h): wave.ko's end of the message ring it
 * produces into and of the decision ring and prestaged slots it consumes, used by the kfuncs
 * (wave_kfuncs.c) that the sched_ext scheduler in bpf/ calls.
 *
 * There is at most one link in the system (sched_ext runs one scheduler). It is published
 * with RCU: the kfuncs run in scheduler context (rq lock held, IRQs off), never sleep, and
 * see either a fully built link or none. Detaching unpublishes it and waits for a grace
 * period before the queue mappings can go, so no kfunc ever touches an unmapped region.
 *
 * Lock order: wave_dev.lock > wave_sched_mutex > link->dec_lock > link->msg_lock.
 */
#ifndef WAVE_KMOD_SCHED_H
#define WAVE_KMOD_SCHED_H

#include <linux/irq_work.h>
#include <linux/smp.h>
#include <linux/timer.h>

#include "wave.h"
#include "wave_msg.h"
#include "wave_ring.h"
#include "wave_sched_link.h"

/* Ring decisions wait per target CPU until that CPU asks; more than this are refused. */
#define WAVE_SCHED_PENDING 8

/* Bit 63 of a drain stamp (wave_sched_last_drain()): the NIC's interrupt drained it. */
#define WAVE_SCHED_DRAIN_BY_IRQ BIT_ULL(63)

/* A ring decision waiting for its CPU, and when wave.ko read it off the ring. */
struct wave_sched_pending {
	struct wave_decision d;
	u64 drained;		/* ktime_get_ns(), | WAVE_SCHED_DRAIN_BY_IRQ */
};

struct wave_sched_cpu {
	u64 taken_version;	/* of the last prestaged decision taken */
	bool prefetched;	/* the slot's line was flushed and prefetched after the last read */
	u32 head, tail;		/* pending[] positions, tail - head <= WAVE_SCHED_PENDING */
	u64 last_drained;	/* drain stamp of the decision taken last (0: prestaged/none) */
	u64 kick_ns;		/* when the NIC's interrupt last kicked it; 0 once it took */
	struct wave_sched_pending pending[WAVE_SCHED_PENDING];
};

struct wave_sched_counters {
	atomic64_t msgs_sent;
	atomic64_t msgs_dropped_full;
	atomic64_t msgs_rejected;
	atomic64_t credit_reads;
	atomic64_t bad_credits;
	atomic64_t doorbells;
	atomic64_t prestaged_taken;
	atomic64_t ring_taken;
	atomic64_t torn;
	atomic64_t bad_slots;
	atomic64_t garbage_seqs;
	atomic64_t invalid;
	atomic64_t aborted_epoch;
	atomic64_t pending_dropped;
	atomic64_t nic_irqs;
	atomic64_t irq_drained;
	atomic64_t idle_kicks;
	atomic64_t kicks_busy;
	atomic64_t irq_prestaged;
};

struct wave_sched_link {
	struct wave_dev *wd;	/* holds a reference */
	u32 msg_q, dec_q;
	u16 msg_vector;		/* doorbell of the message region */
	u16 dec_vector;		/* the NIC's interrupt: decisions were published */
	u16 policy;
	u32 nr_cpus;
	u64 attach_gen;
	u8 __iomem *msg_base;	/* WC */
	u8 __iomem *dec_base;	/* WT */

	/* Message ring, host producer; every CPU produces, serialised by msg_lock. */
	raw_spinlock_t msg_lock;
	u8 __iomem *msg_slots;
	u32 msg_nr;
	u64 produced;
	u64 credit;		/* consumer position as last read from msg_credit */
	struct wave_ring_credit __iomem *msg_credit;	/* in the decision region */

	/* Decision ring (host consumer), prestaged slots and per-CPU pending decisions. */
	raw_spinlock_t dec_lock;
	u8 __iomem *dec_slots;
	u32 dec_nr, dec_batch;
	u64 dec_pos, dec_credited, last_garbage;
	struct wave_ring_credit __iomem *dec_credit;	/* in the message region */
	struct wave_ring_consumer __iomem *dec_consumer;	/* in the decision region */
	struct wave_prestaged_slot __iomem *prestaged;
	struct wave_sched_cpu *cpus;
	/*
	 * Idle CPUs, as the BPF scheduler's update_idle() reports them (idle_cpu() is not
	 * exported to modules), and the IPIs that wake them for a decision the NIC's interrupt
	 * brought (one per CPU in flight at most: a busy csd means a kick is on its way).
	 */
	unsigned long *idle_map;
	call_single_data_t *kick_csd;

	/* NIC liveness, sampled by a timer: heartbeat word and the agent's epoch. */
	struct timer_list hb_timer;
	unsigned long hb_period;	/* jiffies */
	u64 last_hb;
	atomic64_t hb_change_ns;	/* ktime_get_ns() when the heartbeat last moved */
	atomic_t nic_ready;
	atomic64_t epoch;
	struct wave_ring_consumer __iomem *msg_consumer;	/* its epoch is the agent's */

	/* Doorbells are rung from irq_work: never under the rq lock the kfuncs run under. */
	struct irq_work db_work;
	atomic_t db_pending;

	struct wave_sched_counters c;
};

extern struct wave_sched_link __rcu *wave_sched_cur;

/* wave_sched.c */
int wave_sched_init(void);
void wave_sched_exit(void);
long wave_sched_ioctl(struct wave_dev *wd, unsigned int cmd, void __user *arg);
/* wave_queue.c calls this, wave_dev.lock held, before it unmaps queue @id. */
void wave_sched_queue_retiring(struct wave_dev *wd, u32 id);

/* Under rcu_read_lock() (or with preemption off): the fast paths of the kfuncs. */
int wave_sched_send(struct wave_sched_link *l, u16 type, const void *payload, u16 len);
int wave_sched_take(struct wave_sched_link *l, u32 cpu, struct wave_decision *out);
s64 wave_sched_nic_age_ns(struct wave_sched_link *l);
void wave_sched_set_cpu_idle(struct wave_sched_link *l, u32 cpu, bool idle);
u64 wave_sched_last_drain(struct wave_sched_link *l, u32 cpu);
s64 wave_sched_kick_age_ns(struct wave_sched_link *l, u32 cpu);

/* wave_irq.c calls this for every host interrupt, in any context. */
void wave_sched_nic_irq(struct wave_vector *v);

/* wave_kfuncs.c */
int wave_kfuncs_register(void);

#endif /* WAVE_KMOD_SCHED_H */
