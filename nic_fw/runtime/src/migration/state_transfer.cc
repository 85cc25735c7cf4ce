#include "migration/state_transfer.h"

#include <cstring>

namespace wave::rt::mig {
namespace {

constexpr uint32_t kMaxObjects = 0xffffff;  // the 24-bit slot field of an object id

bool send_blocking(FrameChannel& tx, FrameType type, uint32_t actor, uint64_t a0, uint64_t a1,
                   std::span<const std::byte> payload, const std::function<bool()>& wait,
                   uint16_t flags = 0) {
  while (!tx.send(type, actor, flags, a0, a1, payload)) {
    if (!tx.ok() || !wait())
      return false;
  }
  return true;
}

StateBegin make_begin(const DmoTable& table, const ActorImage& img, uint64_t* window_bytes) {
  StateBegin b{};
  b.root = img.root;
  b.mem_cap = img.mem_cap;
  uint32_t objects = 0;
  uint64_t total = 0;
  uint64_t rounded = 0;
  table.for_each_object(img.id, [&](ObjectId, std::span<const std::byte> d) {
    ++objects;
    total += d.size();
    rounded += dma_round(d.size());
  });
  b.objects = objects;
  b.total_bytes = total;
  put_fixed(b.type, sizeof b.type, img.type);
  put_fixed(b.name, sizeof b.name, img.name);
  if (window_bytes != nullptr)
    *window_bytes = rounded;
  return b;
}

}  // namespace

bool DmaGrantSlot::offer(ActorId from, uint64_t off, uint64_t len, uint64_t window_size) {
  if (actor == kNoActorId || from != actor || granted || refused)
    return false;
  if (off % kDmaAlign != 0 || off > window_size || len > window_size - off || len < needed)
    return false;
  offset = off;
  length = len;
  granted = true;
  return true;
}

bool send_state(FrameChannel& tx, const DmoTable& table, const ActorImage& img,
                const std::function<bool()>& wait) {
  const StateBegin b = make_begin(table, img, nullptr);
  const uint32_t objects = b.objects;
  const uint64_t total = b.total_bytes;
  if (!send_blocking(tx, FrameType::kStateBegin, img.id, objects, total,
                     std::as_bytes(std::span(&b, 1)), wait)) {
    return false;
  }
  bool ok = true;
  table.for_each_object(img.id, [&](ObjectId id, std::span<const std::byte> d) {
    if (!ok)
      return;
    ok = send_blocking(tx, FrameType::kObject, img.id, id, d.size(), {}, wait);
    for (uint64_t off = 0; ok && off < d.size(); off += kChunkBytes) {
      const uint64_t n = std::min<uint64_t>(kChunkBytes, d.size() - off);
      ok = send_blocking(tx, FrameType::kChunk, img.id, id, off, d.subspan(off, n), wait);
    }
  });
  return ok && send_blocking(tx, FrameType::kStateEnd, img.id, objects, total, {}, wait);
}

bool send_state_dma(FrameChannel& tx, const DmoTable& table, const ActorImage& img,
                    std::span<std::byte> window, DmaGrantSlot& grant,
                    const std::function<bool()>& wait) {
  uint64_t needed = 0;
  const StateBegin b = make_begin(table, img, &needed);
  grant = DmaGrantSlot{};
  grant.actor = img.id;
  grant.needed = needed;
  bool ok = send_blocking(tx, FrameType::kStateBegin, img.id, b.objects, b.total_bytes,
                          std::as_bytes(std::span(&b, 1)), wait, kFlagDma);
  while (ok && !grant.granted && !grant.refused)
    ok = wait();
  ok = ok && grant.granted;
  uint64_t at = grant.offset;
  table.for_each_object(img.id, [&](ObjectId id, std::span<const std::byte> d) {
    if (!ok)
      return;
    // The only copy of the bytes: into host memory, where the host adopts them.
    std::memcpy(window.data() + at, d.data(), d.size());
    const DmaDescriptor desc{id, at, d.size()};
    ok = send_blocking(tx, FrameType::kDmaObject, img.id, id, d.size(),
                       std::as_bytes(std::span(&desc, 1)), wait);
    at += dma_round(d.size());
  });
  grant.actor = kNoActorId;
  return ok && send_blocking(tx, FrameType::kStateEnd, img.id, b.objects, b.total_bytes, {}, wait);
}

bool StateReceiver::take_grant(uint64_t* offset, uint64_t* length) {
  if (!grant_pending_)
    return false;
  grant_pending_ = false;
  *offset = grant_off_;
  *length = grant_len_;
  return true;
}

void StateReceiver::release_grant() {
  if (dma_ && grant_len_ > 0)
    dma_->free(grant_cursor_, grant_off_ + grant_len_ - grant_cursor_);
  grant_len_ = 0;
  grant_pending_ = false;
  dma_mode_ = false;
}

StateReceiver::Step StateReceiver::on_dma_object(const FrameHeader& h,
                                                 std::span<const std::byte> payload) {
  if (!dma_mode_)
    return fail("descriptor outside a one-copy transfer");
  DmaDescriptor d;
  if (payload.size() != sizeof d)
    return fail("bad descriptor size");
  std::memcpy(&d, payload.data(), sizeof d);  // the ring stays writable by the peer
  if (d.object != h.arg0 || d.size != h.arg1 || object_owner(d.object) != img_.id)
    return fail("descriptor names another object");
  if (++objects_seen_ > objects_expected_)
    return fail("too many objects");
  if (d.size == 0 || d.size > bytes_expected_ - bytes_)
    return fail("objects exceed announced size");
  // In grant order, aligned, inside what is left of the grant.
  const uint64_t grant_end = grant_off_ + grant_len_;
  if (d.offset % kDmaAlign != 0 || d.offset < grant_cursor_ || d.offset > grant_end ||
      dma_round(d.size) > grant_end - d.offset) {
    return fail("descriptor outside the grant");
  }
  dma_->free(grant_cursor_, d.offset - grant_cursor_);  // a gap the sender skipped
  grant_cursor_ = d.offset + dma_round(d.size);
  // From here the range belongs to the block: dropped on failure, it goes back to the window.
  if (table_.adopt_object(img_.id, d.object, dma_->adopt(d.offset, d.size)) != Status::kOk)
    return fail("object refused");
  bytes_ += d.size;
  return Step::kMore;
}

StateReceiver::Step StateReceiver::fail(const char* why) {
  error_ = why;
  release_grant();
  if (active_ && img_.id != kNoActorId)
    table_.destroy_space(img_.id);
  active_ = false;
  return Step::kError;
}

StateReceiver::Step StateReceiver::on_frame(const FrameHeader& h,
                                            std::span<const std::byte> payload) {
  const auto type = static_cast<FrameType>(h.type);
  if (type == FrameType::kStateBegin) {
    if (active_)
      fail("state begun twice");
    StateBegin b;
    if (payload.size() != sizeof b)
      return fail("bad state header size");
    std::memcpy(&b, payload.data(), sizeof b);  // copy once: the ring stays writable by the peer
    if (h.actor == kNoActorId || h.actor > kMaxActorId)
      return fail("bad actor id");
    if (b.total_bytes > b.mem_cap || object_owner(b.root) != h.actor) {
      return fail("inconsistent state header");
    }
    img_ = ActorImage{h.actor, fixed_string(b.type, sizeof b.type),
                      fixed_string(b.name, sizeof b.name), b.mem_cap, b.root};
    if (table_.create_space(h.actor, b.mem_cap) != Status::kOk) {
      img_.id = kNoActorId;  // the space belongs to someone else: do not destroy it
      return fail("actor already exists here");
    }
    if ((h.flags & kFlagDma) != 0) {
      active_ = true;  // so that a failure below destroys the new space
      // Each object is rounded up to kDmaAlign; objects are at most the slot count.
      if (!dma_)
        return fail("no DMA window for a one-copy transfer");
      if (b.objects > kMaxObjects || b.total_bytes > dma_->window().size())
        return fail("state larger than the DMA window");
      const uint64_t len = b.total_bytes + uint64_t{b.objects} * kDmaAlign;
      if (len == 0 || !dma_->allocate(len, &grant_off_))
        return fail("DMA window full");
      grant_len_ = dma_round(len);
      grant_cursor_ = grant_off_;
      grant_pending_ = true;
      dma_mode_ = true;
    }
    active_ = true;
    objects_expected_ = b.objects;
    objects_seen_ = 0;
    bytes_expected_ = b.total_bytes;
    bytes_ = 0;
    cur_id_ = kNoObjectId;
    cur_ = {};
    cur_filled_ = 0;
    return Step::kMore;
  }
  if (!active_ || h.actor != img_.id)
    return fail("state frame outside a state transfer");
  if (type == FrameType::kDmaObject)
    return on_dma_object(h, payload);
  if (dma_mode_ && (type == FrameType::kObject || type == FrameType::kChunk))
    return fail("copied object inside a one-copy transfer");
  if (type == FrameType::kObject) {
    if (cur_filled_ != cur_.size())
      return fail("previous object incomplete");
    if (++objects_seen_ > objects_expected_)
      return fail("too many objects");
    if (h.arg1 > bytes_expected_ - bytes_)
      return fail("objects exceed announced size");
    std::span<std::byte> storage;
    if (table_.import_object(img_.id, h.arg0, h.arg1, &storage) != Status::kOk) {
      return fail("object refused");
    }
    cur_id_ = h.arg0;
    cur_ = storage;
    cur_filled_ = 0;
    bytes_ += h.arg1;
    return Step::kMore;
  }
  if (type == FrameType::kChunk) {
    // Chunks arrive in order; any other offset is a protocol error.
    if (h.arg0 != cur_id_ || h.arg1 != cur_filled_ || payload.size() > cur_.size() - cur_filled_) {
      return fail("bad chunk");
    }
    std::memcpy(cur_.data() + cur_filled_, payload.data(), payload.size());
    cur_filled_ += payload.size();
    return Step::kMore;
  }
  if (type == FrameType::kStateEnd) {
    if (cur_filled_ != cur_.size() || objects_seen_ != objects_expected_ ||
        bytes_ != bytes_expected_ || h.arg0 != objects_expected_) {
      return fail("state incomplete");
    }
    release_grant();
    active_ = false;
    return Step::kDone;
  }
  return fail("unexpected frame");
}

}  // namespace wave::rt::mig
