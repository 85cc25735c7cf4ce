#include "migration/slot_frame_channel.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "wave_frame_link.h"

namespace wave::rt::mig {
namespace {

constexpr uint32_t kPrefix = sizeof(wave_frame_slot_prefix);
constexpr uint32_t kFirstOverhead = kPrefix + sizeof(FrameHeader);

uint32_t slot_capacity(uint32_t slot_size) {
  return slot_size - kSlotHeaderSize;
}

}  // namespace

uint32_t SlotFrameChannel::slots_for(uint32_t slot_size, uint64_t payload_bytes) {
  const uint64_t first = slot_capacity(slot_size) - kFirstOverhead;
  if (payload_bytes <= first)
    return 1;
  const uint64_t cont = slot_capacity(slot_size) - kPrefix;
  return static_cast<uint32_t>(1 + (payload_bytes - first + cont - 1) / cont);
}

SlotFrameChannel::SlotFrameChannel(RingProducer producer, uint32_t slot_size, Notify notify)
    : is_producer_(true),
      slot_size_(slot_size),
      producer_(std::move(producer)),
      notify_(std::move(notify)) {}

SlotFrameChannel::SlotFrameChannel(RingConsumer consumer, uint32_t slot_size)
    : is_producer_(false),
      slot_size_(slot_size),
      consumer_(std::move(consumer)),
      buffer_(kMaxFramePayload) {}

bool SlotFrameChannel::send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0,
                            uint64_t arg1, std::span<const std::byte> payload) {
  if (!is_producer_ || broken_ || payload.size() > kMaxFramePayload)
    return false;
  const uint32_t n = slots_for(slot_size_, payload.size());
  // Room for the whole frame or nothing: the consumer never sees a partial frame.
  if (producer_.Room(n) < n) {
    stats_.full++;
    return false;
  }
  const FrameHeader h{kFrameMagic, static_cast<uint16_t>(type),           flags,
                      actor,       static_cast<uint32_t>(payload.size()), arg0,
                      arg1};
  const uint32_t cap = slot_capacity(slot_size_);
  const uint32_t seq = seq_;
  size_t done = 0;
  const uint32_t written =
      producer_.EnqueueBatch(n, [&](uint32_t i, uint8_t* p) -> std::pair<uint16_t, uint16_t> {
        const wave_frame_slot_prefix pre{seq, i};
        std::memcpy(p, &pre, kPrefix);
        uint32_t head = kPrefix;
        if (i == 0) {
          std::memcpy(p + kPrefix, &h, sizeof h);
          head = kFirstOverhead;
        }
        const size_t take = std::min<size_t>(cap - head, payload.size() - done);
        if (take != 0)
          std::memcpy(p + head, payload.data() + done, take);
        done += take;
        return {static_cast<uint16_t>(i == 0 ? WAVE_FRAME_SLOT_FIRST : WAVE_FRAME_SLOT_CONT),
                static_cast<uint16_t>(head + take)};
      });
  if (written != n) {
    // Room() promised n slots and credits only grow: a shorter batch would be a ring bug.
    broken_ = true;
    return false;
  }
  ++seq_;
  stats_.frames++;
  stats_.slots += n;
  if (notify_)
    notify_();
  return true;
}

void SlotFrameChannel::fail(uint64_t& counter) {
  counter++;
  broken_ = true;
  assembling_ = false;
  complete_ = false;
}

void SlotFrameChannel::take_first(const uint8_t* slot, uint16_t len) {
  if (len < kFirstOverhead)
    return fail(stats_.bad_header);
  wave_frame_slot_prefix pre;
  std::memcpy(&pre, slot, kPrefix);
  if (pre.index != 0 || pre.frame_seq != seq_)
    return fail(stats_.bad_continuation);  // a frame out of order
  FrameHeader h;
  std::memcpy(&h, slot + kPrefix, sizeof h);
  if (h.magic != kFrameMagic || h.type == static_cast<uint16_t>(FrameType::kPad) ||
      h.type > kMaxFrameType)
    return fail(stats_.bad_header);
  if (h.len > kMaxFramePayload)
    return fail(stats_.oversize);
  const uint32_t take = std::min<uint32_t>(h.len, slot_capacity(slot_size_) - kFirstOverhead);
  if (len - kFirstOverhead != take)
    return fail(stats_.bad_header);
  header_ = h;
  if (take != 0)
    std::memcpy(buffer_.data(), slot + kFirstOverhead, take);
  filled_ = take;
  next_index_ = 1;
  missing_slots_ = slots_for(slot_size_, h.len) - 1;
  assembling_ = missing_slots_ != 0;
  complete_ = missing_slots_ == 0;
}

void SlotFrameChannel::take_continuation(const uint8_t* slot, uint16_t len) {
  if (!assembling_ || len < kPrefix)
    return fail(stats_.bad_continuation);
  wave_frame_slot_prefix pre;
  std::memcpy(&pre, slot, kPrefix);
  if (pre.frame_seq != seq_ || pre.index != next_index_)
    return fail(stats_.bad_continuation);
  const uint32_t take =
      std::min<uint32_t>(header_.len - filled_, slot_capacity(slot_size_) - kPrefix);
  if (len - kPrefix != take)
    return fail(stats_.bad_continuation);
  std::memcpy(buffer_.data() + filled_, slot + kPrefix, take);
  filled_ += take;
  next_index_++;
  if (--missing_slots_ == 0) {
    assembling_ = false;
    complete_ = true;
  }
}

void SlotFrameChannel::take_slot(uint16_t type, const uint8_t* slot, uint16_t len) {
  if (broken_)
    return;
  stats_.slots++;
  if (type == WAVE_FRAME_SLOT_FIRST) {
    if (assembling_)
      return fail(stats_.bad_continuation);  // a new frame before this one's end
    take_first(slot, len);
  } else if (type == WAVE_FRAME_SLOT_CONT) {
    take_continuation(slot, len);
  } else {
    fail(stats_.bad_header);
  }
}

void SlotFrameChannel::pump() {
  while (!broken_ && !complete_) {
    // One slot until the header says how many follow, then exactly those: the batch never
    // reaches into the next frame.
    const uint32_t want = assembling_ ? missing_slots_ : 1;
    const uint64_t dropped_before = consumer_.stats().bad_slots;
    const uint32_t got = consumer_.DequeueBatch(
        want,
        [this](uint16_t type, const uint8_t* slot, uint16_t len) { take_slot(type, slot, len); });
    if (consumer_.stats().bad_slots != dropped_before) {
      // The ring dropped a slot it could not parse: a frame has a hole.
      stats_.bad_slots += consumer_.stats().bad_slots - dropped_before;
      broken_ = true;
      assembling_ = false;
      complete_ = false;
      return;
    }
    if (got == 0)
      return;
  }
}

bool SlotFrameChannel::ready() {
  if (is_producer_)
    return false;
  if (!complete_)
    pump();
  return complete_ || broken_;
}

FrameChannel::Recv SlotFrameChannel::recv(const FrameFn& fn) {
  if (is_producer_)
    return Recv::kBroken;
  if (!complete_)
    pump();
  if (broken_)
    return Recv::kBroken;
  if (!complete_)
    return Recv::kEmpty;
  complete_ = false;
  ++seq_;
  stats_.frames++;
  fn(header_, std::span<const std::byte>(buffer_.data(), header_.len));
  return Recv::kFrame;
}

}  // namespace wave::rt::mig
