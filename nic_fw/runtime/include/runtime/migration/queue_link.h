// A migration link over a Wave device's queues (wave/device.h): frames travel in libwave slot
// rings, one queue region per direction, in the layout of uapi/wave_frame_link.h; the DMA
// window, if the link has one, is the device's host window. The host side creates the regions
// (host-to-NIC WC, NIC-to-host WT) and names the link; the NIC side finds the link by that name
// in the device's queue table and checks both regions before use.
//
// Each send rings the peer (Device::Notify: a doorbell from the host, an interrupt from the
// NIC), so an idle receiver sleeps on the device's eventfd (wait_rx) instead of polling.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/migration/frame_channel.h"
#include "runtime/migration/shm_link.h"

namespace wave {
class Device;
class Waiter;
}  // namespace wave

namespace wave::rt::mig {

class SlotFrameChannel;

inline constexpr const char* kMigrationLinkName = "migration";

struct QueueLinkConfig {
  std::string name = kMigrationLinkName;  // 1..15 bytes; the NIC side looks for it
  uint32_t slot_size = 1024;              // power of two, 128..4096
  uint32_t nr_slots = 1024;               // per direction, a power of two, holding a largest frame
  int vector = -1;                        // doorbell/interrupt vector; -1: the device's last
  bool dma_window = true;                 // offer the device's host window for one-copy state
};

// Counters of one direction (the consumer's reasons for breaking are its own).
struct FrameLinkStats {
  uint64_t frames = 0;            // sent or received
  uint64_t slots = 0;             // sent or received
  uint64_t full = 0;              // send found no room for the whole frame
  uint64_t bad_header = 0;        // first slot: bad magic, type or slot length
  uint64_t bad_continuation = 0;  // slot out of order, of another frame, or a bad length
  uint64_t oversize = 0;          // frame length above kMaxFramePayload
  uint64_t bad_slots = 0;         // slots the ring itself dropped (bad slot header)
};

class QueueLink final : public MigrationLink {
 public:
  // Host: creates the link's two queue regions on `device` (opened in the host role).
  static std::unique_ptr<QueueLink> create(std::shared_ptr<Device> device,
                                           const QueueLinkConfig& config, std::string* error);
  // NIC: finds the link called `name` on `device` (opened in the NIC role) and checks it.
  static std::unique_ptr<QueueLink> attach(std::shared_ptr<Device> device, const std::string& name,
                                           std::string* error);
  // Opens `device_spec` in the side's role, then create()s (host; a shm: device is created
  // with a host window of `window_bytes`, or a page when 0 and config.dma_window is then
  // off) or attach()es (NIC) the link called config.name.
  static std::unique_ptr<QueueLink> open(const std::string& device_spec, LinkSide side,
                                         QueueLinkConfig config, uint64_t window_bytes,
                                         std::string* error);
  ~QueueLink() override;  // host: unpublishes and destroys the regions
  QueueLink(const QueueLink&) = delete;
  QueueLink& operator=(const QueueLink&) = delete;

  FrameChannel& tx() override;
  FrameChannel& rx() override;
  std::span<std::byte> dma_window() override { return window_; }
  std::shared_ptr<const void> dma_window_keepalive() override { return device_; }
  bool wait_rx(std::chrono::nanoseconds timeout) override;

  FrameLinkStats tx_stats() const;
  FrameLinkStats rx_stats() const;
  // Doorbells rung after a frame, and skipped because the peer said it was polling.
  uint64_t doorbells_rung() const { return doorbells_rung_.load(std::memory_order_relaxed); }
  uint64_t doorbells_skipped() const { return doorbells_skipped_.load(std::memory_order_relaxed); }
  uint32_t tx_queue() const { return tx_queue_; }
  uint32_t rx_queue() const { return rx_queue_; }
  Device& device() { return *device_; }

 private:
  QueueLink();
  struct Regions;
  static std::unique_ptr<QueueLink> build(std::shared_ptr<Device> device, const Regions& r,
                                          bool host, std::string* error);

  std::shared_ptr<Device> device_;
  std::unique_ptr<SlotFrameChannel> tx_;
  std::unique_ptr<SlotFrameChannel> rx_;
  std::unique_ptr<Waiter> waiter_;
  bool waiter_failed_ = false;
  int rx_eventfd_ = -1;
  uint32_t tx_queue_ = 0;
  uint32_t rx_queue_ = 0;
  bool owns_queues_ = false;  // host side: destroys them
  uint8_t* host_to_nic_base_ = nullptr;
  std::span<std::byte> window_;
  // The sleep cells (uapi/wave_frame_link.h): this side's, in the region it sends on, and
  // the peer's, in the region it receives on.
  uint32_t* own_sleep_cells_ = nullptr;  // [0] rx_sleeps, [1] rx_asleep
  const uint32_t* peer_sleep_cells_ = nullptr;
  uint8_t own_cells_mem_ = 0;  // wave::MemKind of the mappings (wave/fence.h)
  uint8_t peer_cells_mem_ = 0;
  bool announced_sleeps_ = false;
  std::atomic<uint64_t> doorbells_rung_{0};
  std::atomic<uint64_t> doorbells_skipped_{0};
};

}  // namespace wave::rt::mig
