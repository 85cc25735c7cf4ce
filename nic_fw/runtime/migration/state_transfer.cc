#include "runtime/migration/state_transfer.h"

#include <cstring>

namespace wave::rt::mig {
namespace {

bool send_blocking(FrameChannel& tx, FrameType type, uint32_t actor, uint64_t a0, uint64_t a1,
                   std::span<const std::byte> payload, const std::function<bool()>& wait) {
  while (!tx.send(type, actor, 0, a0, a1, payload)) {
    if (!tx.ok() || !wait())
      return false;
  }
  return true;
}

}  // namespace

bool send_state(FrameChannel& tx, const DmoTable& table, const ActorImage& img,
                const std::function<bool()>& wait) {
  StateBegin b{};
  b.root = img.root;
  b.mem_cap = img.mem_cap;
  uint32_t objects = 0;
  uint64_t total = 0;
  table.for_each_object(img.id, [&](ObjectId, std::span<const std::byte> d) {
    ++objects;
    total += d.size();
  });
  b.objects = objects;
  b.total_bytes = total;
  put_fixed(b.type, sizeof b.type, img.type);
  put_fixed(b.name, sizeof b.name, img.name);
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

StateReceiver::Step StateReceiver::fail(const char* why) {
  error_ = why;
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
    active_ = false;
    return Step::kDone;
  }
  return fail("unexpected frame");
}

}  // namespace wave::rt::mig
