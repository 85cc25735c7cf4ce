// SPDX-License-Identifier: GPL-2.0
/*
 * mmap of the BAR window's regions with the page attribute each one needs.
 *
 * The offset names a region (wave_ioctl.h): the control page (read-only, uncached), the
 * doorbell page (uncached), a queue (its cache mode: WC, WT or UC), the host DMA window
 * (write-back host RAM, wave_window.c) or, on loopback only, the whole window. Loopback
 * memory is ordinary RAM and is always mapped write-back.
 *
 * mmap() calls io_remap_pfn_range() over the whole VMA so that PAT reserves the memory type
 * for the VMA's lifetime (debugfs x86/pat_memtype_list shows it), then clears the PTEs again:
 * they are filled in by the fault handler, under wd->lock, after it checked that the device
 * is alive and the region is the one that was mapped. That closes the window between our
 * mmap handler and the VMA becoming visible to unmap_mapping_range(): a VMA that missed a zap
 * has no PTEs, and its first access faults and gets SIGBUS. The host DMA window is RAM that
 * need not be physically contiguous (coherent memory behind an IOMMU is vmapped), so its
 * pages are looked up one by one at fault time and nothing is remapped at mmap time: PAT has
 * no memory type to reserve for write-back RAM.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>

#include "wave.h"

#define WAVE_REGION_SPAN BIT_ULL(WAVE_MMAP_REGION_SHIFT)

struct wave_region {
	phys_addr_t phys;	/* start of the region */
	u64 size;
	u32 cache;		/* WAVE_CACHE_* */
	u32 generation;		/* queues: the generation of the slot when mapped */
	bool read_only;
	bool host_window;	/* pages from wave_window_pfn(), not from phys */
};

/* Finds what @region names right now; wd->lock held, device alive. */
static int wave_region_resolve(struct wave_dev *wd, u64 region, struct wave_region *r)
{
	const struct wave_queue *q;

	lockdep_assert_held(&wd->lock);
	r->cache = WAVE_CACHE_UC;
	r->generation = 0;
	r->read_only = false;
	r->host_window = false;
	switch (region) {
	case WAVE_REGION_CONTROL:
		r->phys = wd->bar_phys + WAVE_BAR_CONTROL_OFF;
		r->size = WAVE_PAGE_SIZE;
		r->read_only = true;
		break;
	case WAVE_REGION_DOORBELL:
		r->phys = wd->bar_phys + WAVE_BAR_DOORBELL_OFF;
		r->size = WAVE_PAGE_SIZE;
		break;
	case WAVE_REGION_BAR:
		/* A PCI BAR belongs to the NIC's own cores; only loopback lends it out. */
		if (!wd->bar_is_ram)
			return -EINVAL;
		r->phys = wd->bar_phys;
		r->size = wd->bar_size;
		break;
	case WAVE_REGION_HOST_WINDOW:
		if (!wd->window.size)
			return -EINVAL;
		r->phys = 0;
		r->size = wd->window.size;
		r->cache = WAVE_CACHE_WB;
		r->host_window = true;
		break;
	default:
		if (region < WAVE_REGION_QUEUE_BASE ||
		    region >= WAVE_REGION_QUEUE_BASE + WAVE_MAX_QUEUES)
			return -EINVAL;
		q = &wd->queues[region - WAVE_REGION_QUEUE_BASE];
		if (!q->live)
			return -EINVAL;
		r->phys = wd->bar_phys + q->offset;
		r->size = q->size;
		r->cache = q->cache_mode;
		r->generation = q->generation;
		break;
	}
	if (wd->bar_is_ram)
		r->cache = WAVE_CACHE_WB;
	return 0;
}

static pgprot_t wave_pgprot(pgprot_t prot, u32 cache)
{
	switch (cache) {
	case WAVE_CACHE_WB:
		return prot;
	case WAVE_CACHE_WC:
		return pgprot_writecombine(prot);
	case WAVE_CACHE_WT:
		return pgprot_writethrough(prot);
	default:
		return pgprot_noncached(prot);
	}
}

static u64 wave_vma_region(const struct vm_area_struct *vma)
{
	return ((u64)vma->vm_pgoff << PAGE_SHIFT) >> WAVE_MMAP_REGION_SHIFT;
}

static u64 wave_vma_offset(const struct vm_area_struct *vma)
{
	return ((u64)vma->vm_pgoff << PAGE_SHIFT) & (WAVE_REGION_SPAN - 1);
}

static void wave_vm_open(struct vm_area_struct *vma)
{
	/* vm_file pins the file and so the device too; the explicit reference says so. */
	wave_dev_get(vma->vm_file->private_data);
}

static void wave_vm_close(struct vm_area_struct *vma)
{
	wave_dev_put(vma->vm_file->private_data);
}

static vm_fault_t wave_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct wave_dev *wd = vma->vm_file->private_data;
	u64 within = wave_vma_offset(vma);
	u64 len = vma->vm_end - vma->vm_start;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct wave_region r;
	unsigned long addr, pfn;

	mutex_lock(&wd->lock);
	if (wd->dead || wave_region_resolve(wd, wave_vma_region(vma), &r))
		goto out;
	/* The queue was destroyed (and its slot maybe reused) since this VMA was made. */
	if (r.generation != (u32)(uintptr_t)vma->vm_private_data)
		goto out;
	if (within >= r.size || len > r.size - within)
		goto out;
	/* Map the whole VMA at once: regions are small and touched as a whole. */
	pfn = (r.phys + within) >> PAGE_SHIFT;
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE, pfn++) {
		if (r.host_window)
			pfn = wave_window_pfn(wd, within + (addr - vma->vm_start));
		ret = vmf_insert_pfn_prot(vma, addr, pfn, vma->vm_page_prot);
		if (ret != VM_FAULT_NOPAGE)
			break;
	}
out:
	if (ret == VM_FAULT_SIGBUS)
		atomic64_inc(&wd->sigbus_faults);
	mutex_unlock(&wd->lock);
	return ret;
}

static const struct vm_operations_struct wave_vm_ops = {
	.open = wave_vm_open,
	.close = wave_vm_close,
	.fault = wave_vm_fault,
};

int wave_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct wave_dev *wd = file->private_data;
	u64 region = wave_vma_region(vma);
	u64 within = wave_vma_offset(vma);
	u64 len = vma->vm_end - vma->vm_start;
	struct wave_region r;
	int ret;

	/* Anything but the read-only control page can drive the NIC. */
	if (region != WAVE_REGION_CONTROL && !capable(CAP_SYS_ADMIN)) {
		ret = -EPERM;
		goto reject;
	}

	mutex_lock(&wd->lock);
	ret = wd->dead ? -ENODEV : wave_region_resolve(wd, region, &r);
	if (ret)
		goto unlock;
	ret = -EINVAL;
	if (within >= r.size || len > r.size - within)
		goto unlock;
	if (r.read_only) {
		ret = -EPERM;
		if (vma->vm_flags & VM_WRITE)
			goto unlock;
		vm_flags_clear(vma, VM_MAYWRITE);
	} else if (!(vma->vm_flags & VM_SHARED)) {
		/* A private writable mapping would copy device memory on write. */
		ret = -EINVAL;
		goto unlock;
	}

	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = wave_pgprot(vma->vm_page_prot, r.cache);
	vma->vm_ops = &wave_vm_ops;
	vma->vm_private_data = (void *)(uintptr_t)r.generation;
	if (!r.host_window) {
		ret = io_remap_pfn_range(vma, vma->vm_start, (r.phys + within) >> PAGE_SHIFT,
					 len, vma->vm_page_prot);
		if (ret)
			goto unlock;
		zap_special_vma_range(vma, vma->vm_start, len);
	}
	wave_dev_get(wd);
	mutex_unlock(&wd->lock);
	return 0;

unlock:
	mutex_unlock(&wd->lock);
reject:
	atomic64_inc(&wd->rejected_mmaps);
	return ret;
}

/* Every user mapping of queue @id; wd->lock held. */
void wave_mmap_zap_queue(struct wave_dev *wd, u32 id)
{
	unmap_mapping_range(wd->inode->i_mapping, WAVE_MMAP_QUEUE_OFFSET(id), WAVE_REGION_SPAN, 1);
}

/* Every user mapping of the device; wd->lock held. */
void wave_mmap_zap_all(struct wave_dev *wd)
{
	unmap_mapping_range(wd->inode->i_mapping, 0, 0, 1);
}
