#include "base/mapped_region.h"

#include <sys/mman.h>

#include <cerrno>

namespace wave::nic {

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    Reset();
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Status MappedRegion::Map(int fd, size_t size, off_t offset, MappedRegion* out) {
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (base == MAP_FAILED) {
    return Status::Errno("mmap", errno);
  }
  out->Reset();
  out->base_ = base;
  out->size_ = size;
  return Status::Ok();
}

void MappedRegion::Reset() {
  if (base_ != nullptr) {
    munmap(base_, size_);
    base_ = nullptr;
    size_ = 0;
  }
}

}  // namespace wave::nic
