/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave ABI v1: the NIC runtime's statistics in the control page's NIC stats area
 * (WAVE_NIC_STATS_OFF, WAVE_NIC_STATS_SIZE bytes), written by wave-nicd and read by the host
 * (wavectl stats).
 *
 * Consistency: a seqlock. The NIC makes seq odd, writes the area, then makes seq even (with
 * release ordering between the steps). A reader copies the area, and keeps the copy only if
 * seq was even and unchanged before and after. Everything is NIC-written and untrusted: a
 * reader checks magic, version, actor_size and nr_actors before using the table.
 *
 * Times are nanoseconds saturated to 32 bits. A group is 0 for FCFS, 1 for DRR; a location is
 * one of WAVE_STATS_LOC_*.
 */
#ifndef WAVE_UAPI_STATS_H
#define WAVE_UAPI_STATS_H

#include "wave_types.h"

#define WAVE_STATS_MAGIC 0x54534157u /* "WAST" in memory order */
#define WAVE_STATS_VERSION 1u

#define WAVE_STATS_GROUP_FCFS 0u
#define WAVE_STATS_GROUP_DRR 1u

#define WAVE_STATS_LOC_NIC 0u
#define WAVE_STATS_LOC_MIGRATING_OUT 1u
#define WAVE_STATS_LOC_HOST 2u
#define WAVE_STATS_LOC_RETURNING 3u

#define WAVE_STATS_F_QUARANTINED (1u << 0)
#define WAVE_STATS_F_PINNED (1u << 1)

struct wave_stats_actor {
	__le32 id;
	__u8 group; /* WAVE_STATS_GROUP_* */
	__u8 location; /* WAVE_STATS_LOC_* */
	__le16 flags; /* WAVE_STATS_F_* */
	char name[16]; /* NUL-padded, not necessarily NUL-terminated */
	__le32 exec_mean_ns;
	__le32 exec_tail_ns; /* mean + 3 sigma of execution time */
	__le32 latency_mean_ns; /* arrival to completion */
	__le32 latency_tail_ns;
	__le32 queued; /* requests waiting for this actor */
	__le32 violations; /* DMO isolation violations */
	__le64 processed;
	__le16 evictions;
	__le16 migrations;
	__le32 reserved;
};

struct wave_stats_header {
	__le32 magic; /* WAVE_STATS_MAGIC */
	__le16 version; /* WAVE_STATS_VERSION */
	__le16 actor_size; /* sizeof(struct wave_stats_actor) */
	__le32 seq; /* seqlock: odd while the NIC writes */
	__le16 nr_actors; /* entries that follow, <= WAVE_STATS_MAX_ACTORS */
	__le16 nr_cores;
	__le16 fcfs_cores;
	__le16 drr_cores;
	__le32 fcfs_queue_depth;
	__le32 nic_mean_latency_ns;
	__le32 reserved;
	__le64 requests;
	__le64 violations;
	__le32 migrations_out;
	__le32 migrations_in;
	__le32 evictions;
	__le32 quarantines;
};

#define WAVE_STATS_MAX_ACTORS 31u

WAVE_STATIC_ASSERT(sizeof(struct wave_stats_actor) == 64, "stats actor size");
WAVE_STATIC_ASSERT(sizeof(struct wave_stats_header) == 64, "stats header size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_stats_actor, exec_mean_ns) == 24, "exec mean");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_stats_actor, processed) == 48, "processed");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_stats_header, seq) == 8, "seq");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_stats_header, requests) == 32, "requests");
WAVE_STATIC_ASSERT(64 + WAVE_STATS_MAX_ACTORS * 64 <= 0x800, "fits the NIC stats area");

#endif /* WAVE_UAPI_STATS_H */
