#include "kv/store/flush_batch.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

namespace wave::kv {
namespace {

// The wire is little-endian and both ends (x86 hosts, Arm NIC cores) are too, so fields are
// copied as they are; a big-endian port would byte-swap here.
static_assert(std::endian::native == std::endian::little, "the flush batch is little-endian");

constexpr size_t kHdrBytes = sizeof(wave_kv_flush_hdr);
constexpr size_t kEntryHdrBytes = sizeof(wave_kv_flush_entry);
// The header bytes the checksum covers: everything before the checksum field.
constexpr size_t kHdrChecksummed = offsetof(wave_kv_flush_hdr, checksum);
// The smallest entry (a 1-byte key, no value), which bounds entry_count by total_bytes.
constexpr uint64_t kMinEntryBytes = FlushEntryBytes(1, 0);

Error Malformed(std::string why) {
  return Error{EINVAL, "flush batch: " + std::move(why)};
}

uint64_t BatchChecksum(std::span<const std::byte> batch) {
  uint64_t h = Fnv1a64(batch.first(kHdrChecksummed));
  return Fnv1a64(batch.subspan(kHdrBytes), h);
}

}  // namespace

uint64_t Fnv1a64(std::span<const std::byte> bytes, uint64_t state) {
  for (std::byte b : bytes) {
    state ^= static_cast<uint64_t>(b);
    state *= kFnv1a64Prime;
  }
  return state;
}

Status CheckFlushEntry(std::string_view key, size_t value_len, bool tombstone) {
  if (key.empty())
    return Error{EINVAL, "empty key"};
  if (key.size() > WAVE_KV_FLUSH_MAX_KEY)
    return Error{E2BIG, "key of " + std::to_string(key.size()) + " bytes (at most " +
                            std::to_string(WAVE_KV_FLUSH_MAX_KEY) + ")"};
  if (value_len > WAVE_KV_FLUSH_MAX_VALUE)
    return Error{E2BIG, "value of " + std::to_string(value_len) + " bytes (at most " +
                            std::to_string(WAVE_KV_FLUSH_MAX_VALUE) + ")"};
  if (tombstone && value_len != 0)
    return Error{EINVAL, "tombstone with a value"};
  return {};
}

Status FlushBatchWriter::Add(FlushEntry entry) {
  if (Status s = CheckFlushEntry(entry.key, entry.value.size(), entry.tombstone); !s)
    return s;
  if (entries_.size() >= UINT32_MAX)
    return Error{E2BIG, "more entries than a batch counts"};
  encoded_size_ += FlushEntryBytes(entry.key.size(), entry.value.size());
  entries_.push_back(std::move(entry));
  return {};
}

Result<size_t> FlushBatchWriter::EncodeInto(std::span<std::byte> out) {
  if (encoded_size_ > out.size())
    return Error{ENOSPC, "flush batch of " + std::to_string(encoded_size_) +
                             " bytes does not fit in " + std::to_string(out.size())};
  std::sort(entries_.begin(), entries_.end(),
            [](const FlushEntry& a, const FlushEntry& b) { return a.key < b.key; });
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (entries_[i - 1].key == entries_[i].key)
      return Error{EINVAL, "flush batch: key '" + entries_[i].key + "' added twice"};
  }

  size_t off = kHdrBytes;
  for (const FlushEntry& e : entries_) {
    const wave_kv_flush_entry eh =
        FlushEntryHeader(e.key, e.value.size(), e.flags, e.exptime, e.cas, e.tombstone);
    size_t n = FlushEntryBytes(e.key.size(), e.value.size());
    std::byte* p = out.data() + off;
    std::memcpy(p, &eh, kEntryHdrBytes);
    std::memcpy(p + kEntryHdrBytes, e.key.data(), e.key.size());
    std::memcpy(p + kEntryHdrBytes + e.key.size(), e.value.data(), e.value.size());
    size_t used = kEntryHdrBytes + e.key.size() + e.value.size();
    std::memset(p + used, 0, n - used);  // the padding is checked by readers: always zero
    off += n;
  }

  wave_kv_flush_hdr h{};
  h.magic = WAVE_KV_FLUSH_MAGIC;
  h.version = WAVE_KV_FLUSH_VERSION;
  h.hdr_size = kHdrBytes;
  h.shard = info_.shard;
  h.entry_count = static_cast<uint32_t>(entries_.size());
  h.generation = info_.generation;
  h.first_op = info_.first_op;
  h.last_op = info_.last_op;
  h.total_bytes = off;
  h.flags = info_.replaces_older ? WAVE_KV_FLUSH_REPLACES_OLDER : 0;
  std::memcpy(out.data(), &h, kHdrBytes);
  h.checksum = BatchChecksum(out.first(off));
  std::memcpy(out.data() + offsetof(wave_kv_flush_hdr, checksum), &h.checksum, sizeof(h.checksum));
  return off;
}

Result<std::vector<std::byte>> FlushBatchWriter::Encode() {
  std::vector<std::byte> out(encoded_size_);
  Result<size_t> n = EncodeInto(out);
  if (!n)
    return n.error();
  return out;
}

Result<FlushBatchHeader> DecodeFlushBatchHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kHdrBytes)
    return Malformed("header needs " + std::to_string(kHdrBytes) + " bytes, have " +
                     std::to_string(bytes.size()));
  wave_kv_flush_hdr h;
  std::memcpy(&h, bytes.data(), kHdrBytes);
  if (h.magic != WAVE_KV_FLUSH_MAGIC)
    return Malformed("bad magic");
  if (h.version != WAVE_KV_FLUSH_VERSION)
    return Malformed("version " + std::to_string(h.version) + " (this reader knows " +
                     std::to_string(WAVE_KV_FLUSH_VERSION) + ")");
  if (h.hdr_size != kHdrBytes)
    return Malformed("header size " + std::to_string(h.hdr_size));
  if ((h.flags & ~WAVE_KV_FLUSH_FLAGS_KNOWN) != 0 || h.reserved != 0)
    return Malformed("unknown header flags or nonzero reserved field");
  if (h.total_bytes < kHdrBytes || (h.total_bytes - kHdrBytes) % WAVE_KV_FLUSH_ALIGN != 0)
    return Malformed("total_bytes " + std::to_string(h.total_bytes) + " is not a batch size");
  if (h.entry_count > (h.total_bytes - kHdrBytes) / kMinEntryBytes)
    return Malformed(std::to_string(h.entry_count) + " entries cannot fit in " +
                     std::to_string(h.total_bytes) + " bytes");
  if (h.first_op > h.last_op)
    return Malformed("first_op " + std::to_string(h.first_op) + " after last_op " +
                     std::to_string(h.last_op));
  FlushBatchHeader out;
  out.info = {h.shard, h.generation, h.first_op, h.last_op,
              (h.flags & WAVE_KV_FLUSH_REPLACES_OLDER) != 0};
  out.entry_count = h.entry_count;
  out.total_bytes = h.total_bytes;
  out.checksum = h.checksum;
  return out;
}

Result<DecodedFlushBatch> DecodeFlushBatch(std::span<const std::byte> bytes) {
  Result<FlushBatchHeader> hdr = DecodeFlushBatchHeader(bytes);
  if (!hdr)
    return hdr.error();
  if (hdr->total_bytes != bytes.size())
    return Malformed("total_bytes " + std::to_string(hdr->total_bytes) + " but " +
                     std::to_string(bytes.size()) + " bytes given");

  DecodedFlushBatch out;
  out.info = hdr->info;
  out.total_bytes = hdr->total_bytes;
  out.checksum = hdr->checksum;
  out.entries.reserve(hdr->entry_count);  // bounded by the size check in the header
  const char* base = reinterpret_cast<const char*>(bytes.data());
  size_t off = kHdrBytes;
  for (uint32_t i = 0; i < hdr->entry_count; ++i) {
    // Built only on a refusal: a valid batch of many entries should not pay for it.
    auto where = [&] { return "entry " + std::to_string(i) + " at " + std::to_string(off) + ": "; };
    if (bytes.size() - off < kEntryHdrBytes)
      return Malformed(where() + "header runs past the end");
    wave_kv_flush_entry eh;
    std::memcpy(&eh, base + off, kEntryHdrBytes);
    if ((eh.entry_flags & ~WAVE_KV_FLUSH_ENTRY_FLAGS_KNOWN) != 0 || eh.reserved != 0)
      return Malformed(where() + "unknown entry flags or nonzero reserved field");
    bool tombstone = (eh.entry_flags & WAVE_KV_FLUSH_TOMBSTONE) != 0;
    if (eh.key_len == 0 || eh.key_len > WAVE_KV_FLUSH_MAX_KEY)
      return Malformed(where() + "key length " + std::to_string(eh.key_len));
    if (eh.value_len > WAVE_KV_FLUSH_MAX_VALUE)
      return Malformed(where() + "value length " + std::to_string(eh.value_len));
    if (tombstone && eh.value_len != 0)
      return Malformed(where() + "tombstone with a value");
    uint64_t n = FlushEntryBytes(eh.key_len, eh.value_len);
    if (n > bytes.size() - off)
      return Malformed(where() + "runs past the end");
    size_t used = kEntryHdrBytes + eh.key_len + eh.value_len;
    for (size_t p = off + used; p < off + n; ++p) {
      if (base[p] != 0)
        return Malformed(where() + "nonzero padding");
    }
    FlushEntryView v;
    v.key = std::string_view(base + off + kEntryHdrBytes, eh.key_len);
    v.value = std::string_view(base + off + kEntryHdrBytes + eh.key_len, eh.value_len);
    v.flags = eh.flags;
    v.exptime = eh.exptime;
    v.cas = eh.cas;
    v.tombstone = tombstone;
    if (!out.entries.empty() && !(out.entries.back().key < v.key))
      return Malformed(where() +
                       (out.entries.back().key == v.key ? "duplicate key" : "keys out of order"));
    out.entries.push_back(v);
    off += n;
  }
  if (off != bytes.size())
    return Malformed(std::to_string(bytes.size() - off) + " bytes after the last entry");
  if (BatchChecksum(bytes) != hdr->checksum)
    return Error{EBADMSG, "flush batch: checksum mismatch"};
  return out;
}

}  // namespace wave::kv
