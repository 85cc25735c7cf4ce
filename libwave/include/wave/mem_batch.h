// The memory link's access batches and decisions (uapi/wave_mem.h), encoded and checked.
//
// Both ends use this: the host's collector encodes batches, the NIC's agent decodes them, the
// NIC encodes decisions and the host's enactor checks them again. Decoding copies everything
// out of the (shared, untrusted) buffer before checking it, so the other side rewriting the
// bytes meanwhile can only make the batch fail its checksum, never pass a check and change.
#ifndef WAVE_MEM_BATCH_H_
#define WAVE_MEM_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wave_mem.h"

namespace wave::mem {

struct Region {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
  uint32_t target = 0;
  uint32_t age = 0;
  uint16_t nr_accesses = 0;
  uint16_t flags = 0;  // WAVE_MEM_REGION_F_*

  uint64_t bytes() const { return end - start; }
};

struct BatchInfo {
  uint64_t seq = 0;
  uint64_t collected_ns = 0;
  uint32_t aggr_us = 0;
  uint16_t max_accesses = 0;
};

// Why a batch was refused; each has a counter on the side that refuses.
enum class BatchError : uint8_t {
  kOk,
  kTruncated,     // shorter than its header or than total_bytes says
  kMagic,         // not a batch, or another version or header size
  kFlags,         // unknown header flag or non-zero reserved field
  kCount,         // region_count above WAVE_MEM_MAX_REGIONS or not matching total_bytes
  kChecksum,      // torn or corrupt
  kRange,         // a region empty, unaligned or wrapping
  kOrder,         // regions not sorted by (target, start) or overlapping
  kAccesses,      // nr_accesses above max_accesses, or max_accesses 0
  kRegionFlags,   // unknown region flag or non-zero reserved field
  kCountOfErrors  // not an error: the number of the ones above
};

const char* BatchErrorName(BatchError e);

// FNV-1a 64 as uapi/wave_mem.h defines it, over an encoded batch of total_bytes bytes.
uint64_t BatchChecksum(std::span<const uint8_t> batch);

// Bytes a batch of n regions takes.
constexpr size_t BatchBytes(size_t n) {
  return sizeof(wave_mem_batch_hdr) + n * sizeof(wave_mem_region);
}

// Encodes the batch into out; returns its size, or 0 if it does not fit in out or holds more
// than WAVE_MEM_MAX_REGIONS regions. The regions are written as given (the caller sorts).
size_t EncodeBatch(const BatchInfo& info, std::span<const Region> regions, std::span<uint8_t> out);

// Copies the batch out of in, then checks every field. On kOk, info and regions hold it.
BatchError DecodeBatch(std::span<const uint8_t> in, BatchInfo* info, std::vector<Region>* regions);

// A decision as the wire carries it.
wave_mem_decision EncodeDecision(uint64_t batch_seq, const Region& r, uint8_t action,
                                 uint8_t source);

// Whether a decision is well formed: known action and source, zero reserved field, a page
// aligned non-empty range that does not wrap. Says nothing about the target: the enactor
// checks that against the process.
bool ValidDecision(const wave_mem_decision& d);

}  // namespace wave::mem

#endif  // WAVE_MEM_BATCH_H_
