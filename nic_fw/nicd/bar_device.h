// The NIC side of libwave's Device over wave-nicd's own mapping of the BAR (the same bytes the
// host's wave.ko maps through the ivshmem BAR or the loopback device). It lets libwave's
// NicLink find and check the scheduling link's queues in the queue table without a second
// mapping. Queue descriptors are read from the host-written table and checked against the BAR
// size on every MapQueue (libwave's ReadQueueDesc).
//
// Interrupts are not raised from here: the agent thread is not the link's event-loop thread,
// and the host side of the scheduling link polls the decision region (the BPF scheduler reads
// it from its dispatch path), so Notify is refused with ENOTSUP and counted.
#ifndef WAVE_NIC_FW_NICD_BAR_DEVICE_H_
#define WAVE_NIC_FW_NICD_BAR_DEVICE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "wave/device.h"

namespace wave::nicd {

class BarDevice final : public wave::Device {
 public:
  explicit BarDevice(std::span<std::byte> bar) : Device(wave::Role::kNic), bar_(bar) {}

  std::string spec() const override { return "nicd-bar"; }
  const volatile wave_control_page* control() const override;
  Result<QueueRegion> CreateQueue(const QueueSpec& spec) override;
  Status DestroyQueue(uint32_t id) override;
  Result<QueueRegion> MapQueue(uint32_t id) override;
  Status Notify(uint32_t queue_id, uint32_t value) override;
  int EventFd(uint32_t /*vector*/) override { return -1; }
  Status SetNicState(uint32_t state) override;

  uint64_t refused_notifies() const { return refused_notifies_; }

 private:
  std::span<std::byte> bar_;
  uint64_t refused_notifies_ = 0;
};

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_BAR_DEVICE_H_
