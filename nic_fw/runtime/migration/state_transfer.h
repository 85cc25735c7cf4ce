// Shipping an actor's state (its DMOs and identity) over the link, and assembling it on the
// receiving side. Used in both directions: NIC to host on migration, host to NIC on return.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "runtime/dmo_table.h"
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

// Assembles one incoming actor state into a DMO table, one frame at a time.
class StateReceiver {
 public:
  enum class Step : uint8_t { kMore, kDone, kError };

  explicit StateReceiver(DmoTable& table) : table_(table) {}

  bool active() const { return active_; }
  // Feeds a kStateBegin, kObject, kChunk or kStateEnd frame. On kError the partial space is
  // destroyed and error() says why; the receiver is ready for a new state.
  Step on_frame(const FrameHeader& h, std::span<const std::byte> payload);
  const ActorImage& image() const { return img_; }
  uint64_t bytes() const { return bytes_; }
  const char* error() const { return error_; }

 private:
  Step fail(const char* why);

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
};

}  // namespace wave::rt::mig
