// SPDX-License-Identifier: GPL-2.0
/*
 * The host DMA window: host RAM that the NIC's DMA engine reads and writes, mapped write-back
 * by user space as WAVE_REGION_HOST_WINDOW and published to the NIC in the control page
 * (host_window_addr, host_window_size; wave_abi.h).
 *
 * PCI: coherent DMA memory of the function, devres-managed, so it lives until the driver is
 * unbound; wave_dev_unregister() has zapped every user mapping by then and faults see the
 * device dead. Loopback: plain kernel pages, freed with the device's last reference.
 *
 * User space maps the window write-back: DMA is cache-coherent on x86-64 (and on the
 * SmartNIC hosts this targets); a non-coherent architecture would need dma_pgprot() here.
 *
 * The window must be physically contiguous for the loopback allocator, and the coherent
 * allocator gives no more than the page allocator's largest block without CMA either, so the
 * size is capped at that block (4 MiB on x86-64).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/vmalloc.h>

#include "wave.h"

#define WAVE_WINDOW_MAX_SIZE (PAGE_SIZE << MAX_PAGE_ORDER)

static unsigned long host_window_size = 4UL << 20;
module_param(host_window_size, ulong, 0444);
MODULE_PARM_DESC(host_window_size,
		 "Bytes of host DMA window per device, a multiple of 4096, 0 for none (default 4 MiB, at most 4 MiB)");

/* The size to allocate, or 0 (and a message) when the parameter is unusable. */
static u64 wave_window_wanted(void)
{
	if (!host_window_size)
		return 0;
	if (!IS_ALIGNED(host_window_size, WAVE_PAGE_SIZE) ||
	    host_window_size > WAVE_WINDOW_MAX_SIZE) {
		pr_warn("host_window_size=%lu: need a multiple of %u up to %lu; no DMA window\n",
			host_window_size, WAVE_PAGE_SIZE, WAVE_WINDOW_MAX_SIZE);
		return 0;
	}
	return host_window_size;
}

/* Tells the NIC where the window is; wave_dev.lock held or the device not yet registered. */
static void wave_window_publish(struct wave_dev *wd)
{
	writeq(wd->window.bus, &wd->ctrl->host_window_addr);
	writeq(wd->window.size, &wd->ctrl->host_window_size);
}

int wave_window_alloc_coherent(struct wave_dev *wd, struct device *dma_dev)
{
	u64 size = wave_window_wanted();
	dma_addr_t bus;
	void *cpu;

	wave_window_publish(wd);
	if (!size)
		return 0;
	cpu = dmam_alloc_coherent(dma_dev, size, &bus, GFP_KERNEL);
	if (!cpu)
		return -ENOMEM;
	wd->window.cpu = cpu;
	wd->window.bus = bus;
	wd->window.size = size;
	wave_window_publish(wd);
	return 0;
}

int wave_window_alloc_ram(struct wave_dev *wd)
{
	u64 size = wave_window_wanted();
	void *cpu;

	wave_window_publish(wd);
	if (!size)
		return 0;
	cpu = alloc_pages_exact(size, GFP_KERNEL | __GFP_ZERO);
	if (!cpu)
		return -ENOMEM;
	wd->window.cpu = cpu;
	/* No bus between the host and a loopback NIC: it maps the window instead. */
	wd->window.bus = 0;
	wd->window.size = size;
	wave_window_publish(wd);
	return 0;
}

void wave_window_free_ram(struct wave_dev *wd)
{
	if (wd->window.cpu)
		free_pages_exact(wd->window.cpu, wd->window.size);
	wd->window.cpu = NULL;
	wd->window.size = 0;
}

/*
 * The page frame behind byte @off of the window. Coherent memory may be remapped into
 * vmalloc space (an IOMMU, or a non-coherent architecture), so it is looked up page by page.
 */
unsigned long wave_window_pfn(const struct wave_dev *wd, u64 off)
{
	void *addr = wd->window.cpu + off;

	if (is_vmalloc_addr(addr))
		return vmalloc_to_pfn(addr);
	return PHYS_PFN(virt_to_phys(addr));
}
