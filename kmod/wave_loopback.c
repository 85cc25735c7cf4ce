// SPDX-License-Identifier: GPL-2.0
/*
 * The loopback backend: a BAR window in host RAM, for on-host mode. The NIC side (wave-nicd
 * on a host core) maps the whole window with WAVE_REGION_BAR, receives host doorbells on
 * eventfds bound with WAVE_IRQ_F_NIC_DOORBELL and raises host interrupts with
 * WAVE_IOC_RAISE_IRQ. Same ABI as the PCI device, but every mapping is coherent write-back
 * RAM and queues report WAVE_CACHE_WB.
 *
 * The window is physically contiguous (alloc_pages_exact), which bounds it by the page
 * allocator's largest block. The host DMA window (wave_window.c) is kernel RAM too, mapped
 * by both sides: the NIC side's engine copies between it and the BAR window.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/mm.h>

#include "wave.h"

#define WAVE_LOOPBACK_MAX_DEVICES 8
#define WAVE_LOOPBACK_MAX_SIZE (PAGE_SIZE << MAX_PAGE_ORDER)

static struct wave_dev *wave_loopbacks[WAVE_LOOPBACK_MAX_DEVICES];
static unsigned int wave_nr_loopbacks;

static void *wave_loopback_ram(struct wave_dev *wd)
{
	return wd->backend_priv;
}

static void wave_loopback_notify_nic(struct wave_dev *wd, unsigned int vector)
{
	wave_irq_signal_nic(&wd->vec[vector]);
}

static void __iomem *wave_loopback_map_queue(struct wave_dev *wd, const struct wave_queue *q)
{
	/* Already mapped: the window is kernel RAM. */
	return (void __iomem __force *)(wave_loopback_ram(wd) + q->offset);
}

static void wave_loopback_unmap_queue(struct wave_dev *wd, void __iomem *addr)
{
}

static void wave_loopback_release(struct wave_dev *wd)
{
	wave_window_free_ram(wd);
	free_pages_exact(wave_loopback_ram(wd), wd->bar_size);
}

static const struct wave_backend_ops wave_loopback_ops = {
	.backend = WAVE_BACKEND_LOOPBACK,
	.name = "loopback",
	.notify_nic = wave_loopback_notify_nic,
	.map_queue = wave_loopback_map_queue,
	.unmap_queue = wave_loopback_unmap_queue,
	.release = wave_loopback_release,
};

/* Writes what a NIC writes at power-on: the layout, with the firmware not running yet. */
static void wave_loopback_init_control(struct wave_dev *wd)
{
	struct wave_control_page __iomem *ctrl = wd->ctrl;

	writew(WAVE_ABI_MAJOR, &ctrl->abi_major);
	writew(WAVE_ABI_MINOR, &ctrl->abi_minor);
	writeq(WAVE_FEAT_DOORBELL_IRQ, &ctrl->features);
	writeq(wd->bar_size, &ctrl->bar_size);
	writel(WAVE_NIC_STATE_OFF, &ctrl->nic_state);
	writel(WAVE_MAX_VECTORS, &ctrl->nr_vectors);
	/* Like a NIC: the magic, written last, says the rest is valid. */
	wmb();
	writel(WAVE_ABI_MAGIC, &ctrl->magic);
}

static struct wave_dev *wave_loopback_create(unsigned long size)
{
	struct wave_dev *wd;
	void *ram;
	int ret;

	ram = alloc_pages_exact(size, GFP_KERNEL | __GFP_ZERO);
	if (!ram)
		return ERR_PTR(-ENOMEM);
	wd = wave_dev_alloc(&wave_loopback_ops);
	if (!wd) {
		free_pages_exact(ram, size);
		return ERR_PTR(-ENOMEM);
	}
	/* From here on the last wave_dev_put() frees the RAM. */
	wd->backend_priv = ram;
	/* Kernel RAM behind the __iomem accessors the PCI backend uses: plain stores. */
	wd->ctrl = (struct wave_control_page __iomem __force *)(ram + WAVE_BAR_CONTROL_OFF);
	wd->db = (struct wave_doorbell_page __iomem __force *)(ram + WAVE_BAR_DOORBELL_OFF);
	wd->bar_phys = virt_to_phys(ram);
	wd->bar_size = size;
	wd->bar_is_ram = true;
	wd->abi_major = WAVE_ABI_MAJOR;
	wd->abi_minor = WAVE_ABI_MINOR;
	wd->nr_vectors = WAVE_MAX_VECTORS;
	wd->nr_irqs = WAVE_MAX_VECTORS;
	wave_loopback_init_control(wd);
	/* Before registration: user space finds the window in the control page. */
	ret = wave_window_alloc_ram(wd);
	if (ret) {
		wave_dev_put(wd);
		return ERR_PTR(ret);
	}

	ret = wave_dev_register(wd, NULL);
	if (ret) {
		wave_dev_put(wd);
		return ERR_PTR(ret);
	}
	return wd;
}

int wave_loopback_init(unsigned int count, unsigned long size)
{
	struct wave_dev *wd;

	if (!count)
		return 0;
	if (count > WAVE_LOOPBACK_MAX_DEVICES) {
		pr_err("loopback=%u: at most %u devices\n", count, WAVE_LOOPBACK_MAX_DEVICES);
		return -EINVAL;
	}
	if (!is_power_of_2(size) || size < roundup_pow_of_two(WAVE_BAR_MIN_SIZE) ||
	    size > WAVE_LOOPBACK_MAX_SIZE) {
		pr_err("loopback_size=%lu: need a power of two in [%lu, %lu]\n", size,
		       roundup_pow_of_two(WAVE_BAR_MIN_SIZE), WAVE_LOOPBACK_MAX_SIZE);
		return -EINVAL;
	}
	while (wave_nr_loopbacks < count) {
		wd = wave_loopback_create(size);
		if (IS_ERR(wd)) {
			pr_err("cannot create loopback device %u: %ld\n", wave_nr_loopbacks,
			       PTR_ERR(wd));
			wave_loopback_exit();
			return PTR_ERR(wd);
		}
		wave_loopbacks[wave_nr_loopbacks++] = wd;
	}
	return 0;
}

void wave_loopback_exit(void)
{
	while (wave_nr_loopbacks) {
		struct wave_dev *wd = wave_loopbacks[--wave_nr_loopbacks];

		wave_dev_unregister(wd);
		wave_dev_put(wd);
		wave_loopbacks[wave_nr_loopbacks] = NULL;
	}
}
