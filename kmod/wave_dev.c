// SPDX-License-Identifier: GPL-2.0
/*
 * The device object: reference-counted lifetime, minor numbers, registration as /dev/waveN
 * and the teardown that makes unbind safe while files, mappings and eventfds are still live.
 *
 * Lifetime: the backend (PCI probe, loopback init) holds one reference from
 * wave_dev_alloc() until after wave_dev_unregister(); every open file and every user mapping
 * holds another. The memory behind the BAR window (loopback RAM) and the anonymous inode
 * are freed only when the last reference goes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "wave.h"

static DEFINE_IDA(wave_minor_ida);
/* minor -> live device, for open() and the kernel API. */
static DEFINE_XARRAY(wave_devices);

struct wave_dev *wave_dev_alloc(const struct wave_backend_ops *ops)
{
	struct wave_dev *wd;
	unsigned int i;

	wd = kzalloc_obj(*wd);
	if (!wd)
		return NULL;
	kref_init(&wd->ref);
	mutex_init(&wd->lock);
	spin_lock_init(&wd->db_lock);
	wd->ops = ops;
	wd->minor = -1;
	for (i = 0; i < WAVE_MAX_VECTORS; i++) {
		wd->vec[i].wd = wd;
		wd->vec[i].index = i;
		wd->vec[i].irq = -1;
		spin_lock_init(&wd->vec[i].bind_lock);
	}
	return wd;
}

static void wave_dev_release(struct kref *ref)
{
	struct wave_dev *wd = container_of(ref, struct wave_dev, ref);

	if (wd->ops->release)
		wd->ops->release(wd);
	if (wd->inode)
		iput(wd->inode);
	mutex_destroy(&wd->lock);
	kfree(wd);
}

void wave_dev_get(struct wave_dev *wd)
{
	kref_get(&wd->ref);
}

void wave_dev_put(struct wave_dev *wd)
{
	kref_put(&wd->ref, wave_dev_release);
}

/* Returns the device with a reference, or NULL if no live device has @minor. */
struct wave_dev *wave_dev_get_by_minor(unsigned int minor)
{
	struct wave_dev *wd;

	xa_lock(&wave_devices);
	wd = xa_load(&wave_devices, minor);
	/* An entry is erased before its registration reference is dropped. */
	if (wd)
		kref_get(&wd->ref);
	xa_unlock(&wave_devices);
	return wd;
}

/* The NIC's state word; the caller holds wd->lock and has checked !wd->dead. */
u32 wave_dev_nic_state(struct wave_dev *wd)
{
	return readl(&wd->ctrl->nic_state);
}

/*
 * Cuts a device off from its users: queues destroyed, the NIC told, every user mapping
 * zapped, every eventfd released, and every later entry point refused with ENODEV.
 */
static void wave_dev_kill(struct wave_dev *wd)
{
	unsigned long flags;

	mutex_lock(&wd->lock);
	wave_queue_destroy_all(wd);
	writel(WAVE_HOST_STATE_DETACHED, &wd->ctrl->host_state);
	/* Last word to the NIC: the queue table changed and the host left. */
	wave_notify_nic(wd, WAVE_ADMIN_VECTOR);
	spin_lock_irqsave(&wd->db_lock, flags);
	wd->dead = true;
	spin_unlock_irqrestore(&wd->db_lock, flags);
	/* Faults now see dead under wd->lock, so nothing can map the pages back in. */
	wave_mmap_zap_all(wd);
	mutex_unlock(&wd->lock);

	wave_irq_unbind_all(wd);
}

/*
 * Makes a device whose backend has filled ctrl, db, bar_* and nr_vectors visible as
 * /dev/waveN. On failure the caller still owns its reference.
 */
int wave_dev_register(struct wave_dev *wd, struct device *parent)
{
	struct device *dev;
	int minor, ret;

	wd->inode = wave_fs_new_inode();
	if (IS_ERR(wd->inode)) {
		ret = PTR_ERR(wd->inode);
		wd->inode = NULL;
		return ret;
	}

	minor = ida_alloc_max(&wave_minor_ida, WAVE_MAX_DEVICES - 1, GFP_KERNEL);
	if (minor < 0)
		return minor;
	wd->minor = minor;
	snprintf(wd->name, sizeof(wd->name), WAVE_NAME "%d", minor);

	mutex_lock(&wd->lock);
	wave_queue_table_reset(wd);
	writel(WAVE_HOST_STATE_ATTACHED, &wd->ctrl->host_state);
	mutex_unlock(&wd->lock);

	/* Published before the node appears, so whoever sees /dev/waveN can open it. */
	ret = xa_err(xa_store(&wave_devices, minor, wd, GFP_KERNEL));
	if (ret)
		goto err_ida;
	dev = device_create(&wave_class, parent, wave_devt(minor), wd, "%s", wd->name);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		goto err_xa;
	}
	wd->dev = dev;
	dev_info(dev, "%s backend, BAR window %llu KiB, ABI %u.%u, %u vectors (%u with irq)\n",
		 wd->ops->name, wd->bar_size >> 10, wd->abi_major, wd->abi_minor, wd->nr_vectors,
		 wd->nr_irqs);
	return 0;

err_xa:
	xa_erase(&wave_devices, minor);
	/* A racing open() may hold the device already: cut it off as unbind would. */
	wave_dev_kill(wd);
err_ida:
	writel(WAVE_HOST_STATE_DETACHED, &wd->ctrl->host_state);
	ida_free(&wave_minor_ida, minor);
	wd->minor = -1;
	return ret;
}

/*
 * Detaches the device from everything that can reach it: no new opens, no sysfs, no queues,
 * every user mapping zapped (a later access gets SIGBUS), every eventfd released. Files that
 * stay open see ENODEV. The backend may unmap its BAR after this returns.
 */
void wave_dev_unregister(struct wave_dev *wd)
{
	xa_erase(&wave_devices, wd->minor);
	device_destroy(&wave_class, wave_devt(wd->minor));
	wd->dev = NULL;
	wave_dev_kill(wd);
	ida_free(&wave_minor_ida, wd->minor);
	pr_info("%s: unregistered\n", wd->name);
}
