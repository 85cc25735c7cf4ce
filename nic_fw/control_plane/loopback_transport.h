// On-host mode's transport: wave.ko's RAM-backed loopback device (/dev/waveN). The NIC maps
// the whole window (WAVE_REGION_BAR), learns of doorbells through eventfds bound with
// WAVE_IRQ_F_NIC_DOORBELL, and interrupts the host with WAVE_IOC_RAISE_IRQ.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_LOOPBACK_TRANSPORT_H_
#define WAVE_NIC_FW_CONTROL_PLANE_LOOPBACK_TRANSPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "base/mapped_region.h"
#include "base/unique_fd.h"
#include "control_plane/transport.h"

namespace wave::nic {

class LoopbackTransport final : public Transport {
 public:
  // Opens and maps the device; fails unless it is a loopback device.
  static Status Open(const std::string& path, uint32_t nr_vectors,
                     std::unique_ptr<LoopbackTransport>* out);
  ~LoopbackTransport() override;

  std::string_view name() const override { return "loopback"; }
  std::span<std::byte> bar() const override { return bar_.bytes(); }
  uint32_t nr_vectors() const override { return nr_vectors_; }
  uint32_t nic_peer_id() const override { return 0; }
  // wave.ko owns the RAM and may already have written host fields into it.
  BarInit bar_init() const override { return BarInit::kKeepHostFields; }

  // Binds the doorbell eventfds. wave.ko accepts the binds once the control page says READY,
  // so the link publishes the page before it starts the transport.
  Status Start(EventLoop& loop, LinkStats& stats) override;
  int doorbell_fd(uint32_t vector) const override;
  bool RaiseIrq(uint32_t vector) override;
  void Stop() override;

  const std::string& path() const { return path_; }

 private:
  LoopbackTransport() = default;
  Status Bind(uint32_t vector, int fd);

  std::string path_;
  UniqueFd dev_;
  MappedRegion bar_;
  uint32_t nr_vectors_ = 0;
  std::vector<UniqueFd> doorbells_;
  bool bound_ = false;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_LOOPBACK_TRANSPORT_H_
