// Shipping an actor's state (its DMOs and identity) over the link, and assembling it on the
// receiving side. Used in both directions: NIC to host on migration, host to NIC on return.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "dmo_table.h"
#include "migration/dma_window.h"
#include "runtime/migration/frame_channel.h"

namespace wave::rt::mig {

// What identifies an actor apart from its objects.
struct ActorImage {
  ActorId id = kNoActorId;
  std::string type;
  std::string name;
  uint64_t mem_cap = 0;
  ObjectId root = kNoObjectId;
};

// Sends kStateBegin, kObject + kChunk frames per object, kStateEnd. The actor must be stopped.
// While the ring is full it calls `wait` (which should drain the other direction) and retries;
// gives up when the ring breaks or `wait` returns false.
bool send_state(FrameChannel& tx, const DmoTable& table, const ActorImage& img,
                const std::function<bool()>& wait);

// Where the NIC side of a one-copy transfer learns its grant: the runtime fills it from the
// kDmaGrant (or a refusing kStateAck) it receives while send_state_dma waits.
struct DmaGrantSlot {
  ActorId actor = kNoActorId;  // the actor awaiting a grant, or none
  uint64_t needed = 0;         // bytes of window the objects take (each rounded to kDmaAlign)
  bool granted = false;
  bool refused = false;
  uint64_t offset = 0;
  uint64_t length = 0;
  // Checks a grant the host wrote against the window this side maps; true if taken.
  bool offer(ActorId from, uint64_t off, uint64_t len, uint64_t window_size);
};

// The one-copy variant of send_state: kStateBegin with kFlagDma, then, once `grant` holds the
// host's range, each object's bytes are written once into `window` and named by a kDmaObject
// descriptor, then kStateEnd. `wait` must poll the other direction (which fills `grant`).
bool send_state_dma(FrameChannel& tx, const DmoTable& table, const ActorImage& img,
                    std::span<std::byte> window, DmaGrantSlot& grant,
                    const std::function<bool()>& wait);

// Assembles one incoming actor state into a DMO table, one frame at a time.
class StateReceiver {
 public:
  enum class Step : uint8_t { kMore, kDone, kError };

  explicit StateReceiver(DmoTable& table) : table_(table) {}
  // Accepts one-copy transfers into ranges of this window (host side).
  void set_dma_window(std::shared_ptr<DmaWindowAllocator> w) { dma_ = std::move(w); }

  bool active() const { return active_; }
  // Feeds a kStateBegin, kObject, kChunk or kStateEnd frame. On kError the partial space is
  // destroyed and error() says why; the receiver is ready for a new state.
  Step on_frame(const FrameHeader& h, std::span<const std::byte> payload);
  const ActorImage& image() const { return img_; }
  uint64_t bytes() const { return bytes_; }
  const char* error() const { return error_; }
  // After a kStateBegin with kFlagDma: the range to grant the sender (once); false if none.
  bool take_grant(uint64_t* offset, uint64_t* length);

 private:
  Step fail(const char* why);
  Step on_dma_object(const FrameHeader& h, std::span<const std::byte> payload);
  // Hands the part of the grant not adopted back to the window.
  void release_grant();

  DmoTable& table_;
  bool active_ = false;
  ActorImage img_;
  uint32_t objects_expected_ = 0;
  uint32_t objects_seen_ = 0;
  uint64_t bytes_expected_ = 0;
  uint64_t bytes_ = 0;
  // The object being filled.
  ObjectId cur_id_ = kNoObjectId;
  std::span<std::byte> cur_;
  uint64_t cur_filled_ = 0;
  const char* error_ = "";
  // One-copy transfer: the granted range and how far objects have been adopted from it.
  std::shared_ptr<DmaWindowAllocator> dma_;
  bool dma_mode_ = false;
  bool grant_pending_ = false;
  uint64_t grant_off_ = 0;
  uint64_t grant_len_ = 0;
  uint64_t grant_cursor_ = 0;
};

}  // namespace wave::rt::mig
