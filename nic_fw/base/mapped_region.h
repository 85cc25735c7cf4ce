// An owned shared mapping (mmap'ed MAP_SHARED), unmapped when the owner goes away.
#ifndef WAVE_NIC_FW_BASE_MAPPED_REGION_H_
#define WAVE_NIC_FW_BASE_MAPPED_REGION_H_

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <utility>

#include "base/status.h"

namespace wave::nic {

class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(MappedRegion&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { Reset(); }

  // Maps `size` bytes of `fd` from `offset`, read-write and shared.
  static Status Map(int fd, size_t size, off_t offset, MappedRegion* out);

  std::span<std::byte> bytes() const { return {static_cast<std::byte*>(base_), size_}; }
  void Reset();

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_MAPPED_REGION_H_
