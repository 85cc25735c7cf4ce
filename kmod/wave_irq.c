// SPDX-License-Identifier: GPL-2.0
/*
 * Doorbells (host to NIC) and interrupts (NIC to host).
 *
 * A doorbell writes the queue's word and bumps the vector's word in the doorbell page, then
 * notifies the NIC through the backend (ivshmem doorbell register, or the loopback NIC's
 * eventfd). The NIC reads the words when the vector fires, so queues may share a vector.
 *
 * An interrupt (an MSI-X vector, or WAVE_IOC_RAISE_IRQ on loopback) signals the eventfd bound
 * to the vector. Signalling and rebinding both hold the vector's bind_lock, so a handler never
 * signals a released eventfd and unbinding needs no RCU grace period (which made every
 * unbind and unload wait).
 */
#include <linux/interrupt.h>
#include <linux/pci.h>

#include "wave.h"
#include "wave_sched.h"

/* Installs @ctx (or NULL) in @slot and returns what was there. */
static struct eventfd_ctx *wave_swap_binding(struct wave_vector *v, struct eventfd_ctx **slot,
					     struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;
	unsigned long flags;

	spin_lock_irqsave(&v->bind_lock, flags);
	old = *slot;
	*slot = ctx;
	spin_unlock_irqrestore(&v->bind_lock, flags);
	return old;
}

int wave_irq_bind(struct wave_dev *wd, u32 vector, bool nic_doorbell, int fd)
{
	struct wave_vector *v = &wd->vec[vector];
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd >= 0) {
		/* -EBADF for a closed descriptor, -EINVAL for one that is not an eventfd. */
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}

	mutex_lock(&wd->lock);
	if (wd->dead) {
		mutex_unlock(&wd->lock);
		if (ctx)
			eventfd_ctx_put(ctx);
		return -ENODEV;
	}
	old = wave_swap_binding(v, nic_doorbell ? &v->nic_doorbell : &v->host_irq, ctx);
	mutex_unlock(&wd->lock);

	/* No signaller can still hold it: they signal under bind_lock. */
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

/* At unbind, after the device is marked dead: nothing can bind again. */
void wave_irq_unbind_all(struct wave_dev *wd)
{
	struct eventfd_ctx *old;
	unsigned int i;

	for (i = 0; i < WAVE_MAX_VECTORS; i++) {
		struct wave_vector *v = &wd->vec[i];

		old = wave_swap_binding(v, &v->host_irq, NULL);
		if (old)
			eventfd_ctx_put(old);
		old = wave_swap_binding(v, &v->nic_doorbell, NULL);
		if (old)
			eventfd_ctx_put(old);
	}
}

static void wave_signal(struct wave_vector *v, struct eventfd_ctx **slot)
{
	unsigned long flags;

	spin_lock_irqsave(&v->bind_lock, flags);
	if (*slot)
		eventfd_signal(*slot);
	spin_unlock_irqrestore(&v->bind_lock, flags);
}

/* A host interrupt arrived on @v (any context). */
void wave_irq_fire_host(struct wave_vector *v)
{
	atomic64_inc(&v->irqs);
	/* Decisions for idle CPUs first: they wait for this, user space does not. */
	wave_sched_nic_irq(v);
	wave_signal(v, &v->host_irq);
}

/* Loopback: a host doorbell rang on @v; wake the NIC side. */
void wave_irq_signal_nic(struct wave_vector *v)
{
	wave_signal(v, &v->nic_doorbell);
}

/* Bumps vector_db and notifies the NIC; db_lock held, device alive. */
static void wave_notify_locked(struct wave_dev *wd, unsigned int vector)
{
	struct wave_vector *v = &wd->vec[vector];

	/* Our own copy of the count: reading it back would be an MMIO round trip. */
	v->notify_count++;
	writel(v->notify_count, &wd->db->vector_db[vector]);
	wd->ops->notify_nic(wd, vector);
	atomic64_inc(&wd->doorbells);
}

int wave_notify_nic(struct wave_dev *wd, unsigned int vector)
{
	unsigned long flags;
	int ret = 0;

	if (vector >= wd->nr_vectors)
		return -EINVAL;
	spin_lock_irqsave(&wd->db_lock, flags);
	if (wd->dead)
		ret = -ENODEV;
	else
		wave_notify_locked(wd, vector);
	spin_unlock_irqrestore(&wd->db_lock, flags);
	return ret;
}

int wave_ring_doorbell(struct wave_dev *wd, u32 queue_id, u32 value, unsigned int vector)
{
	unsigned long flags;
	int ret = 0;

	if (queue_id >= WAVE_MAX_QUEUES || vector >= wd->nr_vectors)
		return -EINVAL;
	spin_lock_irqsave(&wd->db_lock, flags);
	if (wd->dead) {
		ret = -ENODEV;
	} else {
		/* The word first: the NIC reads it when the vector fires. */
		writel(value, &wd->db->queue_db[queue_id]);
		wave_notify_locked(wd, vector);
	}
	spin_unlock_irqrestore(&wd->db_lock, flags);
	return ret;
}

static irqreturn_t wave_msix_handler(int irq, void *data)
{
	wave_irq_fire_host(data);
	return IRQ_HANDLED;
}

/*
 * One MSI-X vector per doorbell vector, up to what the NIC serves. A function without MSI-X
 * (ivshmem-plain) keeps its doorbell vectors but has no host interrupts.
 */
int wave_irq_setup_msix(struct wave_dev *wd, struct pci_dev *pdev)
{
	unsigned int i;
	int nvec, ret;

	wd->nr_irqs = 0;
	if (!wd->nr_vectors || !pdev->msix_cap)
		return 0;
	nvec = pci_alloc_irq_vectors(pdev, 1, wd->nr_vectors, PCI_IRQ_MSIX);
	if (nvec < 0) {
		dev_warn(&pdev->dev, "no MSI-X vectors (%d): doorbells only\n", nvec);
		return 0;
	}
	/* Doorbell vectors beyond the interrupts would be ambiguous: use the same count. */
	wd->nr_vectors = nvec;
	for (i = 0; i < nvec; i++) {
		struct wave_vector *v = &wd->vec[i];

		snprintf(v->irq_name, sizeof(v->irq_name), "wave-%s-v%u", pci_name(pdev), i);
		v->irq = pci_irq_vector(pdev, i);
		ret = request_irq(v->irq, wave_msix_handler, 0, v->irq_name, v);
		if (ret) {
			v->irq = -1;
			wave_irq_free_msix(wd, pdev);
			return ret;
		}
		wd->nr_irqs++;
	}
	return 0;
}

void wave_irq_free_msix(struct wave_dev *wd, struct pci_dev *pdev)
{
	unsigned int i;

	for (i = 0; i < WAVE_MAX_VECTORS; i++) {
		if (wd->vec[i].irq < 0)
			continue;
		free_irq(wd->vec[i].irq, &wd->vec[i]);
		wd->vec[i].irq = -1;
	}
	wd->nr_irqs = 0;
	pci_free_irq_vectors(pdev);
}
