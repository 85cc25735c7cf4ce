// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/waveN: open, release and the ioctls of wave_ioctl.h.
 *
 * Every handler copies its argument in, validates everything that does not depend on device
 * state, and only then acts (under wd->lock, in the files that own the state). User memory is
 * never touched with wd->lock held.
 */
#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "wave.h"
#include "wave_mem.h"
#include "wave_mem_kpath.h"
#include "wave_sched.h"

static dev_t wave_devt_base;
static struct cdev wave_cdev;

dev_t wave_devt(unsigned int minor)
{
	return MKDEV(MAJOR(wave_devt_base), minor);
}

/*
 * Reads an argsz-versioned argument (wave_ioctl.h rules) into @karg of @ksize bytes: argsz
 * first, at least @min bytes; fields past argsz read as zero, bytes past @ksize must be zero.
 */
int wave_copy_versioned_arg(void *karg, size_t ksize, size_t min, const void __user *uarg)
{
	u32 argsz;
	int ret;

	if (get_user(argsz, (const u32 __user *)uarg))
		return -EFAULT;
	if (argsz < min)
		return -EINVAL;
	ret = copy_struct_from_user(karg, ksize, uarg, argsz);
	return ret == -E2BIG ? -EINVAL : ret;
}

/*
 * A device ioctl's argument: at least @ksize bytes, argsz capped at a page so a caller cannot
 * make the kernel scan an arbitrary range.
 */
static int wave_copy_arg(void *karg, size_t ksize, const void __user *uarg)
{
	u32 argsz;

	if (get_user(argsz, (const u32 __user *)uarg))
		return -EFAULT;
	if (argsz > PAGE_SIZE)
		return -EINVAL;
	return wave_copy_versioned_arg(karg, ksize, ksize, uarg);
}

static int wave_ioc_get_info(struct wave_dev *wd, void __user *uarg)
{
	struct wave_info info = {};
	u32 hdr[2];

	/* Only argsz and flags are input; the rest of the caller's buffer is output space. */
	if (copy_from_user(hdr, uarg, sizeof(hdr)))
		return -EFAULT;
	if (hdr[0] < sizeof(info) || hdr[1])
		return -EINVAL;

	mutex_lock(&wd->lock);
	if (wd->dead) {
		mutex_unlock(&wd->lock);
		return -ENODEV;
	}
	info.argsz = sizeof(info);
	info.abi_major = wd->abi_major;
	info.abi_minor = wd->abi_minor;
	info.features = readq(&wd->ctrl->features);
	info.bar_size = wd->bar_size;
	info.heartbeat = readq(&wd->ctrl->heartbeat);
	info.nic_state = readl(&wd->ctrl->nic_state);
	info.nr_vectors = wd->nr_vectors;
	info.max_queues = WAVE_MAX_QUEUES;
	info.nr_queues = wd->nr_queues;
	info.backend = wd->ops->backend;
	info.nic_peer_id = wd->nic_peer_id;
	info.queue_area_free = wave_queue_area_free(wd);
	mutex_unlock(&wd->lock);

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static bool wave_cache_mode_valid(u16 mode)
{
	return mode == WAVE_CACHE_DEFAULT || mode == WAVE_CACHE_UC || mode == WAVE_CACHE_WC ||
	       mode == WAVE_CACHE_WT;
}

static int wave_ioc_create_queue(struct wave_dev *wd, void __user *uarg)
{
	struct wave_queue_create req;
	int ret;

	ret = wave_copy_arg(&req, sizeof(req), uarg);
	if (ret)
		return ret;
	if (req.flags || req.reserved)
		return -EINVAL;
	if (!req.size || !IS_ALIGNED(req.size, WAVE_PAGE_SIZE))
		return -EINVAL;
	if (req.dir != WAVE_DIR_HOST_TO_NIC && req.dir != WAVE_DIR_NIC_TO_HOST)
		return -EINVAL;
	if (!wave_cache_mode_valid(req.cache_mode) || req.kind > WAVE_QKIND_MAX)
		return -EINVAL;
	if (req.vector >= wd->nr_vectors)
		return -EINVAL;

	ret = wave_queue_create(wd, &req);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &req, sizeof(req))) {
		/* Nobody would ever learn the id: take the queue back. */
		wave_queue_destroy(wd, req.id);
		return -EFAULT;
	}
	return 0;
}

static int wave_ioc_destroy_queue(struct wave_dev *wd, void __user *uarg)
{
	struct wave_queue_destroy req;
	int ret;

	ret = wave_copy_arg(&req, sizeof(req), uarg);
	if (ret)
		return ret;
	return wave_queue_destroy(wd, req.id);
}

static int wave_ioc_ring_doorbell(struct wave_dev *wd, void __user *uarg)
{
	struct wave_doorbell req;
	int ret;

	ret = wave_copy_arg(&req, sizeof(req), uarg);
	if (ret)
		return ret;
	if (req.reserved)
		return -EINVAL;
	if (req.queue_id >= WAVE_MAX_QUEUES)
		return -ENOENT;

	mutex_lock(&wd->lock);
	if (wd->dead)
		ret = -ENODEV;
	else if (!wd->queues[req.queue_id].live)
		ret = -ENOENT;
	else
		ret = wave_ring_doorbell(wd, req.queue_id, req.value,
					 wd->queues[req.queue_id].vector);
	mutex_unlock(&wd->lock);
	return ret;
}

static int wave_ioc_bind_irq(struct wave_dev *wd, void __user *uarg)
{
	bool loopback = wd->ops->backend == WAVE_BACKEND_LOOPBACK;
	struct wave_irq_bind req;
	bool nic_doorbell;
	int ret;

	ret = wave_copy_arg(&req, sizeof(req), uarg);
	if (ret)
		return ret;
	if (req.flags & ~WAVE_IRQ_F_NIC_DOORBELL)
		return -EINVAL;
	nic_doorbell = req.flags & WAVE_IRQ_F_NIC_DOORBELL;
	if (nic_doorbell && !loopback)
		return -EOPNOTSUPP;
	if (req.vector >= wd->nr_vectors)
		return -EINVAL;
	/* A vector the NIC serves but with no host interrupt wired (no MSI-X). */
	if (!nic_doorbell && req.vector >= wd->nr_irqs)
		return -EOPNOTSUPP;
	if (req.fd < -1)
		return -EBADF;
	return wave_irq_bind(wd, req.vector, nic_doorbell, req.fd);
}

static int wave_ioc_raise_irq(struct wave_dev *wd, void __user *uarg)
{
	struct wave_irq_raise req;
	int ret;

	ret = wave_copy_arg(&req, sizeof(req), uarg);
	if (ret)
		return ret;
	if (wd->ops->backend != WAVE_BACKEND_LOOPBACK)
		return -EOPNOTSUPP;
	if (req.vector >= wd->nr_vectors)
		return -EINVAL;

	mutex_lock(&wd->lock);
	if (wd->dead)
		ret = -ENODEV;
	else
		wave_irq_fire_host(&wd->vec[req.vector]);
	mutex_unlock(&wd->lock);
	return ret;
}

static long wave_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct wave_dev *wd = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case WAVE_IOC_GET_INFO:
		ret = wave_ioc_get_info(wd, uarg);
		goto out;
	case WAVE_IOC_CREATE_QUEUE:
	case WAVE_IOC_DESTROY_QUEUE:
	case WAVE_IOC_RING_DOORBELL:
	case WAVE_IOC_BIND_IRQ:
	case WAVE_IOC_RAISE_IRQ:
		break;
	case WAVE_IOC_SCHED_ATTACH:
	case WAVE_IOC_SCHED_DETACH:
	case WAVE_IOC_SCHED_STATS:
		/* The scheduling link (wave_sched.c) checks its own privileges. */
		ret = wave_sched_ioctl(wd, cmd, uarg);
		goto out;
	case WAVE_IOC_MEM_ATTACH:
	case WAVE_IOC_MEM_DETACH:
	case WAVE_IOC_MEM_STATS:
	case WAVE_IOC_MEM_RELEASE:
	case WAVE_IOC_MEM_MAPS:
		/* The memory link's batch path (wave_mem.c) checks its own privileges. */
		ret = wave_mem_ioctl(file, wd, cmd, uarg);
		goto out;
	default:
		ret = -ENOTTY;
		goto out;
	}

	if (!capable(CAP_SYS_ADMIN)) {
		ret = -EPERM;
		goto out;
	}
	switch (cmd) {
	case WAVE_IOC_CREATE_QUEUE:
		ret = wave_ioc_create_queue(wd, uarg);
		break;
	case WAVE_IOC_DESTROY_QUEUE:
		ret = wave_ioc_destroy_queue(wd, uarg);
		break;
	case WAVE_IOC_RING_DOORBELL:
		ret = wave_ioc_ring_doorbell(wd, uarg);
		break;
	case WAVE_IOC_BIND_IRQ:
		ret = wave_ioc_bind_irq(wd, uarg);
		break;
	default:
		ret = wave_ioc_raise_irq(wd, uarg);
		break;
	}
out:
	if (ret < 0)
		atomic64_inc(&wd->rejected_ioctls);
	return ret;
}

static int wave_open(struct inode *inode, struct file *file)
{
	struct wave_dev *wd = wave_dev_get_by_minor(iminor(inode));

	if (!wd)
		return -ENODEV;
	file->private_data = wd;
	/* All files of the device share one address_space: see wave_main.c. */
	file->f_mapping = wd->inode->i_mapping;
	return nonseekable_open(inode, file);
}

static int wave_release(struct inode *inode, struct file *file)
{
	wave_mem_file_release(file);
	wave_dev_put(file->private_data);
	return 0;
}

static const struct file_operations wave_fops = {
	.owner = THIS_MODULE,
	.open = wave_open,
	.release = wave_release,
	.unlocked_ioctl = wave_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = wave_mmap,
};

int wave_chrdev_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&wave_devt_base, 0, WAVE_MAX_DEVICES, WAVE_NAME);
	if (ret)
		return ret;
	/* One cdev spans every minor; open() finds the device by minor. */
	cdev_init(&wave_cdev, &wave_fops);
	wave_cdev.owner = THIS_MODULE;
	ret = cdev_add(&wave_cdev, wave_devt_base, WAVE_MAX_DEVICES);
	if (ret)
		unregister_chrdev_region(wave_devt_base, WAVE_MAX_DEVICES);
	return ret;
}

void wave_chrdev_exit(void)
{
	cdev_del(&wave_cdev);
	unregister_chrdev_region(wave_devt_base, WAVE_MAX_DEVICES);
}
