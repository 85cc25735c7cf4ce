/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The /dev/waveN interface: ioctls and the mmap offset scheme.
 *
 * Every argument struct starts with argsz, the size the caller knows (VFIO style): the kernel
 * reads min(argsz, its size) bytes, rejects argsz below the v1 size with EINVAL, and requires
 * unknown trailing bytes and reserved fields to be zero.
 *
 * Errors (besides EFAULT for an unreadable argument):
 *   ENOTTY      unknown ioctl number
 *   EINVAL      argsz too small, reserved field or flag set, size/dir/cache/kind/vector bad
 *   EPERM       a privileged ioctl without CAP_SYS_ADMIN
 *   ENOENT      the queue id names no live queue (includes a second destroy)
 *   ENOSPC      no room in the BAR's queue area
 *   EMFILE      the queue table is full
 *   EBADF       the eventfd argument is not an open file descriptor
 *   EOPNOTSUPP  a loopback-only operation on a PCI device, or the reverse
 *   ENODEV      the device was unbound or the NIC is not ready
 *
 * mmap: offset = WAVE_MMAP_OFFSET(region) + an offset within the region (page aligned).
 * The mapping must lie inside the region (else EINVAL); an unknown region gives EINVAL.
 * The control page is read-only (PROT_WRITE gives EPERM) and uncached; the doorbell page is
 * uncached; a queue region is mapped with its queue's cache mode; the host DMA window
 * (WAVE_REGION_HOST_WINDOW, ABI 1.1) is write-back RAM, and on a device without one (module
 * parameter host_window_size=0, or the allocation failed) mapping it gives EINVAL. After the
 * device is unbound or the queue destroyed, the mapping is zapped and a later access raises
 * SIGBUS.
 */
#ifndef WAVE_UAPI_IOCTL_H
#define WAVE_UAPI_IOCTL_H

#include "wave_types.h"
#if !defined(__bpf__)
#include <linux/ioctl.h>
#endif

#define WAVE_IOC_MAGIC 0xb7

/* Backends reported in wave_info.backend. */
#define WAVE_BACKEND_PCI 1u /* a PCI function: emulated (ivshmem) or a real SmartNIC */
#define WAVE_BACKEND_LOOPBACK 2u /* RAM-backed device for on-host mode */

struct wave_info {
	__u32 argsz;
	__u32 flags; /* none defined */
	__u32 abi_major; /* as the NIC wrote them in the control page */
	__u32 abi_minor;
	__u64 features;
	__u64 bar_size;
	__u64 heartbeat;
	__u32 nic_state;
	__u32 nr_vectors;
	__u32 max_queues;
	__u32 nr_queues; /* live queues */
	__u32 backend; /* WAVE_BACKEND_* */
	__u32 nic_peer_id;
	__u64 queue_area_free; /* bytes still free in the queue area */
};

struct wave_queue_create {
	__u32 argsz;
	__u32 flags; /* none defined */
	__u64 size; /* in: bytes, a non-zero multiple of 4096 */
	__u16 dir; /* in: WAVE_DIR_* */
	__u16 cache_mode; /* in: WAVE_CACHE_*; out: the mode chosen for DEFAULT */
	__u16 kind; /* in: WAVE_QKIND_* */
	__u16 vector; /* in: < nr_vectors */
	__u32 id; /* out: queue id, < WAVE_MAX_QUEUES */
	__u32 reserved; /* must be zero */
	__u64 bar_offset; /* out: where the region starts in the BAR */
	__u64 mmap_offset; /* out: the offset to pass to mmap */
};

struct wave_queue_destroy {
	__u32 argsz;
	__u32 id;
};

struct wave_doorbell {
	__u32 argsz;
	__u32 queue_id; /* the queue whose doorbell word to write */
	__u32 value; /* written to the queue's doorbell word before the notify */
	__u32 reserved; /* must be zero */
};

/* wave_irq_bind.flags */
#define WAVE_IRQ_F_NIC_DOORBELL (1u << 0) /* loopback only: fire on host doorbells instead */

struct wave_irq_bind {
	__u32 argsz;
	__u32 flags; /* WAVE_IRQ_F_* */
	__u32 vector; /* < nr_vectors */
	__s32 fd; /* an eventfd, or -1 to unbind */
};

struct wave_irq_raise {
	__u32 argsz;
	__u32 vector; /* loopback only: raise this host interrupt, as the NIC would */
};

#define WAVE_IOC_GET_INFO _IOR(WAVE_IOC_MAGIC, 0x00, struct wave_info)
#define WAVE_IOC_CREATE_QUEUE _IOWR(WAVE_IOC_MAGIC, 0x01, struct wave_queue_create)
#define WAVE_IOC_DESTROY_QUEUE _IOW(WAVE_IOC_MAGIC, 0x02, struct wave_queue_destroy)
#define WAVE_IOC_RING_DOORBELL _IOW(WAVE_IOC_MAGIC, 0x03, struct wave_doorbell)
#define WAVE_IOC_BIND_IRQ _IOW(WAVE_IOC_MAGIC, 0x04, struct wave_irq_bind)
#define WAVE_IOC_RAISE_IRQ _IOW(WAVE_IOC_MAGIC, 0x05, struct wave_irq_raise)

/* mmap regions */
#define WAVE_REGION_CONTROL 0u
#define WAVE_REGION_DOORBELL 1u
#define WAVE_REGION_BAR 2u /* loopback only: the whole window, as the NIC side sees it */
/* ABI 1.1: the host DMA window (wave_abi.h), write-back host RAM */
#define WAVE_REGION_HOST_WINDOW 3u
#define WAVE_REGION_QUEUE_BASE 0x100u /* + queue id */
#define WAVE_MMAP_REGION_SHIFT 32
#define WAVE_MMAP_OFFSET(region) ((__u64)(region) << WAVE_MMAP_REGION_SHIFT)
#define WAVE_MMAP_QUEUE_OFFSET(id) WAVE_MMAP_OFFSET(WAVE_REGION_QUEUE_BASE + (id))

WAVE_STATIC_ASSERT(sizeof(struct wave_info) == 72, "wave_info size");
WAVE_STATIC_ASSERT(sizeof(struct wave_queue_create) == 48, "wave_queue_create size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_create, id) == 24, "create id");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_create, mmap_offset) == 40, "create mmap");
WAVE_STATIC_ASSERT(sizeof(struct wave_queue_destroy) == 8, "wave_queue_destroy size");
WAVE_STATIC_ASSERT(sizeof(struct wave_doorbell) == 16, "wave_doorbell size");
WAVE_STATIC_ASSERT(sizeof(struct wave_irq_bind) == 16, "wave_irq_bind size");
WAVE_STATIC_ASSERT(sizeof(struct wave_irq_raise) == 8, "wave_irq_raise size");

#endif /* WAVE_UAPI_IOCTL_H */
