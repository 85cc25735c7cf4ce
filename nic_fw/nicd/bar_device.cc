#include "nicd/bar_device.h"

#include <cerrno>

namespace wave::nicd {

const volatile wave_control_page* BarDevice::control() const {
  return reinterpret_cast<const volatile wave_control_page*>(bar_.data());
}

Result<QueueRegion> BarDevice::CreateQueue(const QueueSpec& /*spec*/) {
  return Error{EPERM, "the NIC does not create queues"};
}

Status BarDevice::DestroyQueue(uint32_t /*id*/) {
  return Error{EPERM, "the NIC does not destroy queues"};
}

Result<QueueRegion> BarDevice::MapQueue(uint32_t id) {
  auto q = ReadQueueDesc(control(), id, bar_.size());
  if (!q)
    return q.error();
  QueueRegion r = RegionFromDesc(id, *q);
  r.base = reinterpret_cast<uint8_t*>(bar_.data()) + q->offset;
  // The BAR file is ordinary shared memory on this side, whatever the host's mapping is.
  r.mem = MemKind::kWriteBack;
  return r;
}

Status BarDevice::Notify(uint32_t /*queue_id*/, uint32_t /*value*/) {
  ++refused_notifies_;
  return Error{ENOTSUP, "interrupts are raised by the link's event loop only"};
}

Status BarDevice::SetNicState(uint32_t /*state*/) {
  return Error{EPERM, "the link owns nic_state"};
}

}  // namespace wave::nicd
