// Storage behind DMOs. Blocks of 64 KB and more come from mmap and, when freed, are kept in a
// bounded pool for reuse: like NIC firmware that holds its actor memory pool, the runtime does
// not hand pages back to the kernel on every free, so a migrated-in actor's objects land in
// memory that is already faulted in (the first use still pays the faults). Smaller blocks use
// the ordinary allocator.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wave::rt {

class DmoBlock {
 public:
  DmoBlock() = default;
  // Null data() on allocation failure. `zeroed` asks for zero-filled storage.
  DmoBlock(size_t size, bool zeroed);
  ~DmoBlock() { reset(); }
  DmoBlock(DmoBlock&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
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
};

}  // namespace wave::rt
