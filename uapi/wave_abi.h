/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave ABI v1: the layout of the SmartNIC BAR window shared by wave.ko, BPF programs,
 * libwave and the NIC firmware.
 *
 * BAR layout (every region page-aligned, so each can be mapped with its own cache mode):
 *
 *   0x0000  control page   magic, version, features, NIC heartbeat, queue table, NIC stats
 *   0x1000  doorbell page  host-written doorbell words, one per queue
 *   0x2000  queue area     queue regions, allocated by wave.ko on WAVE_IOC_CREATE_QUEUE
 *
 * All multi-byte fields are little-endian. Every field written by the other side of the link
 * is untrusted: bounds-check it before use.
 */
#ifndef WAVE_UAPI_ABI_H
#define WAVE_UAPI_ABI_H

#include "wave_types.h"

#define WAVE_ABI_MAGIC 0x45564157u /* "WAVE" in memory order */
#define WAVE_ABI_MAJOR 1u
#define WAVE_ABI_MINOR 1u /* 1: host DMA window (host_window_addr/size) */

#define WAVE_PAGE_SIZE 4096u
#define WAVE_BAR_CONTROL_OFF 0x0000u
#define WAVE_BAR_DOORBELL_OFF 0x1000u
#define WAVE_BAR_QUEUE_AREA_OFF 0x2000u
/* Smallest BAR that holds the fixed pages and one queue page. */
#define WAVE_BAR_MIN_SIZE 0x3000u

#define WAVE_MAX_QUEUES 32u
/*
 * Doorbell / interrupt vectors. Vector 0 is the admin vector: the host rings it after it
 * changed the queue table; the NIC raises it for NIC state changes.
 */
#define WAVE_MAX_VECTORS 8u
#define WAVE_ADMIN_VECTOR 0u

/* Feature bits in wave_control_page.features (set by the NIC). */
#define WAVE_FEAT_HEARTBEAT (1ull << 0) /* heartbeat counter advances while the NIC runs */
#define WAVE_FEAT_DOORBELL_IRQ (1ull << 1) /* doorbells and interrupts are wired */
#define WAVE_FEAT_DMA (1ull << 2) /* the NIC can reach host memory by DMA */

/* wave_control_page.nic_state, written by the NIC. */
#define WAVE_NIC_STATE_OFF 0u /* not initialised, or stopped */
#define WAVE_NIC_STATE_READY 1u /* firmware runs and serves the queue table */
#define WAVE_NIC_STATE_STOPPING 2u /* firmware is shutting down */

/* wave_control_page.host_state, written by wave.ko. */
#define WAVE_HOST_STATE_DETACHED 0u
#define WAVE_HOST_STATE_ATTACHED 1u

/* Queue direction: who produces into the ring. */
#define WAVE_DIR_HOST_TO_NIC 1u /* message queues: host writes over a WC mapping */
#define WAVE_DIR_NIC_TO_HOST 2u /* decision queues: host reads through a WT mapping */

/* Page attribute of the host's mapping of a region. */
#define WAVE_CACHE_DEFAULT 0u /* WC for host-to-NIC, WT for NIC-to-host */
#define WAVE_CACHE_UC 1u /* uncached (UC-minus with PAT) */
#define WAVE_CACHE_WC 2u /* write-combining */
#define WAVE_CACHE_WT 3u /* write-through */
#define WAVE_CACHE_WB 4u /* write-back: the loopback device's coherent RAM (reported only) */

/* What a queue carries; the NIC uses it to pick the consumer. */
#define WAVE_QKIND_RAW 0u /* bytes with no structure known to the NIC */
#define WAVE_QKIND_MESSAGE 1u /* host-to-NIC event ring */
#define WAVE_QKIND_DECISION 2u /* NIC-to-host decision slots and ring */
#define WAVE_QKIND_DMA 3u /* descriptors for bulk transfers */
#define WAVE_QKIND_MAX 3u

/* wave_queue_desc.state */
#define WAVE_QSTATE_FREE 0u
#define WAVE_QSTATE_ACTIVE 1u

/*
 * One entry of the queue table. Written by wave.ko only, with the state word last
 * (WAVE_QSTATE_ACTIVE) on create and first (WAVE_QSTATE_FREE) on destroy.
 */
struct wave_queue_desc {
	__le32 state; /* WAVE_QSTATE_* */
	__le32 generation; /* bumped on every create of this entry */
	__le64 offset; /* from the start of the BAR, page aligned */
	__le64 size; /* bytes, a multiple of WAVE_PAGE_SIZE */
	__le16 dir; /* WAVE_DIR_* */
	__le16 cache_mode; /* WAVE_CACHE_* of the host mapping (never DEFAULT here) */
	__le16 kind; /* WAVE_QKIND_* */
	__le16 vector; /* doorbell vector (host to NIC) and interrupt vector (NIC to host) */
	__le32 reserved[4];
};

/*
 * Host DMA window (ABI 1.1). wave.ko allocates host_window_size bytes of host RAM per device
 * (module parameter host_window_size) that the NIC's DMA engine reads and writes, and user
 * space maps write-back through WAVE_REGION_HOST_WINDOW (wave_ioctl.h). Addresses in DMA
 * descriptors (wave_msg.h, wave_dma_sge.addr) are offsets into the window; the NIC adds
 * host_window_addr.
 *   PCI device: coherent DMA memory (dma_alloc_coherent on the function); host_window_addr is
 *     its bus address. A NIC that can use it sets WAVE_FEAT_DMA. The emulated NIC (ivshmem)
 *     cannot reach guest RAM, does not set WAVE_FEAT_DMA, and nothing serves the window.
 *   Loopback device: plain kernel memory; host_window_addr is 0 (no bus), and the NIC side
 *     (a process holding the device open in the NIC role) maps the same region.
 * A window is never placed in BAR memory: host accesses to it would be MMIO.
 */

/* NIC-written statistics area in the control page, read by the host (wavectl, sysfs). */
#define WAVE_NIC_STATS_OFF 0x800u
#define WAVE_NIC_STATS_SIZE 0x800u

struct wave_control_page {
	__le32 magic; /* WAVE_ABI_MAGIC, written by the NIC last during init */
	__le16 abi_major;
	__le16 abi_minor;
	__le64 features; /* WAVE_FEAT_* */
	__le64 bar_size; /* bytes of the whole BAR window */
	__le64 heartbeat; /* advanced by the NIC at least every heartbeat_period_us */
	__le32 heartbeat_period_us;
	__le32 nic_state; /* WAVE_NIC_STATE_* */
	__le32 nic_peer_id; /* emulated link: ivshmem peer id that receives doorbells */
	__le32 nr_vectors; /* doorbell/interrupt vectors wired, <= WAVE_MAX_VECTORS */
	__le32 host_state; /* WAVE_HOST_STATE_*, written by wave.ko */
	__le32 queue_table_gen; /* bumped by wave.ko after every queue table change */
	__le64 nic_doorbells; /* doorbells the NIC has seen, for diagnostics */
	__le64 nic_irqs_raised; /* interrupts the NIC has raised */
	/*
	 * ABI 1.1: the host DMA window, written by wave.ko before host_state says ATTACHED:
	 * host RAM the driver allocated for the NIC's DMA engine (see "Host DMA window" below).
	 */
	__le64 host_window_addr; /* bus address for the NIC's DMA engine, 0: none published */
	__le64 host_window_size; /* bytes, a multiple of WAVE_PAGE_SIZE; 0: no window */
	__u8 reserved0[0x100 - 0x58];
	struct wave_queue_desc queues[WAVE_MAX_QUEUES]; /* at 0x100 */
	__u8 reserved1[WAVE_NIC_STATS_OFF - 0x100 - WAVE_MAX_QUEUES * 48];
	__u8 nic_stats[WAVE_NIC_STATS_SIZE]; /* at 0x800, format: wave_stats.h */
};

/*
 * Doorbell page: the host writes a queue's word (for example its producer position) and then
 * notifies the queue's vector. The NIC reads the words when the vector fires, so several
 * queues may share a vector without losing which one rang.
 */
struct wave_doorbell_page {
	__le32 queue_db[WAVE_MAX_QUEUES];
	__le32 vector_db[WAVE_MAX_VECTORS]; /* incremented by the host on every notify */
	__u8 reserved[WAVE_PAGE_SIZE - 4 * (WAVE_MAX_QUEUES + WAVE_MAX_VECTORS)];
};

WAVE_STATIC_ASSERT(sizeof(struct wave_queue_desc) == 48, "queue desc size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_desc, offset) == 8, "desc offset");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_desc, size) == 16, "desc size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_desc, dir) == 24, "desc dir");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_queue_desc, vector) == 30, "desc vector");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, abi_major) == 4, "abi_major");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, features) == 8, "features");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, bar_size) == 16, "bar_size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, heartbeat) == 24, "heartbeat");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, nic_state) == 36, "nic_state");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, nic_peer_id) == 40, "peer id");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, host_state) == 48, "host_state");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, queue_table_gen) == 52, "qt gen");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, nic_doorbells) == 56, "doorbells");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, host_window_addr) == 0x48,
		   "host window addr");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, host_window_size) == 0x50,
		   "host window size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, queues) == 0x100, "queue table");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, nic_stats) == WAVE_NIC_STATS_OFF,
		   "nic stats");
WAVE_STATIC_ASSERT(sizeof(struct wave_control_page) == WAVE_PAGE_SIZE, "control page size");
WAVE_STATIC_ASSERT(sizeof(struct wave_doorbell_page) == WAVE_PAGE_SIZE, "doorbell page size");

/* ivshmem (emulated NIC) BAR0 registers, from QEMU's docs/specs/ivshmem-spec. */
#define WAVE_IVSHMEM_REG_INTR_MASK 0x00u
#define WAVE_IVSHMEM_REG_INTR_STATUS 0x04u
#define WAVE_IVSHMEM_REG_IV_POSITION 0x08u
#define WAVE_IVSHMEM_REG_DOORBELL 0x0cu
#define WAVE_IVSHMEM_DOORBELL(peer, vector) ((((__u32)(peer)) << 16) | ((__u32)(vector) & 0xffffu))

#endif /* WAVE_UAPI_ABI_H */
