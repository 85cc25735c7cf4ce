#include "dmo_heap.h"

#include <sys/mman.h>

#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace wave::rt {
namespace {

constexpr size_t kLargeBlock = 64 * 1024;
constexpr size_t kPage = 4096;
constexpr size_t kMaxPooled = 512ull << 20;

size_t page_round(size_t n) {
  return (n + kPage - 1) & ~(kPage - 1);
}

// Freed large blocks by mapped length.
struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> blocks;
  size_t bytes = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: blocks may be freed during static teardown
  return *p;
}

void* take_pooled(size_t len) {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  auto it = p.blocks.find(len);
  if (it == p.blocks.end())
    return nullptr;
  void* v = it->second;
  p.blocks.erase(it);
  p.bytes -= len;
  return v;
}

bool give_pooled(void* v, size_t len) {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  if (p.bytes + len > kMaxPooled)
    return false;
  p.blocks.emplace(len, v);
  p.bytes += len;
  return true;
}

}  // namespace

DmoBlock::DmoBlock(size_t size, bool zeroed) : size_(size) {
  if (size == 0)
    return;
  if (size < kLargeBlock) {
    data_ = zeroed ? new (std::nothrow) std::byte[size]() : new (std::nothrow) std::byte[size];
  } else {
    const size_t len = page_round(size);
    if (void* v = take_pooled(len)) {
      data_ = static_cast<std::byte*>(v);
      if (zeroed)
        std::memset(data_, 0, size);
    } else {
      // Populated in one call: much cheaper than faulting the pages in one by one later.
      void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
      data_ = m == MAP_FAILED ? nullptr : static_cast<std::byte*>(m);  // fresh: already zero
    }
  }
  if (data_ == nullptr)
    size_ = 0;
}

DmoBlock DmoBlock::adopt(std::byte* data, size_t size, std::shared_ptr<BlockOwner> owner) {
  DmoBlock b;
  if (data == nullptr || size == 0 || owner == nullptr)
    return b;
  b.data_ = data;
  b.size_ = size;
  b.owner_ = std::move(owner);
  return b;
}

DmoBlock& DmoBlock::operator=(DmoBlock&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = o.data_;
    size_ = o.size_;
    owner_ = std::move(o.owner_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void DmoBlock::reset() {
  if (data_ == nullptr)
    return;
  if (owner_) {
    owner_->release(data_, size_);
    owner_.reset();
  } else if (size_ < kLargeBlock) {
    delete[] data_;
  } else {
    const size_t len = page_round(size_);
    if (!give_pooled(data_, len))
      munmap(data_, len);
  }
  data_ = nullptr;
  size_ = 0;
}

size_t DmoBlock::pooled_bytes() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  return p.bytes;
}

}  // namespace wave::rt
