// The migration transport as the runtimes see it: one direction of frames (FrameChannel) and a
// pair of them (MigrationLink). The shared-memory rings in shm_ring.h implement it for the
// emulated link; a transport over the NIC's DMA engine would implement the same two calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "runtime/migration/frame.h"

namespace wave::rt::mig {

class FrameChannel {
 public:
  enum class Recv : uint8_t { kEmpty, kFrame, kBroken };
  using FrameFn = std::function<void(const FrameHeader&, std::span<const std::byte>)>;

  virtual ~FrameChannel() = default;
  // Producer: appends one frame; false if there is no room now (retry) or the channel broke.
  virtual bool send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0, uint64_t arg1,
                    std::span<const std::byte> payload) = 0;
  // Consumer: validates the next frame, if any, and passes it to `fn` (the payload view is
  // valid during the call only).
  virtual Recv recv(const FrameFn& fn) = 0;
  // False once the peer was caught writing something impossible; a broken channel stays so.
  virtual bool ok() const = 0;
  virtual uint64_t frames_sent() const = 0;
};

class MigrationLink {
 public:
  virtual ~MigrationLink() = default;
  virtual FrameChannel& tx() = 0;
  virtual FrameChannel& rx() = 0;
  bool ok() { return tx().ok() && rx().ok(); }
  // The DMA window this side maps (dma_window.h), empty when the link has none: then state is
  // shipped in kChunk frames. The keepalive owns the mapping (adopted objects hold it).
  virtual std::span<std::byte> dma_window() { return {}; }
  virtual std::shared_ptr<const void> dma_window_keepalive() { return nullptr; }
  // Blocks until rx() may have a frame or `timeout` passed. False when this link cannot wait
  // (the caller backs off on its own); true after waiting, whether or not a frame came.
  virtual bool wait_rx(std::chrono::nanoseconds timeout) {
    (void)timeout;
    return false;
  }
};

}  // namespace wave::rt::mig
