// SPDX-License-Identifier: GPL-2.0
/*
 * The PCI backend: an emulated NIC (QEMU ivshmem, 1af4:1110) or a real SmartNIC whose IDs are
 * given in the "ids" module parameter.
 *
 * BAR0 holds the ivshmem registers (the doorbell at 0x0c); BAR2 is the Wave window. Probe maps
 * only the control and doorbell pages of BAR2, uncached: user space maps queue regions with
 * their own memory types, and a kernel mapping of the whole BAR with another type would make
 * PAT refuse those. A real SmartNIC must offer the same BAR0 doorbell register.
 */
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "wave.h"

#define WAVE_PCI_REGS_BAR 0
#define WAVE_PCI_WINDOW_BAR 2
#define WAVE_IVSHMEM_VENDOR 0x1af4
#define WAVE_IVSHMEM_DEVICE 0x1110

struct wave_pci {
	struct pci_dev *pdev;
	void __iomem *regs;	/* BAR0 */
};

static void wave_pci_notify_nic(struct wave_dev *wd, unsigned int vector)
{
	struct wave_pci *wp = wd->backend_priv;

	writel(WAVE_IVSHMEM_DOORBELL(wd->nic_peer_id, vector),
	       wp->regs + WAVE_IVSHMEM_REG_DOORBELL);
}

static void __iomem *wave_pci_map_queue(struct wave_dev *wd, const struct wave_queue *q)
{
	phys_addr_t phys = wd->bar_phys + q->offset;

	/* The same memory type as the user mappings, or PAT would refuse one of them. */
	switch (q->cache_mode) {
	case WAVE_CACHE_WC:
		return ioremap_wc(phys, q->size);
	case WAVE_CACHE_WT:
		return ioremap_wt(phys, q->size);
	default:
		return ioremap(phys, q->size);
	}
}

static void wave_pci_unmap_queue(struct wave_dev *wd, void __iomem *addr)
{
	iounmap(addr);
}

static void wave_pci_release(struct wave_dev *wd)
{
	kfree(wd->backend_priv);
}

static const struct wave_backend_ops wave_pci_ops = {
	.backend = WAVE_BACKEND_PCI,
	.name = "pci",
	.notify_nic = wave_pci_notify_nic,
	.map_queue = wave_pci_map_queue,
	.unmap_queue = wave_pci_unmap_queue,
	.release = wave_pci_release,
};

/*
 * The host DMA window is optional: without it the link works, only DMA queues do not, so a
 * failed allocation is reported and the device probes anyway. On the emulated NIC (ivshmem)
 * the window exists but nothing DMAs into it: wave-nicd cannot reach guest RAM and does not
 * set WAVE_FEAT_DMA.
 */
static void wave_pci_setup_window(struct wave_dev *wd, struct pci_dev *pdev)
{
	int ret;

	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (!ret)
		ret = wave_window_alloc_coherent(wd, &pdev->dev);
	if (ret)
		dev_warn(&pdev->dev, "no host DMA window: %d\n", ret);
}

/*
 * Checks the NIC-written control page before anything trusts it. Returns -ENODEV for a
 * device that is not (or not yet) a Wave NIC of a version this driver speaks.
 */
static int wave_pci_check_window(struct pci_dev *pdev, struct wave_control_page __iomem *ctrl,
				 u64 window_len, u64 *bar_size)
{
	u32 magic = readl(&ctrl->magic);
	u16 major, minor;

	if (magic != WAVE_ABI_MAGIC) {
		dev_info(&pdev->dev, "not a Wave NIC (magic %#010x), leaving it alone\n", magic);
		return -ENODEV;
	}
	major = readw(&ctrl->abi_major);
	minor = readw(&ctrl->abi_minor);
	if (major != WAVE_ABI_MAJOR) {
		dev_err(&pdev->dev, "NIC speaks Wave ABI %u.%u, this driver speaks %u.%u: refusing\n",
			major, minor, WAVE_ABI_MAJOR, WAVE_ABI_MINOR);
		return -ENODEV;
	}
	*bar_size = readq(&ctrl->bar_size);
	if (*bar_size < WAVE_BAR_MIN_SIZE || *bar_size > window_len ||
	    !IS_ALIGNED(*bar_size, WAVE_PAGE_SIZE)) {
		dev_err(&pdev->dev, "control page says bar_size %llu, BAR%d is %llu bytes: refusing\n",
			*bar_size, WAVE_PCI_WINDOW_BAR, window_len);
		return -ENODEV;
	}
	return 0;
}

static int wave_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *regs, *window;
	struct wave_dev *wd;
	struct wave_pci *wp;
	u64 window_len, bar_size;
	u32 nr_vectors, peer;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (!(pci_resource_flags(pdev, WAVE_PCI_REGS_BAR) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, WAVE_PCI_REGS_BAR) < WAVE_IVSHMEM_REG_DOORBELL + 4 ||
	    !(pci_resource_flags(pdev, WAVE_PCI_WINDOW_BAR) & IORESOURCE_MEM)) {
		dev_info(&pdev->dev, "no register BAR0 and memory BAR2: not a Wave NIC\n");
		return -ENODEV;
	}
	window_len = pci_resource_len(pdev, WAVE_PCI_WINDOW_BAR);
	if (window_len < WAVE_BAR_MIN_SIZE) {
		dev_info(&pdev->dev, "BAR2 of %llu bytes is too small for a Wave window\n",
			 window_len);
		return -ENODEV;
	}

	regs = pcim_iomap_region(pdev, WAVE_PCI_REGS_BAR, WAVE_NAME);
	if (IS_ERR(regs))
		return PTR_ERR(regs);
	ret = pcim_request_region(pdev, WAVE_PCI_WINDOW_BAR, WAVE_NAME);
	if (ret)
		return ret;
	/* Control and doorbell pages only, uncached (see the top of this file). */
	window = pcim_iomap_range(pdev, WAVE_PCI_WINDOW_BAR, 0, WAVE_BAR_QUEUE_AREA_OFF);
	if (IS_ERR(window))
		return PTR_ERR(window);

	ret = wave_pci_check_window(pdev, window + WAVE_BAR_CONTROL_OFF, window_len, &bar_size);
	if (ret)
		return ret;

	wd = wave_dev_alloc(&wave_pci_ops);
	if (!wd)
		return -ENOMEM;
	wp = kzalloc_obj(*wp);
	if (!wp) {
		wave_dev_put(wd);
		return -ENOMEM;
	}
	wp->pdev = pdev;
	wp->regs = regs;
	wd->backend_priv = wp;
	wd->ctrl = window + WAVE_BAR_CONTROL_OFF;
	wd->db = window + WAVE_BAR_DOORBELL_OFF;
	wd->bar_phys = pci_resource_start(pdev, WAVE_PCI_WINDOW_BAR);
	wd->bar_size = bar_size;
	wd->abi_major = readw(&wd->ctrl->abi_major);
	wd->abi_minor = readw(&wd->ctrl->abi_minor);

	nr_vectors = readl(&wd->ctrl->nr_vectors);
	if (nr_vectors > WAVE_MAX_VECTORS) {
		atomic64_inc(&wd->bad_nic_fields);
		dev_warn(&pdev->dev, "NIC claims %u vectors, using %u\n", nr_vectors,
			 WAVE_MAX_VECTORS);
		nr_vectors = WAVE_MAX_VECTORS;
	}
	wd->nr_vectors = nr_vectors;
	peer = readl(&wd->ctrl->nic_peer_id);
	if (peer > 0xffff) {
		/* The doorbell register has 16 bits for the peer: refuse to ring a wrong one. */
		atomic64_inc(&wd->bad_nic_fields);
		dev_err(&pdev->dev, "NIC peer id %u does not fit the doorbell register\n", peer);
		ret = -ENODEV;
		goto err_put;
	}
	wd->nic_peer_id = peer;

	pci_set_master(pdev);
	wave_pci_setup_window(wd, pdev);
	ret = wave_irq_setup_msix(wd, pdev);
	if (ret)
		goto err_put;
	ret = wave_dev_register(wd, &pdev->dev);
	if (ret)
		goto err_irq;
	pci_set_drvdata(pdev, wd);
	return 0;

err_irq:
	wave_irq_free_msix(wd, pdev);
err_put:
	wave_dev_put(wd);
	return ret;
}

static void wave_pci_remove(struct pci_dev *pdev)
{
	struct wave_dev *wd = pci_get_drvdata(pdev);

	wave_dev_unregister(wd);
	/* Eventfds are released; no handler may run once wd can be freed. */
	wave_irq_free_msix(wd, pdev);
	/*
	 * Open files keep wd; devres unmaps the BAR pages and frees the host DMA window, which
	 * nothing reaches any more.
	 */
	wave_dev_put(wd);
}

static const struct pci_device_id wave_pci_ids[] = {
	{ PCI_DEVICE(WAVE_IVSHMEM_VENDOR, WAVE_IVSHMEM_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, wave_pci_ids);

static struct pci_driver wave_pci_driver = {
	.name = WAVE_NAME,
	.id_table = wave_pci_ids,
	.probe = wave_pci_probe,
	.remove = wave_pci_remove,
};

int wave_pci_init(const u32 *extra_ids, unsigned int nr_extra)
{
	unsigned int i;
	int ret;

	ret = pci_register_driver(&wave_pci_driver);
	if (ret)
		return ret;
	for (i = 0; i < nr_extra; i++) {
		u16 vendor = extra_ids[i] >> 16, device = extra_ids[i] & 0xffff;

		ret = pci_add_dynid(&wave_pci_driver, vendor, device, PCI_ANY_ID, PCI_ANY_ID, 0, 0,
				    0);
		if (ret)
			pr_warn(WAVE_NAME ": cannot add PCI id %04x:%04x: %d\n", vendor, device,
				ret);
		else
			pr_info(WAVE_NAME ": binding PCI id %04x:%04x\n", vendor, device);
	}
	return 0;
}

void wave_pci_exit(void)
{
	pci_unregister_driver(&wave_pci_driver);
}
