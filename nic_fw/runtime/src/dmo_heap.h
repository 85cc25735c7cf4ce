// Storage behind DMOs. Blocks of 64 KB and more come from mmap and, when freed, are kept in a
// bounded pool for reuse: like NIC firmware that holds its actor memory pool, the runtime does
// not hand pages back to the kernel on every free, so a migrated-in actor's objects land in
// memory that is already faulted in (the first use still pays the faults). Smaller blocks use
// the ordinary allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace wave::rt {

// Who gets a block's storage back when it is freed, for storage the runtime did not allocate
// itself (a range of the DMA window adopted by the host runtime after a migration).
class BlockOwner {
 public:
  virtual ~BlockOwner() = default;
  virtual void release(std::byte* data, size_t size) = 0;
};

class DmoBlock {
 public:
  DmoBlock() = default;
  // Null data() on allocation failure. `zeroed` asks for zero-filled storage.
  DmoBlock(size_t size, bool zeroed);
  ~DmoBlock() { reset(); }
  DmoBlock(DmoBlock&& o) noexcept : data_(o.data_), size_(o.size_), owner_(std::move(o.owner_)) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  // Takes `data` as the block's storage without copying; `owner` gets it back on reset.
  static DmoBlock adopt(std::byte* data, size_t size, std::shared_ptr<BlockOwner> owner);
  DmoBlock& operator=(DmoBlock&& o) noexcept;
  DmoBlock(const DmoBlock&) = delete;
  DmoBlock& operator=(const DmoBlock&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  void reset();

  // Bytes currently held in the reuse pool (for tests and stats).
  static size_t pooled_bytes();

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<BlockOwner> owner_;  // set for adopted storage only
};

}  // namespace wave::rt
