/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wave.ko internal interfaces: the device object shared by the PCI and loopback backends, the
 * char device, mmap, interrupts and sysfs.
 *
 * Locking, outermost first:
 *   mmap_lock / VMA lock  (mmap and fault handlers run under it)
 *   wave_dev.lock         mutex: queue table, eventfd bindings, the dead flag, kernel mappings
 *   i_mmap_rwsem          taken by unmap_mapping_range() while wave_dev.lock is held
 *   wave_dev.db_lock      spinlock: doorbell page writes and NIC notifications
 * Never copy to or from user space while holding wave_dev.lock: a fault would take mmap_lock
 * in the wrong order.
 */
#ifndef WAVE_KMOD_WAVE_H
#define WAVE_KMOD_WAVE_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "wave_abi.h"
#include "wave_ioctl.h"

/* The ABI's pages are 4 KiB; the host mapping code assumes the kernel's pages are too. */
#if PAGE_SIZE != 4096
#error "wave.ko maps 4 KiB ABI pages one to one and needs PAGE_SIZE == 4096"
#endif

#define WAVE_NAME "wave"
#define WAVE_MAX_DEVICES 64

struct wave_dev;
struct pci_dev;

/* One doorbell/interrupt vector. */
struct wave_vector {
	struct wave_dev *wd;
	unsigned int index;
	/* Guards the two bindings; taken in interrupt context, so never held for long. */
	spinlock_t bind_lock;
	/* Host interrupt (MSI-X, or WAVE_IOC_RAISE_IRQ on loopback) fires this eventfd. */
	struct eventfd_ctx *host_irq;
	/* Loopback only: a host doorbell on this vector fires this eventfd (the NIC side). */
	struct eventfd_ctx *nic_doorbell;
	atomic64_t irqs;	/* host interrupts delivered on this vector */
	u32 notify_count;	/* last value written to vector_db[index], under db_lock */
	int irq;		/* Linux irq number, or -1 when the vector has no interrupt */
	char irq_name[24];
};

/* A queue region in the BAR's queue area. Guarded by wave_dev.lock. */
struct wave_queue {
	bool live;
	u32 generation;		/* bumped on every create of this slot */
	u64 offset;		/* from the start of the BAR */
	u64 size;
	u16 dir;
	u16 cache_mode;		/* the mode actually used (never DEFAULT) */
	u16 kind;
	u16 vector;
	void __iomem *kaddr;	/* kernel mapping, created on demand by wave_queue_kaddr() */
};

/* The host DMA window (wave_window.c): host RAM the NIC's DMA engine reaches. */
struct wave_host_window {
	void *cpu;		/* kernel address, NULL when the device has no window */
	dma_addr_t bus;		/* the NIC's address of it; 0 on loopback */
	u64 size;		/* bytes, 0 when the device has no window */
};

/* What differs between a PCI function and the RAM-backed loopback device. */
struct wave_backend_ops {
	u32 backend;		/* WAVE_BACKEND_* */
	const char *name;
	/* Tell the NIC that @vector rang. Called under db_lock on a live device. */
	void (*notify_nic)(struct wave_dev *wd, unsigned int vector);
	/* Kernel mapping of a queue region with the queue's cache mode. */
	void __iomem *(*map_queue)(struct wave_dev *wd, const struct wave_queue *q);
	void (*unmap_queue)(struct wave_dev *wd, void __iomem *addr);
	/* Free the backend's memory; called once, when the last reference goes. */
	void (*release)(struct wave_dev *wd);
};

struct wave_dev {
	struct kref ref;
	struct mutex lock;	/* queue table, eventfd bindings, dead, kernel mappings */
	spinlock_t db_lock;	/* doorbell page writes and NIC notifications */
	/* Set once at unregister, under lock and db_lock; every entry point checks it. */
	bool dead;

	const struct wave_backend_ops *ops;
	void *backend_priv;

	int minor;
	char name[16];
	struct device *dev;	/* the class device behind /dev/waveN */
	/* Anonymous inode whose address_space every open file shares, so one
	 * unmap_mapping_range() reaches every user mapping of the device.
	 */
	struct inode *inode;

	/* The control and doorbell pages: UC MMIO on PCI, kernel RAM on loopback. */
	struct wave_control_page __iomem *ctrl;
	struct wave_doorbell_page __iomem *db;
	phys_addr_t bar_phys;
	u64 bar_size;
	bool bar_is_ram;	/* loopback: every user mapping is write-back */
	/* Set before registration and constant until the last reference goes. */
	struct wave_host_window window;

	u16 abi_major;		/* as the NIC wrote them at probe */
	u16 abi_minor;
	u32 nr_vectors;		/* doorbell vectors usable, <= WAVE_MAX_VECTORS */
	u32 nr_irqs;		/* of those, how many have a host interrupt wired */
	u32 nic_peer_id;	/* PCI: ivshmem peer that receives doorbells */

	u32 queue_table_gen;
	unsigned int nr_queues;
	struct wave_queue queues[WAVE_MAX_QUEUES];
	struct wave_vector vec[WAVE_MAX_VECTORS];

	/* Counters of refused input, shown in sysfs. */
	atomic64_t rejected_ioctls;
	atomic64_t rejected_mmaps;
	atomic64_t bad_nic_fields;	/* control page values out of range */
	atomic64_t doorbells;
	atomic64_t sigbus_faults;
};

/* wave_main.c: module-wide objects. */
extern const struct class wave_class;
struct inode *wave_fs_new_inode(void);

/* wave_dev.c: lifetime and registration. */
struct wave_dev *wave_dev_alloc(const struct wave_backend_ops *ops);
int wave_dev_register(struct wave_dev *wd, struct device *parent);
void wave_dev_unregister(struct wave_dev *wd);
void wave_dev_get(struct wave_dev *wd);
void wave_dev_put(struct wave_dev *wd);
struct wave_dev *wave_dev_get_by_minor(unsigned int minor);
u32 wave_dev_nic_state(struct wave_dev *wd);

/* wave_queue.c: the queue table and the queue area allocator (wave_dev.lock held). */
void wave_queue_table_reset(struct wave_dev *wd);
int wave_queue_create(struct wave_dev *wd, struct wave_queue_create *req);
int wave_queue_destroy(struct wave_dev *wd, u32 id);
void wave_queue_destroy_all(struct wave_dev *wd);
u64 wave_queue_area_free(struct wave_dev *wd);

/*
 * Kernel API for in-module users (the kfuncs of a later issue). A queue's kernel mapping is
 * created on first use and released when the queue is destroyed; a caller must not use the
 * address after it destroyed the queue or dropped its device reference.
 */
struct wave_queue_info {
	u64 offset;
	u64 size;
	u32 generation;
	u16 dir;
	u16 cache_mode;
	u16 kind;
	u16 vector;
};

int wave_queue_lookup(struct wave_dev *wd, u32 id, struct wave_queue_info *info);
void __iomem *wave_queue_kaddr(struct wave_dev *wd, u32 id);

/* wave_irq.c: eventfd bindings, doorbells, MSI-X. */
int wave_irq_bind(struct wave_dev *wd, u32 vector, bool nic_doorbell, int fd);
void wave_irq_unbind_all(struct wave_dev *wd);
void wave_irq_fire_host(struct wave_vector *v);
void wave_irq_signal_nic(struct wave_vector *v);
int wave_notify_nic(struct wave_dev *wd, unsigned int vector);
int wave_ring_doorbell(struct wave_dev *wd, u32 queue_id, u32 value, unsigned int vector);
int wave_irq_setup_msix(struct wave_dev *wd, struct pci_dev *pdev);
void wave_irq_free_msix(struct wave_dev *wd, struct pci_dev *pdev);

/* wave_cdev.c */
int wave_copy_versioned_arg(void *karg, size_t ksize, size_t min, const void __user *uarg);
int wave_chrdev_init(void);
void wave_chrdev_exit(void);
dev_t wave_devt(unsigned int minor);

/* wave_mmap.c */
struct file;
struct vm_area_struct;
int wave_mmap(struct file *file, struct vm_area_struct *vma);
void wave_mmap_zap_queue(struct wave_dev *wd, u32 id);
void wave_mmap_zap_all(struct wave_dev *wd);

/* wave_window.c: the host DMA window (before wave_dev_register()). */
int wave_window_alloc_coherent(struct wave_dev *wd, struct device *dma_dev);
int wave_window_alloc_ram(struct wave_dev *wd);
void wave_window_free_ram(struct wave_dev *wd);
unsigned long wave_window_pfn(const struct wave_dev *wd, u64 off);

/* wave_sysfs.c */
extern const struct attribute_group *wave_dev_groups[];

/* wave_pci.c */
int wave_pci_init(const u32 *extra_ids, unsigned int nr_extra);
void wave_pci_exit(void);

/* wave_loopback.c */
int wave_loopback_init(unsigned int count, unsigned long size);
void wave_loopback_exit(void);

#endif /* WAVE_KMOD_WAVE_H */
