// One direction of frames over libwave's slot ring (wave/ring.h), in the slot format of
// uapi/wave_frame_link.h: a first slot with the frame header and the start of the payload,
// then continuation slots, all published by one EnqueueBatch, so a frame is never half-sent.
//
// Unlike ShmRing (shm_ring.h), which publishes byte positions in its own layout, this channel
// uses the uapi/wave_ring.h rings that a Wave device's queue regions hold (queue_link.h), with
// the sequence words and credits that ring brings.
//
// The producer end only sends, the consumer end only receives. The consumer copies each slot
// out before it checks it (the producer is untrusted) and reassembles into a buffer bounded by
// kMaxFramePayload; anything impossible breaks the channel for good and is counted by reason.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/migration/frame_channel.h"
#include "runtime/migration/queue_link.h"
#include "wave/ring.h"

namespace wave::rt::mig {

using SlotChannelStats = FrameLinkStats;

class SlotFrameChannel final : public FrameChannel {
 public:
  // Called after every frame sent: rings the peer's doorbell or interrupt.
  using Notify = std::function<void()>;

  // Slots a frame of `payload_bytes` takes in a ring of `slot_size`-byte slots.
  static uint32_t slots_for(uint32_t slot_size, uint64_t payload_bytes);

  SlotFrameChannel(RingProducer producer, uint32_t slot_size, Notify notify);
  SlotFrameChannel(RingConsumer consumer, uint32_t slot_size);

  bool send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0, uint64_t arg1,
            std::span<const std::byte> payload) override;
  Recv recv(const FrameFn& fn) override;
  bool ok() const override { return !broken_; }
  uint64_t frames_sent() const override { return is_producer_ ? stats_.frames : 0; }

  // Consumer: takes whatever slots are there into the reassembly; true once a whole frame (or
  // a broken channel) waits for recv. Lets a waiter check readiness without losing a frame.
  bool ready();
  const SlotChannelStats& stats() const { return stats_; }
  const RingStats& ring_stats() const {
    return is_producer_ ? producer_.stats() : consumer_.stats();
  }

 private:
  void pump();
  void take_slot(uint16_t type, const uint8_t* slot, uint16_t len);
  void take_first(const uint8_t* slot, uint16_t len);
  void take_continuation(const uint8_t* slot, uint16_t len);
  void fail(uint64_t& counter);

  bool is_producer_;
  uint32_t slot_size_;
  RingProducer producer_;
  RingConsumer consumer_;
  Notify notify_;
  uint32_t seq_ = 0;  // frame number of the next frame sent / expected
  bool broken_ = false;
  SlotChannelStats stats_;

  // Consumer reassembly.
  bool assembling_ = false;
  bool complete_ = false;
  uint32_t next_index_ = 0;
  uint32_t filled_ = 0;  // payload bytes reassembled so far
  uint32_t missing_slots_ = 0;
  FrameHeader header_{};
  std::vector<std::byte> buffer_;  // capacity kMaxFramePayload, reserved once
};

}  // namespace wave::rt::mig
