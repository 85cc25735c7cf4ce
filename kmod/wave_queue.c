// SPDX-License-Identifier: GPL-2.0
/*
 * The queue table in the control page and the allocator of the BAR's queue area.
 *
 * wave.ko is the only writer of the queue table. A descriptor is published with its state
 * word last (after a write barrier) and retired with its state word first, so the NIC never
 * acts on a half-written entry. Queues belong to the device, not to the file that created
 * them: they outlive the creating file and are destroyed by WAVE_IOC_DESTROY_QUEUE or at
 * unbind.
 *
 * The queue area [WAVE_BAR_QUEUE_AREA_OFF, bar_size) is handed out page-granular, first fit
 * in the gaps between live queues. With at most WAVE_MAX_QUEUES queues a scan of the table
 * is cheaper than any allocator state.
 */
#include <linux/io.h>
#include <linux/sort.h>

#include "wave.h"
#include "wave_mem.h"
#include "wave_sched.h"

static u32 wave_default_cache(u16 dir)
{
	return dir == WAVE_DIR_HOST_TO_NIC ? WAVE_CACHE_WC : WAVE_CACHE_WT;
}

static void wave_desc_set_state(struct wave_dev *wd, u32 id, u32 state)
{
	writel(state, &wd->ctrl->queues[id].state);
}

static void wave_table_changed(struct wave_dev *wd)
{
	wd->queue_table_gen++;
	writel(wd->queue_table_gen, &wd->ctrl->queue_table_gen);
}

/* At registration: nothing the NIC sees may describe a queue this host does not own. */
void wave_queue_table_reset(struct wave_dev *wd)
{
	u32 id;

	for (id = 0; id < WAVE_MAX_QUEUES; id++) {
		wave_desc_set_state(wd, id, WAVE_QSTATE_FREE);
		/* Continue the slot's generation so the NIC never sees one reused. */
		wd->queues[id].generation = readl(&wd->ctrl->queues[id].generation);
	}
	wd->queue_table_gen = readl(&wd->ctrl->queue_table_gen);
	wave_table_changed(wd);
}

u64 wave_queue_area_free(struct wave_dev *wd)
{
	u64 used = 0;
	u32 id;

	for (id = 0; id < WAVE_MAX_QUEUES; id++)
		if (wd->queues[id].live)
			used += wd->queues[id].size;
	return wd->bar_size - WAVE_BAR_QUEUE_AREA_OFF - used;
}

struct wave_extent {
	u64 start;
	u64 end;
};

static int wave_extent_cmp(const void *a, const void *b)
{
	const struct wave_extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* First fit: the lowest gap between live queues that holds @size bytes. */
static int wave_area_alloc(struct wave_dev *wd, u64 size, u64 *offset)
{
	struct wave_extent used[WAVE_MAX_QUEUES];
	unsigned int n = 0, i;
	u64 cursor = WAVE_BAR_QUEUE_AREA_OFF;
	u32 id;

	for (id = 0; id < WAVE_MAX_QUEUES; id++) {
		if (!wd->queues[id].live)
			continue;
		used[n].start = wd->queues[id].offset;
		used[n].end = wd->queues[id].offset + wd->queues[id].size;
		n++;
	}
	sort(used, n, sizeof(used[0]), wave_extent_cmp, NULL);
	for (i = 0; i < n; i++) {
		if (used[i].start - cursor >= size)
			break;
		cursor = used[i].end;
	}
	if (wd->bar_size - cursor < size)
		return -ENOSPC;
	*offset = cursor;
	return 0;
}

static int wave_free_slot(struct wave_dev *wd)
{
	u32 id;

	for (id = 0; id < WAVE_MAX_QUEUES; id++)
		if (!wd->queues[id].live)
			return id;
	return -EMFILE;
}

/*
 * Creates a queue from an argument that wave_cdev.c has already checked for everything that
 * does not depend on device state. Fills in the output fields of @req.
 */
int wave_queue_create(struct wave_dev *wd, struct wave_queue_create *req)
{
	struct wave_queue_desc __iomem *desc;
	void __iomem *kaddr;
	struct wave_queue *q;
	u64 offset;
	int id, ret;

	mutex_lock(&wd->lock);
	ret = -ENODEV;
	if (wd->dead || wave_dev_nic_state(wd) != WAVE_NIC_STATE_READY)
		goto out;
	id = wave_free_slot(wd);
	if (id < 0) {
		ret = id;
		goto out;
	}
	ret = wave_area_alloc(wd, req->size, &offset);
	if (ret)
		goto out;

	q = &wd->queues[id];
	q->live = true;
	q->generation++;
	q->offset = offset;
	q->size = req->size;
	q->dir = req->dir;
	q->kind = req->kind;
	q->vector = req->vector;
	if (wd->bar_is_ram)
		q->cache_mode = WAVE_CACHE_WB;
	else if (req->cache_mode == WAVE_CACHE_DEFAULT)
		q->cache_mode = wave_default_cache(req->dir);
	else
		q->cache_mode = req->cache_mode;
	/*
	 * An earlier queue's ring headers and slots may still sit in this range, and the NIC may
	 * look at the region as soon as it is ACTIVE, before the creator writes its own headers:
	 * a new region starts zeroed. The temporary mapping has the user mappings' memory type;
	 * the kfuncs map the queue again when a scheduling link needs it.
	 */
	q->kaddr = NULL;
	kaddr = wd->ops->map_queue(wd, q);
	if (!kaddr) {
		q->live = false;
		ret = -ENOMEM;
		goto out;
	}
	memset_io(kaddr, 0, q->size);
	wd->ops->unmap_queue(wd, kaddr);
	wd->nr_queues++;

	desc = &wd->ctrl->queues[id];
	writel(q->generation, &desc->generation);
	writeq(q->offset, &desc->offset);
	writeq(q->size, &desc->size);
	writew(q->dir, &desc->dir);
	writew(q->cache_mode, &desc->cache_mode);
	writew(q->kind, &desc->kind);
	writew(q->vector, &desc->vector);
	memset_io(desc->reserved, 0, sizeof(desc->reserved));
	/* The NIC may act as soon as it sees ACTIVE: the body must be visible first. */
	wmb();
	wave_desc_set_state(wd, id, WAVE_QSTATE_ACTIVE);
	wave_table_changed(wd);
	wave_notify_nic(wd, WAVE_ADMIN_VECTOR);

	req->id = id;
	req->cache_mode = q->cache_mode;
	req->bar_offset = q->offset;
	req->mmap_offset = WAVE_MMAP_QUEUE_OFFSET(id);
	ret = 0;
out:
	mutex_unlock(&wd->lock);
	return ret;
}

/* Retires queue @id; wd->lock held. */
static void wave_queue_retire(struct wave_dev *wd, u32 id)
{
	struct wave_queue *q = &wd->queues[id];

	/* The NIC must stop using the region before anything else happens to it. */
	wave_desc_set_state(wd, id, WAVE_QSTATE_FREE);
	/* FREE reaches the NIC before the region can be handed out again. */
	wmb();
	/* A link over this queue detaches before its kernel mapping goes. */
	wave_sched_queue_retiring(wd, id);
	wave_mem_queue_retiring(wd, id);
	wave_mmap_zap_queue(wd, id);
	if (q->kaddr) {
		wd->ops->unmap_queue(wd, q->kaddr);
		q->kaddr = NULL;
	}
	q->live = false;
	wd->nr_queues--;
	wave_table_changed(wd);
}

int wave_queue_destroy(struct wave_dev *wd, u32 id)
{
	int ret = 0;

	mutex_lock(&wd->lock);
	if (wd->dead)
		ret = -ENODEV;
	else if (id >= WAVE_MAX_QUEUES || !wd->queues[id].live)
		ret = -ENOENT;
	if (!ret) {
		wave_queue_retire(wd, id);
		wave_notify_nic(wd, WAVE_ADMIN_VECTOR);
	}
	mutex_unlock(&wd->lock);
	return ret;
}

/* At unbind; wd->lock held. The caller rings the admin vector once afterwards. */
void wave_queue_destroy_all(struct wave_dev *wd)
{
	u32 id;

	lockdep_assert_held(&wd->lock);
	for (id = 0; id < WAVE_MAX_QUEUES; id++)
		if (wd->queues[id].live)
			wave_queue_retire(wd, id);
}

int wave_queue_lookup(struct wave_dev *wd, u32 id, struct wave_queue_info *info)
{
	const struct wave_queue *q;
	int ret = 0;

	mutex_lock(&wd->lock);
	if (wd->dead) {
		ret = -ENODEV;
	} else if (id >= WAVE_MAX_QUEUES || !wd->queues[id].live) {
		ret = -ENOENT;
	} else {
		q = &wd->queues[id];
		info->offset = q->offset;
		info->size = q->size;
		info->generation = q->generation;
		info->dir = q->dir;
		info->cache_mode = q->cache_mode;
		info->kind = q->kind;
		info->vector = q->vector;
	}
	mutex_unlock(&wd->lock);
	return ret;
}

/* The kernel mapping of queue @id, created on first use. Returns an ERR_PTR on failure. */
void __iomem *wave_queue_kaddr(struct wave_dev *wd, u32 id)
{
	void __iomem *addr;
	struct wave_queue *q;

	mutex_lock(&wd->lock);
	if (wd->dead) {
		addr = IOMEM_ERR_PTR(-ENODEV);
	} else if (id >= WAVE_MAX_QUEUES || !wd->queues[id].live) {
		addr = IOMEM_ERR_PTR(-ENOENT);
	} else {
		q = &wd->queues[id];
		if (!q->kaddr)
			q->kaddr = wd->ops->map_queue(wd, q);
		addr = q->kaddr ? q->kaddr : IOMEM_ERR_PTR(-ENOMEM);
	}
	mutex_unlock(&wd->lock);
	return addr;
}
