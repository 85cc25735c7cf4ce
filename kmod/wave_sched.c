// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduling link: attach/detach, the host ends of its rings, and NIC liveness.
 *
 * The rings follow uapi/wave_ring.h exactly as libwave's RingProducer/RingConsumer do
 * (libwave/include/wave/ring.h): a slot is payload, then {type, len, flags} in one 64-bit
 * store, a store fence, then seq = position + 1. The consumer accepts a slot only when its
 * seq is the expected one, copies it out before checking it, and returns credits every
 * credit_batch slots and whenever it runs dry. Everything the NIC wrote (sequence words,
 * headers, decisions, credit cells, prestaged slots) is checked here and counted when bad.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#ifdef CONFIG_X86
#include <asm/special_insns.h>
#endif

#include "wave_sched.h"

struct wave_sched_link __rcu *wave_sched_cur;
static DEFINE_MUTEX(wave_sched_mutex);
static u64 wave_sched_attach_gen;

#define WAVE_SCHED_DEFAULT_MSG_SLOTS 4096u
#define WAVE_SCHED_DEFAULT_DEC_SLOTS 1024u
#define WAVE_SCHED_DEFAULT_HB_POLL_US 2000u
#define WAVE_SCHED_POLL_BATCH 32u

/*
 * Lines the NIC writes are read through a write-through mapping: drop the cached copy first
 * so the load crosses the link. Without CLFLUSH (other architectures) the mapping is
 * expected to be uncached for reads.
 */
static inline void wave_sched_flush_line(const void __iomem *p)
{
#ifdef CONFIG_X86
	clflush((void __force *)p);
	mb(); /* the flush completes before the load that follows */
#endif
}

static inline void wave_sched_prefetch_line(const void __iomem *p)
{
#ifdef CONFIG_X86
	clflush((void __force *)p);
	prefetch((const void __force *)p);
#endif
}

/* ---- message ring: host producer ---- */

static void wave_sched_db_workfn(struct irq_work *work)
{
	struct wave_sched_link *l = container_of(work, struct wave_sched_link, db_work);
	u32 pos;

	atomic_set(&l->db_pending, 0);
	pos = (u32)READ_ONCE(l->produced);
	if (!wave_ring_doorbell(l->wd, l->msg_q, pos, l->msg_vector))
		atomic64_inc(&l->c.doorbells);
}

/* Re-reads the credit cell (slow path: the cached credit says the ring is full). */
static void wave_sched_reload_credit(struct wave_sched_link *l)
{
	u64 c;

	atomic64_inc(&l->c.credit_reads);
	wave_sched_flush_line(l->msg_credit);
	c = readq(&l->msg_credit->consumed);
	if (c < l->credit || c > l->produced) {
		atomic64_inc(&l->c.bad_credits);
		return;
	}
	l->credit = c;
}

int wave_sched_send(struct wave_sched_link *l, u16 type, const void *payload, u16 len)
{
	unsigned long flags;
	u8 __iomem *slot;
	u64 pos;

	if (len > WAVE_CACHELINE - sizeof(struct wave_slot_hdr))
		return -EINVAL;
	raw_spin_lock_irqsave(&l->msg_lock, flags);
	if (l->produced - l->credit >= l->msg_nr) {
		wave_sched_reload_credit(l);
		if (l->produced - l->credit >= l->msg_nr) {
			raw_spin_unlock_irqrestore(&l->msg_lock, flags);
			atomic64_inc(&l->c.msgs_dropped_full);
			return -ENOSPC;
		}
	}
	pos = l->produced;
	slot = l->msg_slots + (pos & (l->msg_nr - 1)) * WAVE_CACHELINE;
	memcpy_toio(slot + sizeof(struct wave_slot_hdr), payload, len);
	writeq((u64)type | ((u64)len << 16), slot + 8);
	/* Payload and header before the sequence word that validates them. */
	wmb();
	writeq(pos + 1, slot);
	/* Push the write-combining buffer out now rather than whenever it fills. */
	wmb();
	l->produced = pos + 1;
	raw_spin_unlock_irqrestore(&l->msg_lock, flags);
	atomic64_inc(&l->c.msgs_sent);
	if (!atomic_xchg(&l->db_pending, 1))
		irq_work_queue(&l->db_work);
	return 0;
}

/* An outcome decided by wave.ko itself (malformed or wrong-epoch decisions). */
static void wave_sched_send_outcome(struct wave_sched_link *l, const struct wave_decision *d,
				    u32 outcome)
{
	struct wave_txn_outcome o = {
		.txn_id = d->txn_id,
		.tid = d->tid,
		.cpu = d->cpu,
		.outcome = outcome,
		.agent_epoch = atomic64_read(&l->epoch),
	};

	wave_sched_send(l, WAVE_MSG_TXN_OUTCOME, &o, sizeof(o));
}

/* ---- decisions: prestaged slots, the ring, per-CPU pending ---- */

/* The agent epoch, re-read when a decision claims a newer one than the timer last saw. */
static bool wave_sched_epoch_ok(struct wave_sched_link *l, u64 epoch)
{
	u64 cur = atomic64_read(&l->epoch);

	if (epoch == cur)
		return true;
	if (epoch < cur)
		return false;
	cur = readq(&l->msg_consumer->epoch);
	atomic64_set(&l->epoch, cur);
	return epoch == cur;
}

/* Checks a decision's own fields; dec_lock held. Sends the outcome of a rejected one. */
static bool wave_sched_decision_ok(struct wave_sched_link *l, const struct wave_decision *d)
{
	if (d->cpu >= l->nr_cpus || d->reserved ||
	    (d->flags & ~WAVE_DECISION_F_PRESTAGED)) {
		atomic64_inc(&l->c.invalid);
		wave_sched_send_outcome(l, d, WAVE_TXN_INVALID);
		return false;
	}
	if (!wave_sched_epoch_ok(l, d->agent_epoch)) {
		atomic64_inc(&l->c.aborted_epoch);
		wave_sched_send_outcome(l, d, WAVE_TXN_ABORTED);
		return false;
	}
	return true;
}

static void wave_sched_send_dec_credit(struct wave_sched_link *l)
{
	wmb(); /* slots read before the producer may overwrite them */
	writeq(l->dec_pos, &l->dec_credit->consumed);
	l->dec_credited = l->dec_pos;
}

/* Moves valid ring decisions to their CPU's pending list, stamped with @drained; dec_lock held. */
static void wave_sched_poll_ring(struct wave_sched_link *l, u64 drained)
{
	u64 start = l->dec_pos;
	struct wave_decision d;
	struct wave_sched_cpu *pc;
	u8 __iomem *slot;
	u64 seq, meta;
	u32 n;

	for (n = 0; n < WAVE_SCHED_POLL_BATCH; n++) {
		slot = l->dec_slots + (l->dec_pos & (l->dec_nr - 1)) * WAVE_CACHELINE;
		wave_sched_flush_line(slot);
		seq = readq(slot);
		if (seq != l->dec_pos + 1) {
			/* Empty (never written, or last lap) or garbage: count garbage once. */
			if (seq && seq != l->dec_pos + 1 - l->dec_nr &&
			    l->last_garbage != l->dec_pos + 1) {
				atomic64_inc(&l->c.garbage_seqs);
				l->last_garbage = l->dec_pos + 1;
			}
			break;
		}
		rmb(); /* the sequence word before the slot it validates */
		meta = readq(slot + 8);
		memcpy_fromio(&d, slot + sizeof(struct wave_slot_hdr), sizeof(d));
		l->dec_pos++;
		if ((u16)meta != WAVE_MSG_DECISION || (u16)(meta >> 16) != sizeof(d) ||
		    (meta >> 32)) {
			atomic64_inc(&l->c.bad_slots);
			continue;
		}
		if (!wave_sched_decision_ok(l, &d))
			continue;
		pc = &l->cpus[d.cpu];
		if (pc->tail - pc->head >= WAVE_SCHED_PENDING) {
			atomic64_inc(&l->c.pending_dropped);
			wave_sched_send_outcome(l, &d, WAVE_TXN_ABORTED);
			continue;
		}
		pc->pending[pc->tail % WAVE_SCHED_PENDING].d = d;
		pc->pending[pc->tail % WAVE_SCHED_PENDING].drained = drained;
		pc->tail++;
	}
	if (l->dec_pos != start) {
		wmb(); /* restart point after the reads it covers */
		writeq(l->dec_pos, &l->dec_consumer->committed);
		if (l->dec_pos - l->dec_credited >= l->dec_batch)
			wave_sched_send_dec_credit(l);
	} else if (l->dec_pos != l->dec_credited) {
		wave_sched_send_dec_credit(l); /* ran dry: return everything read */
	}
}

/* 1: a prestaged decision in @out; 0: none; dec_lock held. */
static int wave_sched_take_prestaged(struct wave_sched_link *l, u32 cpu,
				     struct wave_decision *out)
{
	struct wave_sched_cpu *pc = &l->cpus[cpu];
	struct wave_prestaged_slot __iomem *line = &l->prestaged[cpu];
	struct wave_prestaged_slot s;
	u64 words[7];

	/*
	 * A line prefetched after the last read is used as is (Wave's prefetch: the read has
	 * crossed the link while the CPU did other work); otherwise read it now.
	 */
	if (!pc->prefetched)
		wave_sched_flush_line(line);
	memcpy_fromio(&s, line, sizeof(s));
	rmb(); /* the copy is complete before the line is flushed and fetched again */
	wave_sched_prefetch_line(line);
	pc->prefetched = true;
	if (!s.version || s.version <= pc->taken_version)
		return 0;
	memcpy(words, &s, sizeof(words));
	if (s.csum != wave_prestage_csum(words)) {
		atomic64_inc(&l->c.torn);
		pc->prefetched = false; /* read it again, fresh, next time */
		return 0;
	}
	pc->taken_version = s.version;
	memcpy(out, s.body, sizeof(*out));
	if (out->cpu != cpu || s.reserved) {
		atomic64_inc(&l->c.invalid);
		wave_sched_send_outcome(l, out, WAVE_TXN_INVALID);
		return 0;
	}
	if (!wave_sched_decision_ok(l, out))
		return 0;
	out->flags |= WAVE_DECISION_F_PRESTAGED;
	atomic64_inc(&l->c.prestaged_taken);
	return 1;
}

int wave_sched_take(struct wave_sched_link *l, u32 cpu, struct wave_decision *out)
{
	struct wave_sched_cpu *pc;
	unsigned long flags;
	int ret = 0;

	if (cpu >= l->nr_cpus)
		return -EINVAL;
	pc = &l->cpus[cpu];
	raw_spin_lock_irqsave(&l->dec_lock, flags);
	if (pc->tail == pc->head)
		ret = wave_sched_take_prestaged(l, cpu, out);
	/* The CPU itself takes: any kick it was sent has reached it. */
	if (cpu == raw_smp_processor_id())
		pc->kick_ns = 0;
	if (ret) {
		pc->last_drained = 0;
	} else {
		if (pc->tail == pc->head)
			wave_sched_poll_ring(l, ktime_get_ns());
		if (pc->tail != pc->head) {
			struct wave_sched_pending *p;

			p = &pc->pending[pc->head++ % WAVE_SCHED_PENDING];
			*out = p->d;
			pc->last_drained = p->drained;
			atomic64_inc(&l->c.ring_taken);
			ret = 1;
		}
	}
	raw_spin_unlock_irqrestore(&l->dec_lock, flags);
	return ret;
}

u64 wave_sched_last_drain(struct wave_sched_link *l, u32 cpu)
{
	return cpu < l->nr_cpus ? READ_ONCE(l->cpus[cpu].last_drained) : 0;
}

void wave_sched_set_cpu_idle(struct wave_sched_link *l, u32 cpu, bool idle)
{
	if (cpu >= l->nr_cpus)
		return;
	if (idle)
		set_bit(cpu, l->idle_map);
	else
		clear_bit(cpu, l->idle_map);
}

/* ---- the NIC's interrupt: idle CPUs are woken for their decisions ---- */

/*
 * On the CPU the IPI reached: an idle CPU leaves its idle loop and schedules, and sched_ext
 * runs the BPF scheduler's dispatch() there, which takes the decision. A busy CPU takes it at
 * its next dispatch anyway. resched_cpu() is not exported; setting the flag on the local idle
 * task from interrupt context is what it would do here.
 */
static void wave_sched_kick_fn(void *info)
{
	if (is_idle_task(current)) {
		set_tsk_need_resched(current);
		set_preempt_need_resched();
	}
}

/* IPIs idle @cpu so that it schedules and takes its decision; dec_lock held. */
static void wave_sched_kick(struct wave_sched_link *l, u32 cpu)
{
	if (!cpu_online(cpu))
		return;
	/* Async: never waits, so it is safe here with interrupts off. */
	if (!smp_call_function_single_async(cpu, &l->kick_csd[cpu])) {
		atomic64_inc(&l->c.idle_kicks);
		WRITE_ONCE(l->cpus[cpu].kick_ns, ktime_get_ns());
	} else {
		atomic64_inc(&l->c.kicks_busy);
	}
}

s64 wave_sched_kick_age_ns(struct wave_sched_link *l, u32 cpu)
{
	u64 at, now = ktime_get_ns();

	if (cpu >= l->nr_cpus)
		return S64_MAX;
	at = READ_ONCE(l->cpus[cpu].kick_ns);
	if (!at)
		return S64_MAX;
	return at > now ? 0 : (s64)(now - at);
}

void wave_sched_nic_irq(struct wave_vector *v)
{
	struct wave_sched_link *l;
	unsigned long flags;
	u64 start;
	u32 i;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	if (!l || l->wd != v->wd || l->dec_vector != v->index)
		goto out;
	atomic64_inc(&l->c.nic_irqs);
	raw_spin_lock_irqsave(&l->dec_lock, flags);
	start = l->dec_pos;
	wave_sched_poll_ring(l, ktime_get_ns() | WAVE_SCHED_DRAIN_BY_IRQ);
	atomic64_add(l->dec_pos - start, &l->c.irq_drained);
	/*
	 * Every idle CPU with a decision waiting is kicked, whoever drained it (a take for
	 * another CPU drains the whole ring). An idle CPU may also have been given a prestaged
	 * decision: only idle CPUs' lines are read (one uncached read each), and only those of
	 * CPUs with nothing pending.
	 */
	for_each_set_bit(i, l->idle_map, l->nr_cpus) {
		struct wave_sched_cpu *pc = &l->cpus[i];
		struct wave_prestaged_slot __iomem *line = &l->prestaged[i];
		u64 version;

		if (pc->tail != pc->head) {
			wave_sched_kick(l, i);
			continue;
		}
		wave_sched_flush_line(line);
		version = readq(&line->version);
		if (version && version > pc->taken_version) {
			atomic64_inc(&l->c.irq_prestaged);
			wave_sched_kick(l, i);
		}
	}
	raw_spin_unlock_irqrestore(&l->dec_lock, flags);
out:
	rcu_read_unlock();
}

/* ---- NIC liveness ---- */

s64 wave_sched_nic_age_ns(struct wave_sched_link *l)
{
	u64 now = ktime_get_ns(), hb;
	s64 age;

	if (!atomic_read(&l->nic_ready))
		return S64_MAX;
	/* The timer may have stamped a time later than our clock read on another CPU. */
	age = (s64)(now - atomic64_read(&l->hb_change_ns));
	if (age < 0)
		return 0;
	/*
	 * An old sample may only mean the timer has not run (a starved or descheduled CPU, a
	 * virtual one under emulation): look at the heartbeat itself before calling the NIC
	 * dead. One uncached read, only on this slow path.
	 */
	if ((u64)age > 4 * jiffies_to_nsecs(l->hb_period) && !READ_ONCE(l->wd->dead)) {
		hb = readq(&l->wd->ctrl->heartbeat);
		if (hb != READ_ONCE(l->last_hb)) {
			WRITE_ONCE(l->last_hb, hb);
			atomic64_set(&l->hb_change_ns, now);
			return 0;
		}
	}
	return age;
}

static void wave_sched_hb_timerfn(struct timer_list *t)
{
	struct wave_sched_link *l = timer_container_of(l, t, hb_timer);
	struct wave_dev *wd = l->wd;
	u64 hb;

	if (READ_ONCE(wd->dead))
		return;
	hb = readq(&wd->ctrl->heartbeat);
	if (hb != READ_ONCE(l->last_hb)) {
		WRITE_ONCE(l->last_hb, hb);
		atomic64_set(&l->hb_change_ns, ktime_get_ns());
	}
	atomic_set(&l->nic_ready, readl(&wd->ctrl->nic_state) == WAVE_NIC_STATE_READY);
	atomic64_set(&l->epoch, readq(&l->msg_consumer->epoch));
	mod_timer(&l->hb_timer, jiffies + l->hb_period);
}

/* ---- attach / detach ---- */

/* The kernel mapping of a live queue; wd->lock held (see wave_queue_kaddr()). */
static void __iomem *wave_sched_queue_map(struct wave_dev *wd, u32 id, u16 kind, u16 dir)
{
	struct wave_queue *q;

	lockdep_assert_held(&wd->lock);
	if (id >= WAVE_MAX_QUEUES || !wd->queues[id].live)
		return IOMEM_ERR_PTR(-ENOENT);
	q = &wd->queues[id];
	if (q->kind != kind || q->dir != dir || q->size < 2 * WAVE_PAGE_SIZE)
		return IOMEM_ERR_PTR(-EINVAL);
	if (!q->kaddr)
		q->kaddr = wd->ops->map_queue(wd, q);
	return q->kaddr ? q->kaddr : IOMEM_ERR_PTR(-ENOMEM);
}

static u32 wave_sched_fit_slots(u64 bytes, u32 want, u32 dflt)
{
	u64 fit = bytes / WAVE_CACHELINE;

	if (want)
		return want <= fit ? want : 0;
	if (fit < 2)
		return 0;
	return min_t(u64, dflt, rounddown_pow_of_two(fit));
}

static void wave_sched_write_desc(struct wave_ring_desc __iomem *desc, u32 kind, u32 nr,
				  u64 slots_off, u32 credit_q, u32 flags, u32 pre_nr, u64 pre_off)
{
	writew(WAVE_RING_VERSION, &desc->version);
	writew(kind, &desc->kind);
	writel(WAVE_CACHELINE, &desc->slot_size);
	writel(nr, &desc->nr_slots);
	writeq(slots_off, &desc->slots_off);
	writel(nr >= 4 ? nr / 4 : 1, &desc->credit_batch);
	writel(flags, &desc->flags);
	writel(credit_q, &desc->credit_queue);
	writel(0, &desc->credit_index);
	writel(pre_nr, &desc->prestaged_nr);
	writeq(pre_off, &desc->prestaged_off);
	/* Everything but the magic, then the magic: the NIC never sees half an entry. */
	wmb();
	writel(WAVE_RING_MAGIC, &desc->magic);
	wmb(); /* out of the write-combining buffer now */
}

static void wave_sched_write_info(struct wave_sched_link *l, u64 slice_ns)
{
	struct wave_sched_info __iomem *info = (void __iomem *)(l->msg_base + WAVE_SCHED_INFO_OFF);

	writew(WAVE_SCHED_INFO_VERSION, &info->version);
	writew(l->policy, &info->policy);
	writel(l->nr_cpus, &info->nr_cpus);
	writel(0, &info->flags);
	writeq(slice_ns, &info->slice_ns);
	writeq(l->attach_gen, &info->attach_gen);
	wmb(); /* the body before the magic that validates it */
	writel(WAVE_SCHED_INFO_MAGIC, &info->magic);
}

static void wave_sched_free(struct wave_sched_link *l)
{
	kfree(l->kick_csd);
	bitmap_free(l->idle_map);
	kfree(l->cpus);
	kfree(l);
}

/*
 * The VM policy's table (WAVE_SCHED_POLICY_VM only): copied from user space and checked
 * before anything is touched, written into the message region before the info's magic.
 */
static struct wave_sched_vm_cfg *wave_sched_get_vm_cfg(const struct wave_sched_attach *a,
						       u32 nr_cpus)
{
	struct wave_sched_vm_cfg *c;
	const char *bad;

	if (a->policy != WAVE_SCHED_POLICY_VM)
		return a->vm_cfg ? ERR_PTR(-EINVAL) : NULL;
	if (!a->vm_cfg)
		return ERR_PTR(-EINVAL);
	c = memdup_user(u64_to_user_ptr(a->vm_cfg), sizeof(*c));
	if (IS_ERR(c))
		return c;
	bad = wave_sched_vm_cfg_check(c, nr_cpus);
	if (bad) {
		pr_info_ratelimited("wave: VM policy table refused: %s\n", bad);
		kfree(c);
		return ERR_PTR(-EINVAL);
	}
	return c;
}

static int wave_sched_attach(struct wave_dev *wd, struct wave_sched_attach *a)
{
	u64 msg_size, dec_size, pre_off, slice_ns;
	struct wave_sched_vm_cfg *vm_cfg;
	struct wave_sched_link *l;
	void __iomem *m, *d;
	u32 nr_cpus = nr_cpu_ids, msg_nr, dec_nr, poll_us, i;
	int ret;

	if (a->flags || a->reserved0 || a->reserved1 || a->policy > WAVE_SCHED_POLICY_MAX ||
	    a->msg_queue == a->dec_queue || a->hb_poll_us > 1000000 ||
	    (a->msg_slots && !is_power_of_2(a->msg_slots)) ||
	    (a->dec_slots && !is_power_of_2(a->dec_slots)) ||
	    a->msg_slots > WAVE_RING_MAX_SLOTS || a->dec_slots > WAVE_RING_MAX_SLOTS ||
	    a->slice_ns > NSEC_PER_SEC)
		return -EINVAL;
	slice_ns = a->slice_ns ? a->slice_ns : WAVE_SCHED_DEFAULT_SLICE_NS;
	poll_us = a->hb_poll_us ? a->hb_poll_us : WAVE_SCHED_DEFAULT_HB_POLL_US;
	vm_cfg = wave_sched_get_vm_cfg(a, nr_cpus);
	if (IS_ERR(vm_cfg))
		return PTR_ERR(vm_cfg);

	l = kzalloc_obj(*l);
	if (!l) {
		kfree(vm_cfg);
		return -ENOMEM;
	}
	l->cpus = kcalloc(nr_cpus, sizeof(*l->cpus), GFP_KERNEL);
	l->idle_map = bitmap_zalloc(nr_cpus, GFP_KERNEL);
	l->kick_csd = kcalloc(nr_cpus, sizeof(*l->kick_csd), GFP_KERNEL);
	if (!l->cpus || !l->idle_map || !l->kick_csd) {
		wave_sched_free(l);
		kfree(vm_cfg);
		return -ENOMEM;
	}
	for (i = 0; i < nr_cpus; i++)
		INIT_CSD(&l->kick_csd[i], wave_sched_kick_fn, NULL);

	mutex_lock(&wd->lock);
	mutex_lock(&wave_sched_mutex);
	ret = -EBUSY;
	if (rcu_access_pointer(wave_sched_cur))
		goto out;
	ret = -ENODEV;
	if (wd->dead || wave_dev_nic_state(wd) != WAVE_NIC_STATE_READY)
		goto out;
	m = wave_sched_queue_map(wd, a->msg_queue, WAVE_QKIND_MESSAGE, WAVE_DIR_HOST_TO_NIC);
	d = wave_sched_queue_map(wd, a->dec_queue, WAVE_QKIND_DECISION, WAVE_DIR_NIC_TO_HOST);
	ret = IS_ERR(m) ? PTR_ERR(m) : IS_ERR(d) ? PTR_ERR(d) : 0;
	if (ret)
		goto out;
	msg_size = wd->queues[a->msg_queue].size;
	dec_size = wd->queues[a->dec_queue].size;

	/* Layout of libwave's HostLink: slots after the header, prestaged after the ring. */
	ret = -EINVAL;
	msg_nr = wave_sched_fit_slots(msg_size - WAVE_REGION_HDR_SIZE, a->msg_slots,
				      WAVE_SCHED_DEFAULT_MSG_SLOTS);
	if ((u64)nr_cpus * WAVE_CACHELINE + 2 * WAVE_CACHELINE > dec_size - WAVE_REGION_HDR_SIZE)
		goto out;
	dec_nr = wave_sched_fit_slots(dec_size - WAVE_REGION_HDR_SIZE -
				      (u64)nr_cpus * WAVE_CACHELINE,
				      a->dec_slots, WAVE_SCHED_DEFAULT_DEC_SLOTS);
	if (!msg_nr || !dec_nr)
		goto out;
	pre_off = WAVE_REGION_HDR_SIZE + (u64)dec_nr * WAVE_CACHELINE;

	l->wd = wd;
	l->msg_q = a->msg_queue;
	l->dec_q = a->dec_queue;
	l->msg_vector = wd->queues[a->msg_queue].vector;
	l->dec_vector = wd->queues[a->dec_queue].vector;
	l->policy = a->policy;
	l->nr_cpus = nr_cpus;
	l->attach_gen = ++wave_sched_attach_gen;
	l->msg_base = m;
	l->dec_base = d;
	raw_spin_lock_init(&l->msg_lock);
	raw_spin_lock_init(&l->dec_lock);
	l->msg_slots = l->msg_base + WAVE_REGION_HDR_SIZE;
	l->msg_nr = msg_nr;
	l->msg_credit = &((struct wave_region_hdr __iomem *)l->dec_base)->credits[0];
	l->msg_consumer = &((struct wave_region_hdr __iomem *)l->msg_base)->consumers[0];
	l->dec_slots = l->dec_base + WAVE_REGION_HDR_SIZE;
	l->dec_nr = dec_nr;
	l->dec_batch = dec_nr >= 4 ? dec_nr / 4 : 1;
	l->dec_credit = &((struct wave_region_hdr __iomem *)l->msg_base)->credits[0];
	l->dec_consumer = &((struct wave_region_hdr __iomem *)l->dec_base)->consumers[0];
	l->prestaged = (struct wave_prestaged_slot __iomem *)(l->dec_base + pre_off);
	init_irq_work(&l->db_work, wave_sched_db_workfn);

	/* Nothing a previous user left in the regions may look valid. */
	memset_io(l->msg_base, 0, msg_size);
	memset_io(l->dec_base, 0, dec_size);
	if (vm_cfg)
		memcpy_toio(l->msg_base + WAVE_SCHED_VM_CFG_OFF, vm_cfg, sizeof(*vm_cfg));
	wave_sched_write_info(l, slice_ns);
	wave_sched_write_desc((void __iomem *)l->dec_base, WAVE_RING_KIND_DECISION, dec_nr,
			      WAVE_REGION_HDR_SIZE, l->msg_q, WAVE_RING_F_PRESTAGED, nr_cpus,
			      pre_off);
	wave_sched_write_desc((void __iomem *)l->msg_base, WAVE_RING_KIND_MESSAGE, msg_nr,
			      WAVE_REGION_HDR_SIZE, l->dec_q, 0, 0, 0);

	l->hb_period = max(1ul, usecs_to_jiffies(poll_us));
	l->last_hb = readq(&wd->ctrl->heartbeat);
	atomic64_set(&l->hb_change_ns, ktime_get_ns());
	atomic_set(&l->nic_ready, 1);
	timer_setup(&l->hb_timer, wave_sched_hb_timerfn, 0);
	wave_dev_get(wd);
	rcu_assign_pointer(wave_sched_cur, l);
	mod_timer(&l->hb_timer, jiffies + l->hb_period);
	/* Tell the NIC the link is ready, as after any change of the queue table. */
	wave_notify_nic(wd, WAVE_ADMIN_VECTOR);

	a->msg_slots = msg_nr;
	a->dec_slots = dec_nr;
	a->nr_cpus = nr_cpus;
	a->slice_ns = slice_ns;
	a->hb_poll_us = poll_us;
	pr_info("%s: scheduling link attached: queues %u/%u, %u+%u slots, %u CPUs, policy %u\n",
		wd->name, l->msg_q, l->dec_q, msg_nr, dec_nr, nr_cpus, l->policy);
	l = NULL;
	ret = 0;
out:
	mutex_unlock(&wave_sched_mutex);
	mutex_unlock(&wd->lock);
	kfree(vm_cfg);
	if (l)
		wave_sched_free(l);
	return ret;
}

/*
 * Waits for the kicks still on their way to other CPUs: an async csd is released before its
 * function runs there, with interrupts off, so after the lock bits clear one more grace period
 * covers the functions (and this module's text) too.
 */
static void wave_sched_wait_kicks(struct wave_sched_link *l)
{
	u32 i;

	for (i = 0; i < l->nr_cpus; i++) {
		/* Acquire: pairs with the release that unlocks the csd on the CPU it reached. */
		while (smp_load_acquire(&l->kick_csd[i].node.u_flags) & CSD_FLAG_LOCK)
			cpu_relax();
	}
	synchronize_rcu();
}

/* wave_sched_mutex held. The caller drops nothing else: the link is gone on return. */
static void wave_sched_detach_locked(void)
{
	struct wave_sched_link *l;

	l = rcu_dereference_protected(wave_sched_cur, lockdep_is_held(&wave_sched_mutex));
	if (!l)
		return;
	RCU_INIT_POINTER(wave_sched_cur, NULL);
	/* Every kfunc that could see the link has returned after this. */
	synchronize_rcu();
	timer_delete_sync(&l->hb_timer);
	irq_work_sync(&l->db_work);
	if (!READ_ONCE(l->wd->dead))
		writel(0, l->msg_base + WAVE_SCHED_INFO_OFF);
	wave_sched_wait_kicks(l);
	pr_info("%s: scheduling link detached\n", l->wd->name);
	wave_dev_put(l->wd);
	wave_sched_free(l);
}

void wave_sched_queue_retiring(struct wave_dev *wd, u32 id)
{
	struct wave_sched_link *l;

	lockdep_assert_held(&wd->lock);
	mutex_lock(&wave_sched_mutex);
	l = rcu_dereference_protected(wave_sched_cur, lockdep_is_held(&wave_sched_mutex));
	if (l && l->wd == wd && (l->msg_q == id || l->dec_q == id))
		wave_sched_detach_locked();
	mutex_unlock(&wave_sched_mutex);
}

static void wave_sched_fill_stats(struct wave_sched_stats *s)
{
	struct wave_sched_link *l;
	s64 age;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	if (l) {
		s->attached = 1;
		s->policy = l->policy;
		s->nr_cpus = l->nr_cpus;
		s->msg_queue = l->msg_q;
		s->dec_queue = l->dec_q;
		s->agent_epoch = atomic64_read(&l->epoch);
		age = wave_sched_nic_age_ns(l);
		s->hb_age_ns = age < 0 ? 0 : age;
		s->msgs_sent = atomic64_read(&l->c.msgs_sent);
		s->msgs_dropped_full = atomic64_read(&l->c.msgs_dropped_full);
		s->msgs_rejected = atomic64_read(&l->c.msgs_rejected);
		s->credit_reads = atomic64_read(&l->c.credit_reads);
		s->bad_credits = atomic64_read(&l->c.bad_credits);
		s->doorbells = atomic64_read(&l->c.doorbells);
		s->prestaged_taken = atomic64_read(&l->c.prestaged_taken);
		s->ring_taken = atomic64_read(&l->c.ring_taken);
		s->torn = atomic64_read(&l->c.torn);
		s->bad_slots = atomic64_read(&l->c.bad_slots);
		s->garbage_seqs = atomic64_read(&l->c.garbage_seqs);
		s->invalid = atomic64_read(&l->c.invalid);
		s->aborted_epoch = atomic64_read(&l->c.aborted_epoch);
		s->pending_dropped = atomic64_read(&l->c.pending_dropped);
		s->attach_gen = l->attach_gen;
		s->nic_irqs = atomic64_read(&l->c.nic_irqs);
		s->irq_drained = atomic64_read(&l->c.irq_drained);
		s->idle_kicks = atomic64_read(&l->c.idle_kicks);
		s->kicks_busy = atomic64_read(&l->c.kicks_busy);
		s->irq_prestaged = atomic64_read(&l->c.irq_prestaged);
	}
	rcu_read_unlock();
}

long wave_sched_ioctl(struct wave_dev *wd, unsigned int cmd, void __user *arg)
{
	struct wave_sched_attach a;
	struct wave_sched_stats s;
	u32 argsz;
	int ret;

	switch (cmd) {
	case WAVE_IOC_SCHED_ATTACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		ret = wave_copy_versioned_arg(&a, sizeof(a), WAVE_SCHED_ATTACH_SIZE_V1, arg);
		if (ret)
			return ret;
		ret = wave_sched_attach(wd, &a);
		/* Written back: the fields an old caller knows, not beyond its argsz. */
		if (!ret && copy_to_user(arg, &a, min_t(u32, a.argsz, sizeof(a))))
			ret = -EFAULT;
		return ret;
	case WAVE_IOC_SCHED_DETACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		mutex_lock(&wave_sched_mutex);
		ret = -ENOENT;
		if (rcu_access_pointer(wave_sched_cur) &&
		    rcu_access_pointer(wave_sched_cur)->wd == wd) {
			wave_sched_detach_locked();
			ret = 0;
		}
		mutex_unlock(&wave_sched_mutex);
		return ret;
	case WAVE_IOC_SCHED_STATS:
		/* A caller built before the interrupt counters gets the fields it knows. */
		ret = wave_copy_versioned_arg(&s, sizeof(s), WAVE_SCHED_STATS_SIZE_V1, arg);
		if (ret)
			return ret;
		argsz = min_t(u32, s.argsz, sizeof(s));
		memset(&s, 0, sizeof(s));
		s.argsz = argsz;
		wave_sched_fill_stats(&s);
		return copy_to_user(arg, &s, argsz) ? -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

int wave_sched_init(void)
{
	return wave_kfuncs_register();
}

void wave_sched_exit(void)
{
	mutex_lock(&wave_sched_mutex);
	wave_sched_detach_locked();
	mutex_unlock(&wave_sched_mutex);
}
