// A single-producer single-consumer frame ring in shared memory: the emulated link that carries
// migration frames between the NIC runtime and the host runtime (two views of one memfd, which
// may live in two processes). Frames are contiguous; a producer that would cross the end of
// the buffer writes a kPad frame (or leaves fewer than a header's bytes) and starts at zero.
//
// Memory ordering: the producer writes the payload and header, then publishes its position with
// a release store; the consumer reads the position with an acquire load, validates, consumes,
// and publishes its own position with a release store, which the producer reads (acquire)
// before reusing space. Both positions are untrusted: a position that is behind, or more than
// one buffer ahead, breaks the ring for good (counted), since no resynchronisation is possible.
//
// Why not libwave's ring (wave/ring.h): that ring carries fixed-size slots, each published by
// its own sequence word, with credits returned by the consumer, in the uapi/wave_ring.h layout
// that wave.ko and the NIC share. Migration frames are variable-length (a header and up to
// kMaxFramePayload bytes of DMO data, usually far more than a slot), so this ring publishes byte
// positions and wraps with pads instead. Carrying them over slots would mean chunking every
// frame; the two rings share the SPSC idea and not code.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "runtime/migration/frame.h"
#include "runtime/migration/frame_channel.h"

namespace wave::rt::mig {

struct RingShared {
  uint32_t magic;
  uint32_t size;  // bytes of data, a power of two
  uint8_t pad0[56];
  alignas(64) std::atomic<uint64_t> head;  // producer position (bytes ever written)
  alignas(64) std::atomic<uint64_t> tail;  // consumer position (bytes ever consumed)
  alignas(64) std::byte data[];
};

class ShmRing final : public FrameChannel {
 public:
  // Lays out an empty ring in `mem` (the creator does this once before either side uses it).
  static bool format(std::span<std::byte> mem);
  // Bytes of shared memory a ring with `data_bytes` of buffer needs.
  static size_t bytes_for(uint32_t data_bytes);

  // A view of a formatted ring; validates the header. ok() is false for a bad ring.
  explicit ShmRing(std::span<std::byte> mem);
  bool ok() const override { return shared_ != nullptr && !broken_; }

  // Producer: appends one frame; false if there is no room now (retry later) or the ring broke.
  bool send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0, uint64_t arg1,
            std::span<const std::byte> payload) override;
  // Consumer: if a frame is ready, validates it and calls `fn` with the header and a view of
  // the payload inside the ring (valid only during the call).
  Recv recv(const FrameFn& fn) override;

  uint64_t broken_count() const { return broken_ ? 1 : 0; }
  uint64_t frames_sent() const override { return sent_; }
  uint64_t frames_received() const { return received_; }

 private:
  RingShared* shared_ = nullptr;
  uint32_t size_ = 0;
  uint64_t local_head_ = 0;  // producer's own copy
  uint64_t local_tail_ = 0;  // consumer's own copy
  bool broken_ = false;
  uint64_t sent_ = 0, received_ = 0;
};

}  // namespace wave::rt::mig
