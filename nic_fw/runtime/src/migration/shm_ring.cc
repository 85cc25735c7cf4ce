#include "migration/shm_ring.h"

#include <cstring>
#include <new>

namespace wave::rt::mig {
namespace {

constexpr uint32_t kRingMagic = 0x474e4952u;  // "RING"
constexpr uint64_t kAlign = 8;

uint64_t align_up(uint64_t v) {
  return (v + kAlign - 1) & ~(kAlign - 1);
}

}  // namespace

size_t ShmRing::bytes_for(uint32_t data_bytes) {
  return sizeof(RingShared) + data_bytes;
}

bool ShmRing::format(std::span<std::byte> mem) {
  if (mem.size() < sizeof(RingShared) + 4096)
    return false;
  uint64_t data = mem.size() - sizeof(RingShared);
  uint32_t size = 1;
  while (static_cast<uint64_t>(size) * 2 <= data && size < (1u << 30))
    size *= 2;
  auto* r = new (mem.data()) RingShared;
  r->size = size;
  r->head.store(0, std::memory_order_relaxed);
  r->tail.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::atomic_ref<uint32_t>(r->magic).store(kRingMagic, std::memory_order_release);
  return true;
}

ShmRing::ShmRing(std::span<std::byte> mem) {
  if (mem.size() < sizeof(RingShared))
    return;
  auto* r = reinterpret_cast<RingShared*>(mem.data());
  if (std::atomic_ref<uint32_t>(r->magic).load(std::memory_order_acquire) != kRingMagic)
    return;
  const uint32_t size = r->size;
  // The size is read once and checked against the mapping: a lying header cannot make us
  // address outside it.
  if (size < 4096 || (size & (size - 1)) != 0 || sizeof(RingShared) + size > mem.size())
    return;
  shared_ = r;
  size_ = size;
  local_head_ = r->head.load(std::memory_order_acquire);
  local_tail_ = r->tail.load(std::memory_order_acquire);
}

bool ShmRing::send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0, uint64_t arg1,
                   std::span<const std::byte> payload) {
  if (!ok() || payload.size() > kMaxFramePayload)
    return false;
  const uint64_t need = align_up(sizeof(FrameHeader) + payload.size());
  const uint64_t tail = shared_->tail.load(std::memory_order_acquire);
  if (tail > local_head_ || local_head_ - tail > size_) {
    broken_ = true;  // the consumer published a position it cannot have reached
    return false;
  }
  uint64_t off = local_head_ & (size_ - 1);
  uint64_t skip = 0;
  if (off + need > size_)
    skip = size_ - off;  // wrap: the frame must be contiguous
  if (local_head_ + skip + need - tail > size_)
    return false;  // no room yet
  if (skip >= sizeof(FrameHeader)) {
    FrameHeader pad{kFrameMagic, static_cast<uint16_t>(FrameType::kPad), 0, 0, 0, 0, 0};
    std::memcpy(shared_->data + off, &pad, sizeof pad);
  }
  off = (local_head_ + skip) & (size_ - 1);
  FrameHeader h{kFrameMagic, static_cast<uint16_t>(type),           flags,
                actor,       static_cast<uint32_t>(payload.size()), arg0,
                arg1};
  if (!payload.empty()) {
    std::memcpy(shared_->data + off + sizeof h, payload.data(), payload.size());
  }
  std::memcpy(shared_->data + off, &h, sizeof h);
  local_head_ += skip + need;
  shared_->head.store(local_head_, std::memory_order_release);
  ++sent_;
  return true;
}

ShmRing::Recv ShmRing::recv(const FrameFn& fn) {
  if (!ok())
    return Recv::kBroken;
  for (;;) {
    const uint64_t head = shared_->head.load(std::memory_order_acquire);
    if (head < local_tail_ || head - local_tail_ > size_) {
      broken_ = true;
      return Recv::kBroken;
    }
    if (head == local_tail_)
      return Recv::kEmpty;
    const uint64_t off = local_tail_ & (size_ - 1);
    const uint64_t to_end = size_ - off;
    // Fewer bytes than a header before the end are an implicit pad; a kPad frame an explicit
    // one. Either way the producer went on at zero, so the rest of the buffer is skipped.
    bool pad = to_end < sizeof(FrameHeader);
    FrameHeader h;
    if (!pad) {
      if (head - local_tail_ < sizeof(FrameHeader)) {
        broken_ = true;
        return Recv::kBroken;
      }
      std::memcpy(&h, shared_->data + off, sizeof h);
      if (h.magic != kFrameMagic || h.type > kMaxFrameType) {
        broken_ = true;
        return Recv::kBroken;
      }
      pad = h.type == static_cast<uint16_t>(FrameType::kPad);
    }
    if (pad) {
      if (head - local_tail_ < to_end) {
        broken_ = true;
        return Recv::kBroken;
      }
      local_tail_ += to_end;
      shared_->tail.store(local_tail_, std::memory_order_release);
      continue;
    }
    const uint64_t need = align_up(sizeof h + static_cast<uint64_t>(h.len));
    if (h.len > kMaxFramePayload || need > to_end || need > head - local_tail_) {
      broken_ = true;
      return Recv::kBroken;
    }
    fn(h, {shared_->data + off + sizeof h, h.len});
    local_tail_ += need;
    shared_->tail.store(local_tail_, std::memory_order_release);
    ++received_;
    return Recv::kFrame;
  }
}

}  // namespace wave::rt::mig
