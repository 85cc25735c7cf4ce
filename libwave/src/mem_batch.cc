#include "wave/mem_batch.h"

#include <endian.h>

#include <cstring>

namespace wave::mem {
namespace {

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
constexpr uint64_t kPageMask = WAVE_MEM_PAGE_SIZE - 1;

uint64_t Fnv(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

bool Aligned(uint64_t v) {
  return (v & kPageMask) == 0;
}

}  // namespace

const char* BatchErrorName(BatchError e) {
  switch (e) {
    case BatchError::kOk:
      return "ok";
    case BatchError::kTruncated:
      return "truncated";
    case BatchError::kMagic:
      return "magic";
    case BatchError::kFlags:
      return "flags";
    case BatchError::kCount:
      return "count";
    case BatchError::kChecksum:
      return "checksum";
    case BatchError::kRange:
      return "range";
    case BatchError::kOrder:
      return "order";
    case BatchError::kAccesses:
      return "accesses";
    case BatchError::kRegionFlags:
      return "region_flags";
    case BatchError::kCountOfErrors:
      break;
  }
  return "unknown";
}

uint64_t BatchChecksum(std::span<const uint8_t> batch) {
  constexpr size_t kSumOff = offsetof(wave_mem_batch_hdr, checksum);
  if (batch.size() < sizeof(wave_mem_batch_hdr))
    return 0;
  const uint64_t h = Fnv(kFnvBasis, batch.data(), kSumOff);
  return Fnv(h, batch.data() + sizeof(wave_mem_batch_hdr),
             batch.size() - sizeof(wave_mem_batch_hdr));
}

size_t EncodeBatch(const BatchInfo& info, std::span<const Region> regions, std::span<uint8_t> out) {
  const size_t total = BatchBytes(regions.size());
  if (regions.size() > WAVE_MEM_MAX_REGIONS || total > out.size())
    return 0;
  wave_mem_batch_hdr h{};
  h.magic = htole32(WAVE_MEM_BATCH_MAGIC);
  h.version = htole16(WAVE_MEM_BATCH_VERSION);
  h.hdr_size = htole16(sizeof(wave_mem_batch_hdr));
  h.region_count = htole32(static_cast<uint32_t>(regions.size()));
  h.seq = htole64(info.seq);
  h.collected_ns = htole64(info.collected_ns);
  h.aggr_us = htole32(info.aggr_us);
  h.max_accesses = htole16(info.max_accesses);
  h.total_bytes = htole64(total);
  uint8_t* p = out.data() + sizeof(h);
  for (const Region& r : regions) {
    wave_mem_region w{};
    w.start = htole64(r.start);
    w.end = htole64(r.end);
    w.target = htole32(r.target);
    w.age = htole32(r.age);
    w.nr_accesses = htole16(r.nr_accesses);
    w.flags = htole16(r.flags);
    std::memcpy(p, &w, sizeof(w));
    p += sizeof(w);
  }
  std::memcpy(out.data(), &h, sizeof(h));
  h.checksum = htole64(BatchChecksum(out.first(total)));
  std::memcpy(out.data(), &h, sizeof(h));
  return total;
}

BatchError DecodeBatch(std::span<const uint8_t> in, BatchInfo* info, std::vector<Region>* regions) {
  wave_mem_batch_hdr h;
  if (in.size() < sizeof(h))
    return BatchError::kTruncated;
  std::memcpy(&h, in.data(), sizeof(h));
  if (le32toh(h.magic) != WAVE_MEM_BATCH_MAGIC || le16toh(h.version) != WAVE_MEM_BATCH_VERSION ||
      le16toh(h.hdr_size) != sizeof(h))
    return BatchError::kMagic;
  if ((le32toh(h.flags) & ~WAVE_MEM_BATCH_FLAGS_KNOWN) != 0 || h.reserved0 != 0 || h.reserved1 != 0)
    return BatchError::kFlags;
  const uint32_t count = le32toh(h.region_count);
  const uint64_t total = le64toh(h.total_bytes);
  if (count > WAVE_MEM_MAX_REGIONS || total != BatchBytes(count))
    return BatchError::kCount;
  if (in.size() < total)
    return BatchError::kTruncated;
  // One copy of the whole batch: the checksum and the checks below see the same bytes.
  std::vector<uint8_t> copy(in.begin(), in.begin() + static_cast<ptrdiff_t>(total));
  std::memcpy(&h, copy.data(), sizeof(h));
  if (le64toh(h.checksum) != BatchChecksum(copy))
    return BatchError::kChecksum;
  // Re-check the header fields on the copy the checksum covered.
  if (le32toh(h.region_count) != count || le64toh(h.total_bytes) != total)
    return BatchError::kChecksum;
  const uint16_t max_accesses = le16toh(h.max_accesses);
  if (max_accesses == 0)
    return BatchError::kAccesses;

  std::vector<Region> out;
  out.reserve(count);
  const uint8_t* p = copy.data() + sizeof(h);
  for (uint32_t i = 0; i < count; i++, p += sizeof(wave_mem_region)) {
    wave_mem_region w;
    std::memcpy(&w, p, sizeof(w));
    Region r;
    r.start = le64toh(w.start);
    r.end = le64toh(w.end);
    r.target = le32toh(w.target);
    r.age = le32toh(w.age);
    r.nr_accesses = le16toh(w.nr_accesses);
    r.flags = le16toh(w.flags);
    if ((r.flags & ~WAVE_MEM_REGION_FLAGS_KNOWN) != 0 || w.reserved != 0)
      return BatchError::kRegionFlags;
    if (r.end <= r.start || !Aligned(r.start) || !Aligned(r.end))
      return BatchError::kRange;
    if (r.nr_accesses > max_accesses)
      return BatchError::kAccesses;
    if (!out.empty()) {
      const Region& prev = out.back();
      if (r.target < prev.target || (r.target == prev.target && r.start < prev.end))
        return BatchError::kOrder;
    }
    out.push_back(r);
  }
  info->seq = le64toh(h.seq);
  info->collected_ns = le64toh(h.collected_ns);
  info->aggr_us = le32toh(h.aggr_us);
  info->max_accesses = max_accesses;
  *regions = std::move(out);
  return BatchError::kOk;
}

wave_mem_decision EncodeDecision(uint64_t batch_seq, const Region& r, uint8_t action,
                                 uint8_t source) {
  wave_mem_decision d{};
  d.batch_seq = htole64(batch_seq);
  d.start = htole64(r.start);
  d.len = htole64(r.end - r.start);
  d.target = htole32(r.target);
  d.action = action;
  d.source = source;
  return d;
}

bool ValidDecision(const wave_mem_decision& d) {
  const uint64_t start = le64toh(d.start);
  const uint64_t len = le64toh(d.len);
  return d.action >= WAVE_MEM_COLD && d.action <= WAVE_MEM_ACTION_MAX &&
         d.source >= WAVE_MEM_SRC_MODEL && d.source <= WAVE_MEM_SRC_MAX && d.reserved == 0 &&
         len != 0 && Aligned(start) && Aligned(len) && start + len > start;
}

}  // namespace wave::mem
