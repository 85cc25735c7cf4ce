/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave thread scheduling, the NIC agents' side: host CPU limit, Shinjuku QoS classes, and the
 * layout of the Shinjuku priority table that applications write and the NIC agent reads.
 * Policy ids and the default slice belong to the scheduling link (wave_sched_link.h).
 *
 * The priority table is a small shared-memory region: a header followed by nr_entries
 * entries. An application owns the entries it claimed and tells the agent which QoS class
 * each of its threads belongs to. Class 0 runs first; a runnable task of a lower class
 * number preempts a running task of a higher one.
 *
 * Entry consistency is a per-entry seqlock, so the agent never takes a lock the application
 * holds and the application never waits for the agent:
 *  - writer: compare-and-swap seq from an even value s to s + 1 (this also claims the entry
 *    against other writers), store tid, qos and flags, then store seq = s + 2 with release
 *    ordering, then increment the header's gen (so the agent knows to rescan);
 *  - reader: load seq with acquire ordering; skip the entry while it is odd; copy tid, qos and
 *    flags; load seq again (after an acquire fence) and keep the copy only if it is unchanged.
 * Everything in the table is untrusted input for the agent: it checks magic, version,
 * entry_size, nr_classes and nr_entries against the mapping's size, and drops (and counts)
 * entries with an out-of-range class or unknown flags.
 */
#ifndef WAVE_UAPI_SCHED_H
#define WAVE_UAPI_SCHED_H

#include "wave_types.h"

/* Host CPUs a scheduling agent manages: wave_task_event.cpumask covers CPUs 0..63. */
#define WAVE_SCHED_MAX_CPUS 64u

/* Shinjuku QoS classes: 0 is the most urgent. */
#define WAVE_SCHED_QOS_CLASSES 8u
#define WAVE_SCHED_QOS_DEFAULT 4u /* tasks without an entry in the table */

#define WAVE_PRIO_TABLE_MAGIC 0x4f495250u /* "PRIO" in memory order */
#define WAVE_PRIO_TABLE_VERSION 1u
#define WAVE_PRIO_TABLE_MAX_ENTRIES 65536u

struct wave_prio_table_hdr {
	__le32 magic; /* WAVE_PRIO_TABLE_MAGIC, written last */
	__le16 version; /* WAVE_PRIO_TABLE_VERSION */
	__le16 entry_size; /* sizeof(struct wave_prio_entry) */
	__le32 nr_entries; /* entries after the header, <= WAVE_PRIO_TABLE_MAX_ENTRIES */
	__le32 nr_classes; /* WAVE_SCHED_QOS_CLASSES */
	__le64 gen; /* incremented after every entry update: a hint to rescan */
	__u8 reserved[40];
};

/* wave_prio_entry.flags: none defined, must be zero. */

struct wave_prio_entry {
	__le32 seq; /* seqlock: odd while a writer updates the entry */
	__le32 tid; /* the thread, 0 for an unused entry */
	__le32 qos; /* class, < WAVE_SCHED_QOS_CLASSES */
	__le32 flags; /* must be zero */
};

WAVE_STATIC_ASSERT(sizeof(struct wave_prio_table_hdr) == 64, "prio table header size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_prio_table_hdr, gen) == 16, "prio gen");
WAVE_STATIC_ASSERT(sizeof(struct wave_prio_entry) == 16, "prio entry size");

#endif /* WAVE_UAPI_SCHED_H */
