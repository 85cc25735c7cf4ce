// A migration link whose DMA window is libwave's: the host memory a Wave device lets the NIC's
// DMA engine reach (wave::Device::HostWindow(); for the shm backend, emulated host memory both
// sides map). The frames still travel in the ShmLink rings. Each side opens the device in its
// own role; the device stays open as long as any object adopted from its window.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/migration/frame_channel.h"
#include "runtime/migration/shm_link.h"

namespace wave {
class Device;
}

namespace wave::rt::mig {

class DeviceWindowLink final : public MigrationLink {
 public:
  // Opens `device_spec` (e.g. "shm:NAME") as the side's role; the host side creates it with a
  // window of `window_bytes`, the NIC side attaches to it (so the host side opens first).
  // Null, with *error set, on failure or when the device has no host window.
  static std::unique_ptr<DeviceWindowLink> open(std::unique_ptr<LinkEnd> rings,
                                                const std::string& device_spec, LinkSide side,
                                                uint64_t window_bytes, std::string* error);
  ~DeviceWindowLink() override;

  FrameChannel& tx() override { return rings_->tx(); }
  FrameChannel& rx() override { return rings_->rx(); }
  std::span<std::byte> dma_window() override { return window_; }
  std::shared_ptr<const void> dma_window_keepalive() override { return device_; }

 private:
  DeviceWindowLink(std::unique_ptr<LinkEnd> rings, std::shared_ptr<Device> device);
  std::unique_ptr<LinkEnd> rings_;
  std::shared_ptr<Device> device_;
  std::span<std::byte> window_;
};

}  // namespace wave::rt::mig
