// The standard set of queues between the host and the NIC, built on a Device.
//
//   message region  (host to NIC, WC on the host): ring 0 task events and outcomes,
//                   ring 1 DMA descriptors; credits[] of the decision region's rings
//   decision region (NIC to host, WT on the host): ring 0 decisions + one prestaged slot per
//                   host CPU, ring 1 DMA completions; credits[] of the message region's rings
//   DMA buffer      (NIC memory the DMA engine fills and drains)
//
// Each ring's credits therefore live in memory its producer owns... on the NIC side. For the
// host's rings they sit in the decision region, which the host reads through WT (flushing the
// line first) only when its cached credit says a ring is full. On a NIC that can write host
// memory they would move to host RAM; the ring code does not care where the cell is.
//
// The host creates and initialises everything (HostLink::Create); the NIC side finds the
// regions in the queue table and checks every descriptor (NicLink::Attach).
#ifndef WAVE_LINK_H_
#define WAVE_LINK_H_

#include <cstdint>
#include <memory>

#include "wave/decision_queue.h"
#include "wave/device.h"
#include "wave/dma_queue.h"
#include "wave/message_queue.h"

namespace wave {

struct LinkConfig {
  uint32_t message_slots = 4096;
  uint32_t decision_slots = 1024;
  uint32_t nr_cpus = 8;     // prestaged decision slots
  uint32_t dma_slots = 64;  // 0: no DMA queue
  uint64_t dma_buffer_size = 1u << 20;
  uint16_t message_vector = 1;   // doorbell of the message region
  uint16_t decision_vector = 2;  // interrupt of the decision region
  // Host mapping of the message and decision regions: WAVE_CACHE_DEFAULT gives WC and WT
  // (Wave's mitigation), WAVE_CACHE_UC gives Wave's unmitigated baseline.
  uint16_t cache_mode = WAVE_CACHE_DEFAULT;
  const LinkModel* model = nullptr;  // charged on the host's accesses
};

// Indices of the rings inside their region.
inline constexpr uint32_t kMessageRing = 0;
inline constexpr uint32_t kDmaDescRing = 1;
inline constexpr uint32_t kDecisionRing = 0;
inline constexpr uint32_t kDmaDoneRing = 1;

class HostLink {
 public:
  static Result<std::unique_ptr<HostLink>> Create(Device& dev, const LinkConfig& config);

  MessageProducer& messages() { return messages_; }
  DecisionConsumer& decisions() { return decisions_; }
  DmaQueue* dma() { return has_dma_ ? &dma_ : nullptr; }
  const QueueRegion& message_region() const { return message_region_; }
  const QueueRegion& decision_region() const { return decision_region_; }
  const QueueRegion& dma_region() const { return dma_region_; }
  // Rings the message region's doorbell (tell a sleeping NIC there is work).
  Status Kick() { return dev_.Notify(message_region_.id, 0); }

 private:
  explicit HostLink(Device& dev) : dev_(dev) {}
  Device& dev_;
  QueueRegion message_region_, decision_region_, dma_region_;
  MessageProducer messages_;
  DecisionConsumer decisions_;
  DmaQueue dma_;
  bool has_dma_ = false;
};

class NicLink {
 public:
  // Finds the first live message and decision regions (and DMA buffer) in the queue table.
  // kResume continues the rings where a previous NIC consumer committed.
  static Result<std::unique_ptr<NicLink>> Attach(
      Device& dev, RingConsumer::Start start = RingConsumer::Start::kFresh,
      const LinkModel* model = nullptr);
  // Attaches to the link whose message region is queue message_queue, when several links
  // share the device (the scheduling and the memory link): its decision region is the one the
  // message ring's credits name; its DMA buffer is queue dma_queue, or the first live one for
  // kAnyQueue.
  static constexpr uint32_t kAnyQueue = UINT32_MAX;
  static Result<std::unique_ptr<NicLink>> AttachTo(Device& dev, uint32_t message_queue,
                                                   uint32_t dma_queue, RingConsumer::Start start,
                                                   const LinkModel* model = nullptr);

  MessageConsumer& messages() { return messages_; }
  DecisionProducer& decisions() { return decisions_; }
  DmaEngine* dma() { return has_dma_ ? &dma_ : nullptr; }
  const QueueRegion& message_region() const { return message_region_; }
  const QueueRegion& decision_region() const { return decision_region_; }
  // Raises the decision region's interrupt (tell a sleeping host there are decisions).
  Status Kick() { return dev_.Notify(decision_region_.id, 0); }

 private:
  explicit NicLink(Device& dev) : dev_(dev) {}
  Device& dev_;
  QueueRegion message_region_, decision_region_, dma_region_;
  MessageConsumer messages_;
  DecisionProducer decisions_;
  DmaEngine dma_;
  bool has_dma_ = false;
};

}  // namespace wave

#endif  // WAVE_LINK_H_
