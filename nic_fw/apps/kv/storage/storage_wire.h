// The host storage's calls on the link (HostStorage between the NIC and wave-kv-host): frames
// of the migration link's rings (runtime/migration/frame.h) in a link file of their own, so
// the frame checks of ShmRing apply. Both sides treat every field from the other as untrusted.
//
//   NIC -> host: kRequest, actor = StorageOp, arg0 = request id (never 0)
//     kFlushBegin  arg1 = batch bytes (<= kMaxStorageBatch)                no payload
//     kFlushChunk  arg1 = offset of the chunk (the bytes so far)           <= kStorageChunk bytes
//                  the chunk that completes the batch starts the ingest
//     kLookup      arg1 = shard    payload: LookupRequest, then the key
//     kRecover     arg1 = shard    no payload
//   host -> NIC: kReply, actor = the StorageOp answered, arg0 = request id, arg1 = errno (0: OK)
//     kFlushChunk  (the last chunk's answer is the flush's)                no payload
//     kLookup      LookupReply, then the value (found only)
//     kRecover     RecoverReply
//     kHeartbeat   arg0 = 0, every kHeartbeatMs: the client's sign that wave-kv-host lives
//   A reply's payload over kStorageChunk bytes (a value up to 1 MiB) comes in several frames
//   of the same op and id; all but the last carry the frame flag kStorageMore.
//
// Batches travel in bounded chunks rather than through a DMA window: the rings already bound
// and check every frame, and a chunk needs no window range to be granted and released (one
// more copy, which the SSTable write's fdatasync dwarfs).
#pragma once

#include <cstdint>

namespace wave::kv {

enum class StorageOp : uint32_t {
  kHeartbeat = 0,
  kFlushBegin = 1,
  kFlushChunk = 2,
  kLookup = 3,
  kRecover = 4,
};
inline constexpr uint32_t kMaxStorageOp = 4;

inline constexpr uint32_t kStorageChunk = 64 * 1024;
inline constexpr uint16_t kStorageMore = 1;  // FrameHeader.flags of a reply: more follows
inline constexpr uint64_t kMaxStorageBatch = 256ull << 20;  // far above a 32 MB memtable
inline constexpr uint32_t kStorageRingBytes = 1u << 20;     // the ring size wave-kv-host makes
inline constexpr uint32_t kHeartbeatMs = 100;

struct LookupRequest {
  int64_t now_s;
  uint32_t key_len;  // the bytes after this struct
  uint32_t reserved;
};
static_assert(sizeof(LookupRequest) == 16);

struct LookupReply {
  uint32_t found;  // 0 or 1
  uint32_t flags;
  uint64_t exptime;
  uint64_t cas;
  uint32_t value_len;  // the bytes after this struct
  uint32_t reserved;
};
static_assert(sizeof(LookupReply) == 32);

struct RecoverReply {
  uint64_t newest_generation;
  uint64_t max_op;
};
static_assert(sizeof(RecoverReply) == 16);

}  // namespace wave::kv
