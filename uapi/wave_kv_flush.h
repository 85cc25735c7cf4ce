/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave key-value store, flush batch v1: a frozen memtable shard serialized by the NIC into NIC
 * memory, pulled by the host over the DMA queue and written there as one SSTable.
 *
 * Layout, every field little-endian, the whole batch total_bytes long:
 *
 *   struct wave_kv_flush_hdr                      64 bytes
 *   entry_count entries, each:
 *     struct wave_kv_flush_entry                  32 bytes
 *     key bytes                                   key_len (1..WAVE_KV_FLUSH_MAX_KEY)
 *     value bytes                                 value_len (0..WAVE_KV_FLUSH_MAX_VALUE)
 *     zero bytes up to the next multiple of 8     (WAVE_KV_FLUSH_ALIGN)
 *
 * Keys are sorted bytewise (memcmp order, a shorter key before its extensions) and unique.
 * A tombstone (WAVE_KV_FLUSH_TOMBSTONE) records a delete that must hide the key's older
 * values in older tables; it has no value (value_len 0).
 *
 * A batch with WAVE_KV_FLUSH_REPLACES_OLDER in its header flags is the shard's whole content as
 * of its generation: every older generation of the shard is dead (the NIC sends one after a
 * memcached flush_all). It may have no entries (entry_count 0, total_bytes 64).
 *
 * checksum: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the header's
 * first 56 bytes (everything before checksum) followed by bytes [64, total_bytes). It catches
 * corruption and torn transfers, not tampering: the host still checks every field.
 *
 * Everything is written by the NIC and untrusted by the host: a reader checks magic, version,
 * hdr_size, flags (unknown bits refused) and reserved fields, that every entry lies inside total_bytes and the last
 * ends exactly there, key and value lengths, padding, order and the checksum before using it.
 */
#ifndef WAVE_UAPI_KV_FLUSH_H
#define WAVE_UAPI_KV_FLUSH_H

#include "wave_types.h"

#define WAVE_KV_FLUSH_MAGIC 0x48534c46u /* "FLSH" in memory order */
#define WAVE_KV_FLUSH_VERSION 1u

#define WAVE_KV_FLUSH_ALIGN 8u
#define WAVE_KV_FLUSH_MAX_KEY 250u /* memcached's key limit */
#define WAVE_KV_FLUSH_MAX_VALUE (1u << 20) /* memcached's default item limit */

/* wave_kv_flush_hdr.flags */
#define WAVE_KV_FLUSH_REPLACES_OLDER (1u << 0)
#define WAVE_KV_FLUSH_FLAGS_KNOWN WAVE_KV_FLUSH_REPLACES_OLDER

/* wave_kv_flush_entry.entry_flags */
#define WAVE_KV_FLUSH_TOMBSTONE (1u << 0)
#define WAVE_KV_FLUSH_ENTRY_FLAGS_KNOWN WAVE_KV_FLUSH_TOMBSTONE

struct wave_kv_flush_hdr {
	__le32 magic; /* WAVE_KV_FLUSH_MAGIC */
	__le16 version; /* WAVE_KV_FLUSH_VERSION */
	__le16 hdr_size; /* sizeof(struct wave_kv_flush_hdr) */
	__le32 shard; /* the memtable shard the batch froze */
	__le32 entry_count;
	__le64 generation; /* per shard, incremented by every freeze, first 1 */
	__le64 first_op; /* lowest replication op number the batch covers, 0: none */
	__le64 last_op; /* highest replication op number the batch covers, 0: none */
	__le64 total_bytes; /* header and entries */
	__le32 flags; /* WAVE_KV_FLUSH_REPLACES_OLDER; unknown bits refused */
	__le32 reserved; /* 0 */
	__le64 checksum; /* FNV-1a 64, see above */
};

struct wave_kv_flush_entry {
	__le64 exptime; /* absolute Unix seconds, 0: never expires */
	__le64 cas; /* the item's cas unique */
	__le32 value_len;
	__le32 flags; /* the client's flags */
	__le16 key_len;
	__le16 entry_flags; /* WAVE_KV_FLUSH_TOMBSTONE */
	__le32 reserved; /* 0 */
};

WAVE_STATIC_ASSERT(sizeof(struct wave_kv_flush_hdr) == 64, "flush header size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_kv_flush_hdr, generation) == 16, "generation");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_kv_flush_hdr, total_bytes) == 40, "total");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_kv_flush_hdr, checksum) == 56, "checksum");
WAVE_STATIC_ASSERT(sizeof(struct wave_kv_flush_entry) == 32, "flush entry size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_kv_flush_entry, value_len) == 16, "value_len");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_kv_flush_entry, key_len) == 24, "key_len");
WAVE_STATIC_ASSERT(sizeof(struct wave_kv_flush_entry) % WAVE_KV_FLUSH_ALIGN == 0, "aligned");

#endif /* WAVE_UAPI_KV_FLUSH_H */
