// SPDX-License-Identifier: GPL-2.0
/*
 * The memory link's kernel batch path (uapi/wave_mem_kpath.h): attach/detach, the kfuncs the
 * damon_aggregated BPF program calls, and the host producer end of the link's message ring.
 *
 * A batch is built in a kernel staging buffer (one region per bpf_wave_mem_add), encoded and
 * checksummed there by wave_mem_batch_finish() when it closes, then copied once into its slot
 * of the DMA buffer through wave.ko's write-combining mapping of it. The message ring follows
 * uapi/wave_ring.h as the scheduling link's does (wave_sched_send): payload, {type, len, flags}
 * in one 64-bit store, a store fence, then seq = position + 1; the credit cell, written by the
 * NIC, is read only when the cached credit says the ring is full, and checked.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/capability.h>
#include <linux/hardirq.h>
#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#ifdef CONFIG_X86
#include <asm/special_insns.h>
#endif

#include "wave_mem.h"
#include "wave_mem_kpath.h"
#include "wave_ring.h"

#define WAVE_MEM_SLOT_BYTES ((u64)WAVE_MEM_BATCH_MAX)

struct wave_mem_kcounters {
	u64 batches, regions, bytes;
	u64 dropped_no_slot, dropped_ring_full, empty_closes, cut;
	u64 bad_regions, overflow, clamped, released, bad_releases;
	u64 credit_reads, bad_credits;
	u64 maps_updates, bad_maps, clip_dropped, clip_trimmed, clip_pieces, clip_bytes;
	u64 unclipped;
};

/* One target's mapped ranges (WAVE_IOC_MEM_MAPS); the array is replaced, never edited. */
struct wave_mem_snap {
	u32 target;		/* 0: unused */
	u32 nr;
	struct wave_mem_krange *r;
};

struct wave_mem_link {
	struct wave_dev *wd;	/* holds a reference */
	struct file *owner;	/* the file that attached it; its release detaches */
	u32 msg_q, dec_q, dma_q;
	u16 db_vector;		/* the DMA buffer's doorbell vector */
	u16 max_accesses;
	u32 aggr_us;
	u64 attach_gen;
	u8 __iomem *dma_base;	/* WC */

	/* Everything below is guarded by lock (kfuncs on any CPU, the ioctls). */
	raw_spinlock_t lock;
	u8 __iomem *msg_slots;	/* ring 0 of the message region, 64-byte slots */
	u32 msg_nr;
	u64 produced;
	u64 credit;
	struct wave_ring_credit __iomem *msg_credit;	/* in the decision region */

	u8 *stage;		/* WAVE_MEM_BATCH_MAX bytes: header, then the regions */
	u32 count;		/* regions in stage */
	u32 last_target;
	u64 last_end;
	u64 next_seq;
	struct wave_mem_kslot slots[WAVE_MEM_BATCH_SLOTS];
	struct wave_mem_snap snaps[WAVE_MEM_KMAPS_MAX_TARGETS];
	struct wave_mem_snap paged[WAVE_MEM_KMAPS_MAX_TARGETS];	/* WAVE_MEM_KMAPS_F_PAGED_OUT */
	struct wave_mem_kcounters c;

	/* The doorbell is rung from irq_work, never from the tracepoint's context. */
	struct irq_work db_work;
	atomic_t db_pending;
	atomic64_t doorbells;
};

static struct wave_mem_link __rcu *wave_mem_cur;
static DEFINE_MUTEX(wave_mem_mutex);

/* Drops the cached copy of a line the NIC writes, so the load crosses the link. */
static inline void wave_mem_flush_line(const void __iomem *p)
{
#ifdef CONFIG_X86
	clflush((void __force *)p);
	mb(); /* the flush completes before the load that follows */
#endif
}

static void wave_mem_db_workfn(struct irq_work *work)
{
	struct wave_mem_link *l = container_of(work, struct wave_mem_link, db_work);

	atomic_set(&l->db_pending, 0);
	if (!wave_ring_doorbell(l->wd, l->dma_q, 0, l->db_vector))
		atomic64_inc(&l->doorbells);
}

/* ---- the message ring (host producer), lock held ---- */

static bool wave_mem_ring_room(struct wave_mem_link *l)
{
	u64 c;

	if (l->produced - l->credit < l->msg_nr)
		return true;
	l->c.credit_reads++;
	wave_mem_flush_line(l->msg_credit);
	c = readq(&l->msg_credit->consumed);
	if (c < l->credit || c > l->produced) {
		l->c.bad_credits++;
		return false;
	}
	l->credit = c;
	return l->produced - l->credit < l->msg_nr;
}

static void wave_mem_ring_send(struct wave_mem_link *l, u16 type, const void *payload, u16 len)
{
	u64 pos = l->produced;
	u8 __iomem *slot = l->msg_slots + (pos & (l->msg_nr - 1)) * WAVE_CACHELINE;

	memcpy_toio(slot + sizeof(struct wave_slot_hdr), payload, len);
	writeq((u64)type | ((u64)len << 16), slot + 8);
	/* Payload and header before the sequence word that validates them. */
	wmb();
	writeq(pos + 1, slot);
	/* Out of the write-combining buffer now. */
	wmb();
	l->produced = pos + 1;
}

/* ---- batches, lock held ---- */

/* 1: shipped; 0: nothing to ship; -ENOSPC: dropped (slot in flight or ring full). */
static int wave_mem_close_locked(struct wave_mem_link *l)
{
	u32 slot = l->next_seq % WAVE_MEM_BATCH_SLOTS;
	struct wave_mem_kslot *s = &l->slots[slot];
	struct wave_mem_batch_ready r;
	u32 count = l->count;
	u64 now, len;

	l->count = 0;
	l->last_target = 0;
	l->last_end = 0;
	if (!count) {
		l->c.empty_closes++;
		return 0;
	}
	/* Never overwrite a slot the NIC may still be reading, nor touch a dead device. */
	if (s->state != WAVE_MEM_KSLOT_FREE || READ_ONCE(l->wd->dead)) {
		l->c.dropped_no_slot++;
		return -ENOSPC;
	}
	if (!wave_mem_ring_room(l)) {
		l->c.dropped_ring_full++;
		return -ENOSPC;
	}
	now = ktime_get_ns();
	len = wave_mem_batch_finish(l->stage, count, l->next_seq, now, l->aggr_us,
				    l->max_accesses);
	memcpy_toio(l->dma_base + slot * WAVE_MEM_SLOT_BYTES, l->stage, len);
	/* The batch is in the slot before the notice that names it. */
	wmb();
	/* Published before the notice: a decision about it finds it in WAVE_IOC_MEM_STATS. */
	s->seq = l->next_seq;
	s->collected_ns = now;
	s->len = len;
	s->state = WAVE_MEM_KSLOT_BUSY;
	r.seq = cpu_to_le64(l->next_seq);
	r.slot = cpu_to_le32(slot);
	r.len = cpu_to_le32(len);
	wave_mem_ring_send(l, WAVE_MSG_MEM_BATCH, &r, sizeof(r));
	l->next_seq++;
	l->c.batches++;
	l->c.regions += count;
	l->c.bytes += len;
	return 1;
}

/* Appends one piece to the batch being built; lock held, region already checked. */
static int wave_mem_put_locked(struct wave_mem_link *l, const struct wave_mem_snap *paged,
			       u32 target, u64 start, u64 end, u32 nr_accesses, u32 age)
{
	u16 flags = 0;

	struct wave_mem_region *w;

	if (l->count >= WAVE_MEM_MAX_REGIONS) {
		l->c.overflow++;
		return -E2BIG;
	}
	w = (struct wave_mem_region *)(l->stage + sizeof(struct wave_mem_batch_hdr)) + l->count;
	if (paged && wave_mem_ranges_overlap(paged->r, paged->nr, start, end))
		flags = WAVE_MEM_REGION_F_PAGED_OUT;
	wave_mem_region_fill(w, start, end, target, age, nr_accesses, flags);
	l->count++;
	l->last_target = target;
	l->last_end = end;
	return 0;
}

static const struct wave_mem_snap *wave_mem_snap_of(const struct wave_mem_snap *snaps,
						    u32 target)
{
	u32 i;

	for (i = 0; i < WAVE_MEM_KMAPS_MAX_TARGETS; i++)
		if (snaps[i].target == target)
			return &snaps[i];
	return NULL;
}

static int wave_mem_add_locked(struct wave_mem_link *l, u32 target, u64 start, u64 end,
			       u32 nr_accesses, u32 age)
{
	const struct wave_mem_snap *snap, *paged;
	u64 kept = 0, ps, pe;
	u32 i, pieces = 0;
	int ret = 0;

	if (!target || end <= start || !IS_ALIGNED(start, WAVE_MEM_PAGE_SIZE) ||
	    !IS_ALIGNED(end, WAVE_MEM_PAGE_SIZE)) {
		l->c.bad_regions++;
		return -EINVAL;
	}
	/* Out of (target, start) order: the aggregation it belonged to is over. */
	if (l->count && (target < l->last_target ||
			 (target == l->last_target && start < l->last_end))) {
		l->c.cut++;
		wave_mem_close_locked(l);
	}
	if (nr_accesses > l->max_accesses) {
		l->c.clamped++;
		nr_accesses = l->max_accesses;
	}
	paged = wave_mem_snap_of(l->paged, target);
	snap = wave_mem_snap_of(l->snaps, target);
	if (!snap) {
		l->c.unclipped++;
		return wave_mem_put_locked(l, paged, target, start, end, nr_accesses, age);
	}
	/* At most one piece per range, and the batch bounds the pieces: bounded work. */
	for (i = wave_mem_clip_first(snap->r, snap->nr, start);
	     i < snap->nr && snap->r[i].start < end; i++) {
		ps = max(start, snap->r[i].start);
		pe = min(end, snap->r[i].end);
		ret = wave_mem_put_locked(l, paged, target, ps, pe, nr_accesses, age);
		if (ret)
			break;
		kept += pe - ps;
		pieces++;
	}
	if (!pieces && !ret) {
		l->c.clip_dropped++;
	} else if (kept != end - start) {
		l->c.clip_trimmed++;
		l->c.clip_pieces += pieces ? pieces - 1 : 0;
	}
	l->c.clip_bytes += end - start - kept;
	return ret;
}

static void wave_mem_kick(struct wave_mem_link *l)
{
	if (!atomic_xchg(&l->db_pending, 1))
		irq_work_queue(&l->db_work);
}

/* ---- kfuncs ---- */

__bpf_kfunc_start_defs();

/**
 * bpf_wave_mem_add - append one DAMON region to the batch being built
 * @target: the host's target id (non-zero)
 * @start: page aligned
 * @end: exclusive, page aligned, above @start
 * @nr_accesses: clamped to the link's max_accesses
 * @age: DAMON age in aggregation intervals
 *
 * A region out of (target, start) order closes the batch being built first. When the target
 * has a mappings snapshot (WAVE_IOC_MEM_MAPS) only the region's mapped pieces are added; a
 * region in no mapped range adds nothing and returns 0.
 *
 * Return: 0, -ENODEV without a link, -EINVAL for a bad region, -E2BIG when the batch is full,
 * -EBUSY in NMI context.
 */
__bpf_kfunc int bpf_wave_mem_add(u32 target, u64 start, u64 end, u32 nr_accesses, u32 age)
{
	struct wave_mem_link *l;
	unsigned long flags;
	u64 shipped;
	int ret;

	if (in_nmi())
		return -EBUSY;
	rcu_read_lock();
	l = rcu_dereference(wave_mem_cur);
	if (!l) {
		ret = -ENODEV;
	} else {
		raw_spin_lock_irqsave(&l->lock, flags);
		shipped = l->c.batches;
		ret = wave_mem_add_locked(l, target, start, end, nr_accesses, age);
		shipped = l->c.batches != shipped;
		raw_spin_unlock_irqrestore(&l->lock, flags);
		if (shipped)
			wave_mem_kick(l);
	}
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_mem_close - close the batch being built and ship it to the NIC
 *
 * Return: 1 when a batch was shipped, 0 when there was nothing to ship, -ENOSPC when it was
 * dropped (its slot still in flight, or no room for the notice), -ENODEV without a link,
 * -EBUSY in NMI context.
 */
__bpf_kfunc int bpf_wave_mem_close(void)
{
	struct wave_mem_link *l;
	unsigned long flags;
	int ret;

	if (in_nmi())
		return -EBUSY;
	rcu_read_lock();
	l = rcu_dereference(wave_mem_cur);
	if (!l) {
		ret = -ENODEV;
	} else {
		raw_spin_lock_irqsave(&l->lock, flags);
		ret = wave_mem_close_locked(l);
		raw_spin_unlock_irqrestore(&l->lock, flags);
		if (ret == 1)
			wave_mem_kick(l);
	}
	rcu_read_unlock();
	return ret;
}

__bpf_kfunc_end_defs();

/* A module has one kfunc set per program type: these two are in wave_kfuncs.c's. */
BTF_SET_START(wave_mem_kfunc_ids)
BTF_ID(func, bpf_wave_mem_add)
BTF_ID(func, bpf_wave_mem_close)
BTF_SET_END(wave_mem_kfunc_ids)

bool wave_mem_kfunc_allowed(const struct bpf_prog *prog, u32 kfunc_id)
{
	/* Tracing programs only (damon_aggregated), never under sched_ext's rq lock. */
	return !btf_id_set_contains(&wave_mem_kfunc_ids, kfunc_id) ||
	       prog->type == BPF_PROG_TYPE_TRACING;
}

/* ---- attach / detach ---- */

/* A live queue of the expected kind and direction, and its kernel mapping; wd->lock held. */
static void __iomem *wave_mem_queue_map(struct wave_dev *wd, u32 id, u16 kind, u16 dir,
					u64 min_size)
{
	struct wave_queue *q;

	lockdep_assert_held(&wd->lock);
	if (id >= WAVE_MAX_QUEUES || !wd->queues[id].live)
		return IOMEM_ERR_PTR(-ENOENT);
	q = &wd->queues[id];
	if (q->kind != kind || q->dir != dir || q->size < min_size)
		return IOMEM_ERR_PTR(-EINVAL);
	if (!q->kaddr)
		q->kaddr = wd->ops->map_queue(wd, q);
	return q->kaddr ? q->kaddr : IOMEM_ERR_PTR(-ENOMEM);
}

/* Checks ring 0 of the message region and the info block the link's creator wrote. */
static int wave_mem_check_link(struct wave_mem_link *l, const struct wave_mem_kattach *a,
			       u8 __iomem *msg, u64 msg_size, u8 __iomem *dec)
{
	struct wave_ring_desc __iomem *d = (struct wave_ring_desc __iomem *)msg;
	struct wave_mem_info __iomem *info = (void __iomem *)(msg + WAVE_MEM_INFO_OFF);
	u32 nr, cidx;
	u64 off;

	if (readl(&d->magic) != WAVE_RING_MAGIC || readw(&d->version) != WAVE_RING_VERSION ||
	    readw(&d->kind) != WAVE_RING_KIND_MESSAGE || readl(&d->slot_size) != WAVE_CACHELINE ||
	    readl(&d->credit_queue) != a->dec_queue)
		return -EINVAL;
	nr = readl(&d->nr_slots);
	off = readq(&d->slots_off);
	cidx = readl(&d->credit_index);
	if (nr < 2 || nr > WAVE_RING_MAX_SLOTS || !is_power_of_2(nr) ||
	    off < WAVE_REGION_HDR_SIZE || !IS_ALIGNED(off, WAVE_CACHELINE) ||
	    off > msg_size || (u64)nr * WAVE_CACHELINE > msg_size - off ||
	    cidx >= WAVE_REGION_MAX_CREDITS)
		return -EINVAL;
	if (readl(&info->magic) != WAVE_MEM_INFO_MAGIC ||
	    readw(&info->version) != WAVE_MEM_INFO_VERSION ||
	    readl(&info->dec_queue) != a->dec_queue || readl(&info->dma_queue) != a->dma_queue ||
	    readq(&info->attach_gen) != a->attach_gen)
		return -ESTALE;
	l->msg_slots = msg + off;
	l->msg_nr = nr;
	l->msg_credit = &((struct wave_region_hdr __iomem *)dec)->credits[cidx];
	return 0;
}

static int wave_mem_attach(struct file *file, struct wave_dev *wd,
			   const struct wave_mem_kattach *a)
{
	void __iomem *m, *d, *b;
	struct wave_mem_link *l;
	int ret;

	if (a->flags || a->reserved0 || a->reserved1 || !a->aggr_us || !a->max_accesses ||
	    !a->attach_gen || a->msg_queue == a->dec_queue || a->msg_queue == a->dma_queue ||
	    a->dec_queue == a->dma_queue)
		return -EINVAL;
	l = kzalloc_obj(*l);
	if (!l)
		return -ENOMEM;
	l->stage = vzalloc(WAVE_MEM_BATCH_MAX);
	if (!l->stage) {
		kfree(l);
		return -ENOMEM;
	}

	mutex_lock(&wd->lock);
	mutex_lock(&wave_mem_mutex);
	ret = -EBUSY;
	if (rcu_access_pointer(wave_mem_cur))
		goto out;
	ret = -ENODEV;
	if (wd->dead)
		goto out;
	m = wave_mem_queue_map(wd, a->msg_queue, WAVE_QKIND_MESSAGE, WAVE_DIR_HOST_TO_NIC,
			       2 * WAVE_PAGE_SIZE);
	d = wave_mem_queue_map(wd, a->dec_queue, WAVE_QKIND_DECISION, WAVE_DIR_NIC_TO_HOST,
			       2 * WAVE_PAGE_SIZE);
	b = wave_mem_queue_map(wd, a->dma_queue, WAVE_QKIND_DMA, WAVE_DIR_HOST_TO_NIC,
			       WAVE_MEM_BATCH_SLOTS * WAVE_MEM_SLOT_BYTES);
	ret = IS_ERR(m) ? PTR_ERR(m) : IS_ERR(d) ? PTR_ERR(d) : IS_ERR(b) ? PTR_ERR(b) : 0;
	if (ret)
		goto out;
	ret = wave_mem_check_link(l, a, m, wd->queues[a->msg_queue].size, d);
	if (ret)
		goto out;

	l->wd = wd;
	l->owner = file;
	l->msg_q = a->msg_queue;
	l->dec_q = a->dec_queue;
	l->dma_q = a->dma_queue;
	l->db_vector = wd->queues[a->dma_queue].vector;
	l->aggr_us = a->aggr_us;
	l->max_accesses = a->max_accesses;
	l->attach_gen = a->attach_gen;
	l->dma_base = b;
	l->next_seq = 1;
	raw_spin_lock_init(&l->lock);
	init_irq_work(&l->db_work, wave_mem_db_workfn);
	wave_dev_get(wd);
	rcu_assign_pointer(wave_mem_cur, l);
	pr_info("%s: memory link batch path attached: queues %u/%u/%u, %u notice slots\n",
		wd->name, l->msg_q, l->dec_q, l->dma_q, l->msg_nr);
	l = NULL;
	ret = 0;
out:
	mutex_unlock(&wave_mem_mutex);
	mutex_unlock(&wd->lock);
	if (l) {
		vfree(l->stage);
		kfree(l);
	}
	return ret;
}

static void wave_mem_free_snaps(struct wave_mem_link *l)
{
	u32 i;

	for (i = 0; i < WAVE_MEM_KMAPS_MAX_TARGETS; i++) {
		kvfree(l->snaps[i].r);
		kvfree(l->paged[i].r);
	}
}

/* wave_mem_mutex held. */
static void wave_mem_detach_locked(void)
{
	struct wave_mem_link *l;

	l = rcu_dereference_protected(wave_mem_cur, lockdep_is_held(&wave_mem_mutex));
	if (!l)
		return;
	RCU_INIT_POINTER(wave_mem_cur, NULL);
	/* Every kfunc that could see the link has returned after this. */
	synchronize_rcu();
	irq_work_sync(&l->db_work);
	pr_info("%s: memory link batch path detached after %llu batches\n", l->wd->name,
		l->c.batches);
	wave_dev_put(l->wd);
	wave_mem_free_snaps(l);
	vfree(l->stage);
	kfree(l);
}

void wave_mem_queue_retiring(struct wave_dev *wd, u32 id)
{
	struct wave_mem_link *l;

	lockdep_assert_held(&wd->lock);
	mutex_lock(&wave_mem_mutex);
	l = rcu_dereference_protected(wave_mem_cur, lockdep_is_held(&wave_mem_mutex));
	if (l && l->wd == wd && (l->msg_q == id || l->dec_q == id || l->dma_q == id))
		wave_mem_detach_locked();
	mutex_unlock(&wave_mem_mutex);
}

void wave_mem_file_release(struct file *file)
{
	struct wave_mem_link *l;

	mutex_lock(&wave_mem_mutex);
	l = rcu_dereference_protected(wave_mem_cur, lockdep_is_held(&wave_mem_mutex));
	if (l && l->owner == file)
		wave_mem_detach_locked();
	mutex_unlock(&wave_mem_mutex);
}

/* ---- ioctls ---- */

static void wave_mem_fill_stats(struct wave_dev *wd, struct wave_mem_kstats *s)
{
	struct wave_mem_link *l;
	unsigned long flags;
	u32 i;

	rcu_read_lock();
	l = rcu_dereference(wave_mem_cur);
	if (l && l->wd == wd) {
		raw_spin_lock_irqsave(&l->lock, flags);
		s->attached = 1;
		s->attach_gen = l->attach_gen;
		s->batches = l->c.batches;
		s->regions = l->c.regions;
		s->bytes = l->c.bytes;
		s->dropped_no_slot = l->c.dropped_no_slot;
		s->dropped_ring_full = l->c.dropped_ring_full;
		s->empty_closes = l->c.empty_closes;
		s->cut = l->c.cut;
		s->bad_regions = l->c.bad_regions;
		s->overflow = l->c.overflow;
		s->clamped = l->c.clamped;
		s->released = l->c.released;
		s->bad_releases = l->c.bad_releases;
		s->credit_reads = l->c.credit_reads;
		s->bad_credits = l->c.bad_credits;
		s->next_seq = l->next_seq;
		memcpy(s->slots, l->slots, sizeof(s->slots));
		s->maps_updates = l->c.maps_updates;
		s->bad_maps = l->c.bad_maps;
		s->clip_dropped = l->c.clip_dropped;
		s->clip_trimmed = l->c.clip_trimmed;
		s->clip_pieces = l->c.clip_pieces;
		s->clip_bytes = l->c.clip_bytes;
		s->unclipped = l->c.unclipped;
		for (i = 0; i < WAVE_MEM_KMAPS_MAX_TARGETS; i++)
			s->maps_targets += l->snaps[i].target != 0;
		raw_spin_unlock_irqrestore(&l->lock, flags);
		s->doorbells = atomic64_read(&l->doorbells);
	}
	rcu_read_unlock();
}

static int wave_mem_release_slot(struct file *file, struct wave_dev *wd,
				 const struct wave_mem_krelease *r)
{
	struct wave_mem_link *l;
	struct wave_mem_kslot *s;
	unsigned long flags;
	int ret = -ENOENT;

	if (r->slot >= WAVE_MEM_BATCH_SLOTS)
		return -EINVAL;
	rcu_read_lock();
	l = rcu_dereference(wave_mem_cur);
	if (l && l->wd == wd && l->owner == file) {
		raw_spin_lock_irqsave(&l->lock, flags);
		s = &l->slots[r->slot];
		if (s->state == WAVE_MEM_KSLOT_BUSY && s->seq == r->seq) {
			s->state = WAVE_MEM_KSLOT_FREE;
			l->c.released++;
			ret = 0;
		} else {
			l->c.bad_releases++;
			ret = -ESTALE;
		}
		raw_spin_unlock_irqrestore(&l->lock, flags);
	}
	rcu_read_unlock();
	return ret;
}

/* Counts a refused WAVE_IOC_MEM_MAPS against this file's link, if it has one. */
static void wave_mem_count_bad_maps(struct file *file, struct wave_dev *wd)
{
	struct wave_mem_link *l;
	unsigned long flags;

	rcu_read_lock();
	l = rcu_dereference(wave_mem_cur);
	if (l && l->wd == wd && l->owner == file) {
		raw_spin_lock_irqsave(&l->lock, flags);
		l->c.bad_maps++;
		raw_spin_unlock_irqrestore(&l->lock, flags);
	}
	rcu_read_unlock();
}

/* Installs target's snapshot r[0..nr) (NULL, 0: forgets it); takes r, frees what it replaces. */
static int wave_mem_set_snap(struct file *file, struct wave_dev *wd, bool paged_out, u32 target,
			     struct wave_mem_krange *r, u32 nr)
{
	struct wave_mem_snap *snaps;
	struct wave_mem_krange *old = r;
	struct wave_mem_link *l;
	struct wave_mem_snap *s;
	unsigned long flags;
	int ret = -ENOENT;
	u32 i;

	/* Under the mutex the link cannot be detached (and its snapshots freed) meanwhile. */
	mutex_lock(&wave_mem_mutex);
	l = rcu_dereference_protected(wave_mem_cur, lockdep_is_held(&wave_mem_mutex));
	if (l && l->wd == wd && l->owner == file) {
		snaps = paged_out ? l->paged : l->snaps;
		raw_spin_lock_irqsave(&l->lock, flags);
		s = NULL;
		for (i = 0; i < WAVE_MEM_KMAPS_MAX_TARGETS && !s; i++)
			if (snaps[i].target == target)
				s = &snaps[i];
		for (i = 0; i < WAVE_MEM_KMAPS_MAX_TARGETS && !s && r; i++)
			if (!snaps[i].target)
				s = &snaps[i];
		if (s) {
			old = s->r;
			s->target = r ? target : 0;
			s->r = r;
			s->nr = nr;
			l->c.maps_updates++;
			ret = 0;
		} else if (r) {
			l->c.bad_maps++;
			ret = -ENOSPC;
		} else {
			ret = 0;	/* nothing to forget */
		}
		raw_spin_unlock_irqrestore(&l->lock, flags);
	}
	mutex_unlock(&wave_mem_mutex);
	kvfree(old);
	return ret;
}

static int wave_mem_maps(struct file *file, struct wave_dev *wd, const struct wave_mem_kmaps *m)
{
	struct wave_mem_krange *r = NULL;

	if (m->flags & ~WAVE_MEM_KMAPS_FLAGS_KNOWN || !m->target ||
	    m->count > WAVE_MEM_KMAPS_MAX_RANGES)
		goto bad;
	if (m->count) {
		r = kvmalloc_array(m->count, sizeof(*r), GFP_KERNEL);
		if (!r)
			return -ENOMEM;
		if (copy_from_user(r, u64_to_user_ptr(m->ranges), m->count * sizeof(*r))) {
			kvfree(r);
			return -EFAULT;
		}
		if (wave_mem_kmaps_check(r, m->count)) {
			kvfree(r);
			goto bad;
		}
	}
	return wave_mem_set_snap(file, wd, m->flags & WAVE_MEM_KMAPS_F_PAGED_OUT, m->target, r,
				 m->count);
bad:
	wave_mem_count_bad_maps(file, wd);
	return -EINVAL;
}

long wave_mem_ioctl(struct file *file, struct wave_dev *wd, unsigned int cmd, void __user *arg)
{
	struct wave_mem_krelease r;
	struct wave_mem_kattach a;
	struct wave_mem_kstats s;
	struct wave_mem_kmaps m;
	u32 argsz;
	int ret;

	switch (cmd) {
	case WAVE_IOC_MEM_ATTACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		ret = wave_copy_versioned_arg(&a, sizeof(a), sizeof(a), arg);
		return ret ? ret : wave_mem_attach(file, wd, &a);
	case WAVE_IOC_MEM_DETACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		mutex_lock(&wave_mem_mutex);
		ret = -ENOENT;
		if (rcu_access_pointer(wave_mem_cur) &&
		    rcu_access_pointer(wave_mem_cur)->wd == wd) {
			wave_mem_detach_locked();
			ret = 0;
		}
		mutex_unlock(&wave_mem_mutex);
		return ret;
	case WAVE_IOC_MEM_STATS:
		/* A version 1 caller gets the fields it knows of. */
		if (get_user(argsz, (u32 __user *)arg))
			return -EFAULT;
		if (argsz < WAVE_MEM_KSTATS_SIZE_V1)
			return -EINVAL;
		memset(&s, 0, sizeof(s));
		s.argsz = sizeof(s);
		wave_mem_fill_stats(wd, &s);
		return copy_to_user(arg, &s, min_t(size_t, argsz, sizeof(s))) ? -EFAULT : 0;
	case WAVE_IOC_MEM_RELEASE:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		ret = wave_copy_versioned_arg(&r, sizeof(r), sizeof(r), arg);
		return ret ? ret : wave_mem_release_slot(file, wd, &r);
	case WAVE_IOC_MEM_MAPS:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		ret = wave_copy_versioned_arg(&m, sizeof(m), sizeof(m), arg);
		if (ret == -EINVAL)
			wave_mem_count_bad_maps(file, wd);
		return ret ? ret : wave_mem_maps(file, wd, &m);
	default:
		return -ENOTTY;
	}
}

void wave_mem_exit(void)
{
	mutex_lock(&wave_mem_mutex);
	wave_mem_detach_locked();
	mutex_unlock(&wave_mem_mutex);
}
