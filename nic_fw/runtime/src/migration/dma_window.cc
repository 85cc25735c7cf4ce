#include "migration/dma_window.h"

#include "runtime/migration/frame.h"

namespace wave::rt::mig {

std::shared_ptr<DmaWindowAllocator> DmaWindowAllocator::create(
    std::span<std::byte> window, std::shared_ptr<const void> keepalive) {
  if (window.empty())
    return nullptr;
  return std::shared_ptr<DmaWindowAllocator>(new DmaWindowAllocator(window, std::move(keepalive)));
}

DmaWindowAllocator::DmaWindowAllocator(std::span<std::byte> window,
                                       std::shared_ptr<const void> keepalive)
    : window_(window), keepalive_(std::move(keepalive)) {
  const uint64_t usable = window_.size() & ~(kDmaAlign - 1);
  if (usable > 0) {
    free_[0] = usable;
    free_bytes_ = usable;
  }
}

bool DmaWindowAllocator::allocate(uint64_t len, uint64_t* offset) {
  if (len == 0 || len > window_.size())
    return false;
  len = dma_round(len);
  std::lock_guard lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < len)
      continue;
    *offset = it->first;
    const uint64_t rest = it->second - len;
    const uint64_t rest_at = it->first + len;
    free_.erase(it);
    if (rest > 0)
      free_[rest_at] = rest;
    free_bytes_ -= len;
    return true;
  }
  return false;
}

void DmaWindowAllocator::free(uint64_t offset, uint64_t len) {
  if (len == 0)
    return;
  std::lock_guard lock(mu_);
  free_bytes_ += len;
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += len;
      return;
    }
  }
  free_[offset] = len;
}

DmoBlock DmaWindowAllocator::adopt(uint64_t offset, uint64_t size) {
  return DmoBlock::adopt(window_.data() + offset, size, shared_from_this());
}

uint64_t DmaWindowAllocator::free_bytes() const {
  std::lock_guard lock(mu_);
  return free_bytes_;
}

void DmaWindowAllocator::release(std::byte* data, size_t size) {
  free(static_cast<uint64_t>(data - window_.data()), dma_round(size));
}

}  // namespace wave::rt::mig
