// The emulated DMA engine of the migration link: a window of host memory that both runtimes
// map. The host runtime owns the window and lends ranges of it to the NIC (kDmaGrant); the NIC
// writes each migrating object's bytes once, straight into a granted range, and names it in a
// descriptor (kDmaObject); the host adopts the range as the object's storage without copying,
// and gets it back when the object is freed. Nothing the NIC writes about ranges is trusted:
// the host checks every descriptor against the grant it made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>

#include "dmo_heap.h"

namespace wave::rt::mig {

// Host side: hands out page-aligned ranges of the window and takes them back. Adopted objects
// hold a reference, so the window mapping lives as long as the last of them.
class DmaWindowAllocator final : public BlockOwner,
                                 public std::enable_shared_from_this<DmaWindowAllocator> {
 public:
  // `keepalive` owns the mapping of `window`.
  static std::shared_ptr<DmaWindowAllocator> create(std::span<std::byte> window,
                                                    std::shared_ptr<const void> keepalive);

  std::span<std::byte> window() const { return window_; }
  // A range of `len` bytes (rounded up to kDmaAlign); false if none is free.
  bool allocate(uint64_t len, uint64_t* offset);
  // Returns [offset, offset + len) (both aligned, inside the window, currently allocated).
  void free(uint64_t offset, uint64_t len);
  // Wraps the allocated range [offset, offset + dma_round(size)) as a block of `size` bytes.
  DmoBlock adopt(uint64_t offset, uint64_t size);
  uint64_t free_bytes() const;

  void release(std::byte* data, size_t size) override;

 private:
  DmaWindowAllocator(std::span<std::byte> window, std::shared_ptr<const void> keepalive);
  std::span<std::byte> window_;
  std::shared_ptr<const void> keepalive_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // offset -> length, coalesced
  uint64_t free_bytes_ = 0;
};

}  // namespace wave::rt::mig
