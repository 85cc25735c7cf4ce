// SPDX-License-Identifier: GPL-2.0
/*
 * wave.ko: the host side of a Wave SmartNIC. Module parameters, the "wave" device class, the
 * pseudo filesystem behind every device's shared address_space, and module init/exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "wave.h"
#include "wave_mem.h"
#include "wave_sched.h"

#define WAVE_MAX_EXTRA_IDS 8
#define WAVE_FS_MAGIC 0x57415645 /* "WAVE" */

static char *ids;
module_param(ids, charp, 0444);
MODULE_PARM_DESC(ids, "Extra PCI IDs to bind, \"vvvv:dddd,...\" (hex, up to 8)");

static unsigned int loopback;
module_param(loopback, uint, 0444);
MODULE_PARM_DESC(loopback, "Number of RAM-backed loopback devices (default 0)");

static unsigned long loopback_size = 4UL << 20;
module_param(loopback_size, ulong, 0444);
MODULE_PARM_DESC(loopback_size, "Bytes of each loopback BAR window, a power of two (default 4 MiB)");

/* /dev/waveN is root-only unless a udev rule says otherwise. */
static char *wave_devnode(const struct device *dev, umode_t *mode)
{
	if (mode)
		*mode = 0600;
	return NULL;
}

const struct class wave_class = {
	.name = WAVE_NAME,
	.devnode = wave_devnode,
	.dev_groups = wave_dev_groups,
};

/*
 * Every open file of a device points its f_mapping at one anonymous inode of this
 * filesystem, so unmap_mapping_range() on that inode reaches every user mapping, whatever
 * device node the files were opened through.
 *
 * The filesystem has no .owner on purpose: a module-owned superblock would pin the module
 * for as long as it is mounted, and it is mounted for the module's whole life. It is safe
 * because kern_unmount() in wave_exit() tears the superblock down synchronously (an
 * internal mount), after every device and so every inode is gone.
 */
static struct vfsmount *wave_fs_mnt;

static int wave_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, WAVE_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type wave_fs_type = {
	.name = "wave_inode",
	.init_fs_context = wave_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

struct inode *wave_fs_new_inode(void)
{
	return alloc_anon_inode(wave_fs_mnt->mnt_sb);
}

/* Parses "vvvv:dddd,..." into (vendor << 16 | device) words. */
static int wave_parse_ids(const char *spec, u32 *out, unsigned int *nr)
{
	char *copy, *cur, *tok;
	int ret = 0;

	*nr = 0;
	if (!spec || !*spec)
		return 0;
	copy = kstrdup(spec, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	cur = copy;
	while ((tok = strsep(&cur, ",")) != NULL) {
		char *dev_str = strchr(tok, ':');
		u16 vendor, device;

		if (!*tok)
			continue;
		if (*nr == WAVE_MAX_EXTRA_IDS) {
			pr_err("ids: more than %u entries\n", WAVE_MAX_EXTRA_IDS);
			ret = -EINVAL;
			break;
		}
		if (!dev_str) {
			pr_err("ids: \"%s\" is not vvvv:dddd\n", tok);
			ret = -EINVAL;
			break;
		}
		*dev_str++ = '\0';
		if (kstrtou16(tok, 16, &vendor) || kstrtou16(dev_str, 16, &device)) {
			pr_err("ids: \"%s:%s\" is not vvvv:dddd in hex\n", tok, dev_str);
			ret = -EINVAL;
			break;
		}
		out[(*nr)++] = (u32)vendor << 16 | device;
	}
	kfree(copy);
	return ret;
}

static int __init wave_init(void)
{
	u32 extra[WAVE_MAX_EXTRA_IDS];
	unsigned int nr_extra;
	int ret;

	ret = wave_parse_ids(ids, extra, &nr_extra);
	if (ret)
		return ret;

	wave_fs_mnt = kern_mount(&wave_fs_type);
	if (IS_ERR(wave_fs_mnt))
		return PTR_ERR(wave_fs_mnt);

	ret = wave_sched_init();
	if (ret)
		goto err_fs;
	ret = wave_chrdev_init();
	if (ret)
		goto err_sched;
	ret = class_register(&wave_class);
	if (ret)
		goto err_chrdev;
	ret = wave_loopback_init(loopback, loopback_size);
	if (ret)
		goto err_class;
	ret = wave_pci_init(extra, nr_extra);
	if (ret)
		goto err_loopback;
	pr_info("ABI %u.%u, %u loopback device(s)\n", WAVE_ABI_MAJOR, WAVE_ABI_MINOR, loopback);
	return 0;

err_loopback:
	wave_loopback_exit();
err_class:
	class_unregister(&wave_class);
err_chrdev:
	wave_chrdev_exit();
err_sched:
	wave_sched_exit();
err_fs:
	kern_unmount(wave_fs_mnt);
	return ret;
}

static void __exit wave_exit(void)
{
	/* The links first: they hold a device and kernel mappings of its queues. */
	wave_sched_exit();
	wave_mem_exit();
	wave_pci_exit();
	wave_loopback_exit();
	class_unregister(&wave_class);
	wave_chrdev_exit();
	kern_unmount(wave_fs_mnt);
}

module_init(wave_init);
module_exit(wave_exit);

MODULE_DESCRIPTION("Wave SmartNIC host driver: BAR queues, doorbells and interrupts for user space");
MODULE_LICENSE("GPL");
