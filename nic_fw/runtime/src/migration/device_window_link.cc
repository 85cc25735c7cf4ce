#include "runtime/migration/device_window_link.h"

#include <sys/mman.h>

#include "wave/device.h"

namespace wave::rt::mig {

std::unique_ptr<DeviceWindowLink> DeviceWindowLink::open(std::unique_ptr<LinkEnd> rings,
                                                         const std::string& device_spec,
                                                         LinkSide side, uint64_t window_bytes,
                                                         std::string* error) {
  if (!rings) {
    *error = "no link rings";
    return nullptr;
  }
  DeviceOptions opts;
  opts.host_window_size = window_bytes;
  auto dev = Device::Open(device_spec, side == LinkSide::kHost ? Role::kHost : Role::kNic, opts);
  if (!dev) {
    *error = "cannot open " + device_spec + ": " + dev.error().message;
    return nullptr;
  }
  std::shared_ptr<Device> shared(std::move(dev.value()));
  if (shared->HostWindow().empty()) {
    *error = device_spec + " has no host window";
    return nullptr;
  }
  return std::unique_ptr<DeviceWindowLink>(new DeviceWindowLink(std::move(rings), shared));
}

DeviceWindowLink::DeviceWindowLink(std::unique_ptr<LinkEnd> rings, std::shared_ptr<Device> device)
    : rings_(std::move(rings)), device_(std::move(device)) {
  const std::span<uint8_t> w = device_->HostWindow();
  window_ = {reinterpret_cast<std::byte*>(w.data()), w.size()};
  // Fault the window in now (libwave maps it lazily), so that no migration pays for it. Best
  // effort: without MADV_POPULATE_WRITE the first migration pays.
  madvise(window_.data(), window_.size(), MADV_POPULATE_WRITE);
}

DeviceWindowLink::~DeviceWindowLink() = default;

}  // namespace wave::rt::mig
