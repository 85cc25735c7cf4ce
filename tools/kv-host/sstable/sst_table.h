// One SSTable file: the sorted entries of one flushed memtable shard (or of several, merged),
// written once and never changed.
//
// File layout (little-endian; the entry layout is the flush batch's, uapi/wave_kv_flush.h):
//   data     entries sorted by key: wave_kv_flush_entry, key, value, zero padding to 8
//   index    entry_count __le64 offsets of the entries in data (the reader keeps the keys)
//   footer   SstFooter, 88 bytes: magic, version, shard, flags, entry count, generations,
//            ops, index offset, FNV-1a 64 of data+index, the batch's checksum, its own FNV-1a 64
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/store/flush_batch.h"
#include "wave/result.h"

namespace wave::kv {

inline constexpr uint32_t kSstMagic = 0x54535357;  // "WSST" in memory order
inline constexpr uint16_t kSstVersion = 1;

// SstFooter.flags. The table replaces every older generation of its shard: every table whose
// generation_hi is below this one's generation_lo is dead (from a WAVE_KV_FLUSH_REPLACES_OLDER
// batch). Recorded in the footer so SstStore::Open drops tables a crash left behind.
inline constexpr uint32_t kSstReplacesOlder = 1u << 0;
inline constexpr uint32_t kSstFlagsKnown = kSstReplacesOlder;

struct SstFooter {
  uint32_t magic;
  uint16_t version;
  uint16_t footer_size;
  uint32_t shard;
  uint32_t flags;  // kSstReplacesOlder; a reader refuses unknown bits
  uint64_t entry_count;
  uint64_t generation_lo;  // the oldest flushed generation the table holds
  uint64_t generation_hi;  // the newest (equal to lo for a table from one batch)
  uint64_t first_op;
  uint64_t last_op;
  uint64_t index_offset;     // also the data's size
  uint64_t body_checksum;    // FNV-1a 64 over data and index
  uint64_t batch_checksum;   // the flush batch's, to tell a resent batch from a different one
  uint64_t footer_checksum;  // FNV-1a 64 over the footer's bytes before this field
};
static_assert(sizeof(SstFooter) == 88);

// What a table covers, written into its footer.
struct SstMeta {
  uint32_t shard = 0;
  uint64_t generation_lo = 0;
  uint64_t generation_hi = 0;
  uint64_t first_op = 0;
  uint64_t last_op = 0;
  uint64_t batch_checksum = 0;
  bool replaces_older = false;  // kSstReplacesOlder
};

// An entry read back from a table (owned).
struct SstEntry {
  std::string key;
  std::string value;
  uint32_t flags = 0;
  uint64_t exptime = 0;  // absolute Unix seconds, 0: never
  uint64_t cas = 0;
  bool tombstone = false;
};

// Writes `entries` (sorted, unique keys: checked again) as the file `path`: first to
// path.tmp, fdatasync, rename over path, fsync the directory, so a crash leaves either no
// file or the whole one (and maybe a .tmp, which SstStore::Open deletes).
Status WriteSst(const std::string& path, const SstMeta& meta,
                std::span<const FlushEntryView> entries);

class SstReader {
 public:
  // Opens and verifies the whole file (footer, both checksums, every entry in bounds and in
  // order); a truncated or corrupt file is refused with what is wrong.
  static Result<std::unique_ptr<SstReader>> Open(const std::string& path);
  ~SstReader();
  SstReader(const SstReader&) = delete;
  SstReader& operator=(const SstReader&) = delete;

  // Binary search over the in-memory keys; found is false when the key is not in the table.
  // An error only if the file cannot be read any more.
  struct Found {
    bool found = false;
    SstEntry entry;
  };
  Result<Found> Lookup(std::string_view key) const;
  // Every entry, in key order (for merging tables).
  Result<std::vector<SstEntry>> ReadAll() const;

  const SstMeta& meta() const { return meta_; }
  uint64_t entry_count() const { return keys_.size(); }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::string& path() const { return path_; }

 private:
  SstReader() = default;
  Result<SstEntry> ReadEntry(size_t index) const;

  std::string path_;
  int fd_ = -1;
  SstMeta meta_;
  uint64_t file_bytes_ = 0;
  uint64_t data_bytes_ = 0;
  std::vector<std::string> keys_;  // sorted, from the verified data
  std::vector<uint64_t> offsets_;
};

}  // namespace wave::kv
