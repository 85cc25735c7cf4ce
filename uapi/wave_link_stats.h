/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The link layer's statistics, which the NIC firmware publishes in the control page's last
 * reserved block (wave_control_page.reserved1, BAR 0x700..0x7ff; the NIC stats area at 0x800
 * belongs to the actor runtime, see wave_stats.h). Read by wavectl, sysfs and the tests.
 *
 * The NIC is the only writer. Every counter is a naturally aligned 64-bit little-endian word,
 * stored whole, so a host reader sees either the old or the new value of each counter (never a
 * torn one); counters are not a consistent snapshot of each other.
 */
#ifndef WAVE_UAPI_LINK_STATS_H
#define WAVE_UAPI_LINK_STATS_H

#include "wave_types.h"
#include "wave_abi.h"

#define WAVE_LINK_STATS_MAGIC 0x4b4e494cu /* "LINK" in memory order */
#define WAVE_LINK_STATS_OFF 0x700u /* from the start of the control page */
#define WAVE_LINK_STATS_SIZE 0x100u

struct wave_link_stats {
	__le32 magic; /* WAVE_LINK_STATS_MAGIC once the counters below are live */
	__le32 size; /* bytes of this struct the NIC fills */
	__le64 doorbells[WAVE_MAX_VECTORS]; /* notifications seen per vector */
	__le64 irqs[WAVE_MAX_VECTORS]; /* interrupts raised per vector, delivered or not */
	__le64 queue_table_scans; /* times the NIC re-read the queue table */
	__le64 bad_queue_descs; /* descs rejected by a scan (counted once per scan) */
	__le64 active_queues; /* queues accepted by the last scan */
	__le64 echo_ok; /* echo commands answered with WAVE_ECHO_OK */
	__le64 echo_bad_cmd; /* answered with WAVE_ECHO_EBADCMD */
	__le64 echo_bad_len; /* answered with WAVE_ECHO_EBADLEN */
	__le64 echo_bad_dst; /* dropped: dst_queue is no active RAW NIC-to-host queue */
	__le64 hosts_connected; /* emulated link: ivshmem clients connected now */
	__le64 hosts_accepted; /* emulated link: ivshmem clients accepted so far */
	__le64 hosts_refused; /* emulated link: connections refused (table full) */
	__le64 host_errors; /* clients dropped for protocol errors (they may never send) */
	__le64 irq_errors; /* interrupts that reached no host (none connected, bad vector) */
	__u8 reserved[WAVE_LINK_STATS_SIZE - 232];
};

WAVE_STATIC_ASSERT(sizeof(struct wave_link_stats) == WAVE_LINK_STATS_SIZE, "link stats size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, doorbells) == 8, "doorbells");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, irqs) == 72, "irqs");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, queue_table_scans) == 136, "scans");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, echo_ok) == 160, "echo_ok");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, hosts_connected) == 192, "hosts");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_link_stats, irq_errors) == 224, "irq_errors");
/* The block is the control page's reserved1, which nothing else uses. */
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_control_page, reserved1) == WAVE_LINK_STATS_OFF,
		   "link stats sit in reserved1");
WAVE_STATIC_ASSERT(sizeof(((struct wave_control_page *)0)->reserved1) == WAVE_LINK_STATS_SIZE,
		   "link stats fill reserved1");

#endif /* WAVE_UAPI_LINK_STATS_H */
