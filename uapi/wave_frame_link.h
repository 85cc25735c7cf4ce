/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Wave frame links: variable-length frames (the NIC runtime's migration and request frames,
 * nic_fw/runtime/include/runtime/migration/frame.h) carried over two queue regions of a Wave
 * device, one per direction, each holding one libwave slot ring (wave_ring.h):
 *
 *   host-to-NIC region (WAVE_QKIND_RAW, WAVE_DIR_HOST_TO_NIC, WC): ring 0, its credit cell in
 *                   the NIC-to-host region's credits[0]
 *   NIC-to-host region (WAVE_QKIND_RAW, WAVE_DIR_NIC_TO_HOST, WT): ring 0, its credit cell in
 *                   the host-to-NIC region's credits[0]
 *
 * Both rings are WAVE_RING_KIND_RAW. Each region carries a struct wave_frame_link_info at
 * WAVE_FRAME_LINK_INFO_OFF of its header, written by the host (which creates both regions)
 * before the ring descriptors: the NIC finds a link by scanning the queue table for active RAW
 * host-to-NIC regions whose info block has the magic and the link's name, then maps the peer
 * region the info block names and checks that the two describe each other (same link_id,
 * peer_queue pointing back, matching directions, ring 0 descriptors, credit cells crossed).
 * Several frame links (different names) and other links may share one device.
 *
 * A frame occupies consecutive slots of one ring, all written by one batch of the producer
 * (the producer reserves room for the whole frame first, so no frame is ever half-published):
 *
 *   first slot        type WAVE_FRAME_SLOT_FIRST: wave_frame_slot_prefix (index 0), the 32-byte
 *                     frame header, then the first bytes of the frame's payload
 *   continuation      type WAVE_FRAME_SLOT_CONT: wave_frame_slot_prefix (the frame's seq, index
 *                     1, 2, ...), then the next bytes of the payload
 *
 * Every slot but the frame's last is full (slot_size - 16 bytes of slot payload). frame_seq
 * counts frames from 0 per ring (wrapping at 2^32). The consumer reassembles a frame into a
 * bounded buffer; a slot of an unknown type, a continuation out of order or of another
 * frame, a frame header with a bad magic, type or a length above the runtime's bound breaks
 * the link for good: no resynchronisation is attempted.
 */
#ifndef WAVE_UAPI_FRAME_LINK_H
#define WAVE_UAPI_FRAME_LINK_H

#include "wave_ring.h"
#include "wave_types.h"

#define WAVE_FRAME_LINK_INFO_OFF 0x300u /* in both regions' headers (wave_ring.h reserved) */
#define WAVE_FRAME_LINK_MAGIC 0x4c4d5246u /* "FRML" in memory order */
#define WAVE_FRAME_LINK_VERSION 1u
#define WAVE_FRAME_LINK_NAME_LEN 16u

/* wave_frame_link_info.flags */
/* The device's host window is the link's DMA window (one-copy state transfer). */
#define WAVE_FRAME_LINK_F_DMA_WINDOW (1u << 0)
#define WAVE_FRAME_LINK_FLAGS_KNOWN WAVE_FRAME_LINK_F_DMA_WINDOW

/* Slot types (wave_slot_hdr.type) of a frame ring. */
#define WAVE_FRAME_SLOT_FIRST 1u
#define WAVE_FRAME_SLOT_CONT 2u

/* Written once by the host before the ring descriptors; untrusted for the NIC. */
struct wave_frame_link_info {
	__le32 magic; /* WAVE_FRAME_LINK_MAGIC, 0 while the link is being built or torn down */
	__le16 version; /* WAVE_FRAME_LINK_VERSION */
	__le16 dir; /* WAVE_DIR_* of this region's ring */
	__le32 peer_queue; /* queue id of the other direction's region */
	__le32 flags; /* WAVE_FRAME_LINK_F_*, the same in both regions */
	__le64 link_id; /* chosen by the host, the same in both regions of one link */
	__u8 name[WAVE_FRAME_LINK_NAME_LEN]; /* NUL-padded, e.g. "migration" */
	/*
	 * Sleep cells of the consumer of the OTHER region's ring, written by that consumer (like
	 * its credit cell, they live in the producer's region). rx_sleeps: 1 once the consumer
	 * announces every sleep in rx_asleep; rx_asleep: 1 while it may be blocked on its
	 * vector. A producer may skip the doorbell after a frame only when rx_sleeps is 1 and
	 * rx_asleep is 0 (read after a full fence that follows the frame). A consumer that never
	 * sets rx_sleeps is rung after every frame. Zero when the host writes the block.
	 */
	__le32 rx_sleeps;
	__le32 rx_asleep;
	__u8 reserved[16];
};

/* At the start of every slot's payload. */
struct wave_frame_slot_prefix {
	__le32 frame_seq; /* the frame's number on this ring */
	__le32 index; /* 0 in the first slot, then 1, 2, ... */
};

WAVE_STATIC_ASSERT(sizeof(struct wave_frame_link_info) == 64, "frame link info size");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_frame_link_info, link_id) == 16, "link_id");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_frame_link_info, name) == 24, "name");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_frame_link_info, rx_sleeps) == 40, "rx_sleeps");
WAVE_STATIC_ASSERT(__builtin_offsetof(struct wave_frame_link_info, rx_asleep) == 44, "rx_asleep");
WAVE_STATIC_ASSERT(sizeof(struct wave_frame_slot_prefix) == 8, "frame slot prefix size");
WAVE_STATIC_ASSERT(WAVE_FRAME_LINK_INFO_OFF + sizeof(struct wave_frame_link_info) <=
			   WAVE_REGION_HDR_SIZE,
		   "info block inside the region header");

#endif /* WAVE_UAPI_FRAME_LINK_H */
