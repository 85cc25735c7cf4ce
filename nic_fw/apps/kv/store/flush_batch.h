// The flush batch (uapi/wave_kv_flush.h): a frozen memtable shard serialized for the host.
//
// FlushBatchWriter runs on the NIC, inside the memtable actor: it only sorts and copies bytes
// (no system calls, no exceptions). DecodeFlushBatch is the one validator both ends share: the
// host checks every batch it pulls over the link with it before writing an SSTable, and the
// NIC's tests check the writer's output with it. Both build as wave_kv_flush, a library with
// no dependency on the NIC runtime, so the host's store links it alone.
#pragma once

#include <wave_kv_flush.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wave/result.h"

namespace wave::kv {

inline constexpr uint64_t kFnv1a64OffsetBasis = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnv1a64Prime = 0x100000001b3ull;

// FNV-1a 64 of `bytes`, continuing from `state` (so a checksum can cover several pieces).
uint64_t Fnv1a64(std::span<const std::byte> bytes, uint64_t state = kFnv1a64OffsetBasis);

// What a batch is: which shard's which freeze, and the replication ops it covers.
struct FlushBatchInfo {
  uint32_t shard = 0;
  uint64_t generation = 0;
  uint64_t first_op = 0;  // 0: the batch covers no replicated op (an unreplicated store)
  uint64_t last_op = 0;
  // The batch is the shard's whole content as of `generation` (WAVE_KV_FLUSH_REPLACES_OLDER):
  // every older generation is dead, so the host drops their tables. May have no entries.
  bool replaces_older = false;
};

// One item handed to the writer; owned, because the memtable's bytes live in DMOs that the
// actor reads out by copy anyway.
struct FlushEntry {
  std::string key;
  std::string value;
  uint32_t flags = 0;
  uint64_t exptime = 0;  // absolute Unix seconds, 0: never
  uint64_t cas = 0;
  bool tombstone = false;  // a delete; no value
};

// One entry of a decoded batch: the key and value point into the decoded bytes, which must
// outlive the view.
struct FlushEntryView {
  std::string_view key;
  std::string_view value;
  uint32_t flags = 0;
  uint64_t exptime = 0;
  uint64_t cas = 0;
  bool tombstone = false;
};

struct DecodedFlushBatch {
  FlushBatchInfo info;
  uint64_t total_bytes = 0;
  uint64_t checksum = 0;                // the header's (verified) checksum
  std::vector<FlushEntryView> entries;  // sorted, unique keys
};

// Bytes one entry takes in a batch (and in an SSTable data block, which reuses the layout).
inline constexpr uint64_t FlushEntryBytes(uint64_t key_len, uint64_t value_len) {
  uint64_t n = sizeof(wave_kv_flush_entry) + key_len + value_len;
  return (n + WAVE_KV_FLUSH_ALIGN - 1) / WAVE_KV_FLUSH_ALIGN * WAVE_KV_FLUSH_ALIGN;
}

// The fixed part of one entry, as a batch and an SSTable data block both lay it out.
inline wave_kv_flush_entry FlushEntryHeader(std::string_view key, size_t value_len, uint32_t flags,
                                            uint64_t exptime, uint64_t cas, bool tombstone) {
  wave_kv_flush_entry eh{};
  eh.exptime = exptime;
  eh.cas = cas;
  eh.value_len = static_cast<uint32_t>(value_len);
  eh.flags = flags;
  eh.key_len = static_cast<uint16_t>(key.size());
  eh.entry_flags = tombstone ? WAVE_KV_FLUSH_TOMBSTONE : 0;
  return eh;
}

// Checks one entry's fields as the writer and every reader must (EINVAL / E2BIG with why).
Status CheckFlushEntry(std::string_view key, size_t value_len, bool tombstone);

class FlushBatchWriter {
 public:
  explicit FlushBatchWriter(const FlushBatchInfo& info) : info_(info) {}

  // Takes an entry in any order; refuses (and keeps nothing of) an empty or >250-byte key, a
  // value over 1 MiB, or a tombstone with a value.
  Status Add(FlushEntry entry);

  size_t entry_count() const { return entries_.size(); }
  // What Encode will need, known before encoding so the caller can size NIC memory.
  uint64_t encoded_size() const { return encoded_size_; }

  // Sorts the entries and writes the batch at the start of `out`; the size written, ENOSPC if
  // it does not fit (nothing meaningful written then), EINVAL if two entries share a key.
  Result<size_t> EncodeInto(std::span<std::byte> out);
  Result<std::vector<std::byte>> Encode();

 private:
  FlushBatchInfo info_;
  std::vector<FlushEntry> entries_;
  uint64_t encoded_size_ = sizeof(wave_kv_flush_hdr);
};

// The header alone, checked (magic, version, size, flags, total_bytes in range): for a reader
// that pulls the first 64 bytes over the link to learn how many more to pull.
struct FlushBatchHeader {
  FlushBatchInfo info;
  uint32_t entry_count = 0;
  uint64_t total_bytes = 0;
  uint64_t checksum = 0;
};
Result<FlushBatchHeader> DecodeFlushBatchHeader(std::span<const std::byte> bytes);

// Checks everything of an untrusted batch; `bytes` must be exactly the batch (total_bytes
// long). The error says what is wrong and where (EINVAL for a malformed batch, EBADMSG for a
// checksum mismatch).
Result<DecodedFlushBatch> DecodeFlushBatch(std::span<const std::byte> bytes);

}  // namespace wave::kv
