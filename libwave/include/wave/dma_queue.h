// Bulk transfers between host memory and a NIC buffer region, with scatter-gather lists.
//
// The host posts a descriptor (op, NIC offset, host segments) on the DMA descriptor ring; the
// NIC's DMA engine moves the bytes and posts a completion carrying the descriptor's cookie on
// the completion ring. Host addresses are offsets in the host window that the NIC can reach
// (Device::HostWindow). The engine here is the emulated one: a NIC-side loop that maps both
// the host window and the NIC buffer and copies, charging the link model's DMA latency. It
// checks every descriptor before moving a byte.
#ifndef WAVE_DMA_QUEUE_H_
#define WAVE_DMA_QUEUE_H_

#include <cstdint>
#include <span>

#include "wave/message_queue.h"

namespace wave {

inline constexpr uint32_t kDmaSlotSize = 256;
// Segments that fit in a descriptor slot after the slot header and wave_dma_desc.
inline constexpr uint32_t kDmaMaxSegments =
    (kDmaSlotSize - sizeof(wave_slot_hdr) - sizeof(wave_dma_desc)) / sizeof(wave_dma_sge);

struct DmaSegment {
  uint64_t addr = 0;  // offset in the host window
  uint32_t len = 0;
};

class DmaQueue {
 public:
  DmaQueue() = default;
  DmaQueue(RingProducer descs, MessageConsumer done, uint32_t nic_queue)
      : descs_(descs), done_(done), nic_queue_(nic_queue) {}

  // Posts a transfer; false if the ring is full or the list is empty or too long.
  bool Submit(uint16_t op, uint64_t nic_off, std::span<const DmaSegment> sg, uint64_t cookie);
  uint32_t PollDone(std::span<wave_dma_done> out);

  RingProducer& descs() { return descs_; }

 private:
  RingProducer descs_;
  MessageConsumer done_;
  uint32_t nic_queue_ = 0;
};

struct DmaEngineStats {
  uint64_t transfers = 0;
  uint64_t bytes = 0;
  uint64_t rejected = 0;  // completions with an error status
};

class DmaEngine {
 public:
  DmaEngine() = default;
  DmaEngine(RingConsumer descs, MessageProducer done, std::span<uint8_t> host_window,
            uint32_t nic_queue, std::span<uint8_t> nic_buffer, const LinkModel* model)
      : descs_(descs),
        done_(done),
        host_(host_window),
        nic_queue_(nic_queue),
        nic_(nic_buffer),
        model_(model) {}

  // Serves up to max descriptors; returns how many it completed.
  uint32_t Poll(uint32_t max);
  const DmaEngineStats& stats() const { return stats_; }

 private:
  uint32_t Execute(const uint8_t* payload, uint16_t len, wave_dma_done* done);

  RingConsumer descs_;
  MessageProducer done_;
  std::span<uint8_t> host_;
  uint32_t nic_queue_ = 0;
  std::span<uint8_t> nic_;
  const LinkModel* model_ = nullptr;
  DmaEngineStats stats_;
};

}  // namespace wave

#endif  // WAVE_DMA_QUEUE_H_
