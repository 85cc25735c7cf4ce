// Device selection by string, and the checks every backend applies to what the NIC wrote.
#include "wave/device.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "backends.h"

namespace wave {

Error ErrnoError(std::string what, int code) {
  return Error{code, what + ": " + std::strerror(code)};
}

Result<std::unique_ptr<Device>> Device::Open(std::string_view spec, Role role,
                                             const DeviceOptions& options) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos || colon + 1 == spec.size())
    return Error{EINVAL,
                 "device spec '" + std::string(spec) + "': want shm:NAME, wave:PATH or vfio:BDF"};
  const std::string_view scheme = spec.substr(0, colon);
  const std::string arg(spec.substr(colon + 1));
  if (scheme == "shm")
    return OpenShmDevice(arg, role, options);
  if (scheme == "wave")
    return OpenCharDevice(arg, role);
  if (scheme == "vfio")
    return OpenVfioDevice(arg, role);
  return Error{EINVAL, "unknown device scheme '" + std::string(scheme) + "'"};
}

Status PublishNicState(Role role, uint8_t* bar, uint32_t state) {
  if (role != Role::kNic)
    return Error{EPERM, "only the NIC sets its state"};
  auto* c = reinterpret_cast<volatile wave_control_page*>(bar);
  c->nic_state = state;
  return {};
}

Status CheckControlPage(const volatile wave_control_page* page, uint64_t mapped_size) {
  const uint32_t magic = page->magic;
  std::atomic_thread_fence(std::memory_order_acquire);
  if (magic != WAVE_ABI_MAGIC)
    return Error{ENODEV, "control page: no Wave magic (NIC not ready?)"};
  const uint16_t major = page->abi_major;
  const uint16_t minor = page->abi_minor;
  if (major != WAVE_ABI_MAJOR) {
    return Error{EPROTO, "control page: NIC speaks ABI " + std::to_string(major) + "." +
                             std::to_string(minor) + ", this library speaks " +
                             std::to_string(WAVE_ABI_MAJOR) + "." + std::to_string(WAVE_ABI_MINOR)};
  }
  const uint64_t bar_size = page->bar_size;
  if (bar_size < WAVE_BAR_MIN_SIZE || (mapped_size && bar_size > mapped_size))
    return Error{EINVAL, "control page: BAR size " + std::to_string(bar_size) + " out of range"};
  if (page->nr_vectors > WAVE_MAX_VECTORS)
    return Error{EINVAL, "control page: vector count"};
  return {};
}

Result<wave_queue_desc> ReadQueueDesc(const volatile wave_control_page* page, uint32_t id,
                                      uint64_t bar_size) {
  if (id >= WAVE_MAX_QUEUES)
    return Error{EINVAL, "queue id out of range"};
  wave_queue_desc q;
  std::memcpy(&q, const_cast<const wave_queue_desc*>(&page->queues[id]), sizeof(q));
  if (q.state != WAVE_QSTATE_ACTIVE)
    return Error{ENOENT, "queue " + std::to_string(id) + " not active"};
  if (q.offset % WAVE_PAGE_SIZE || q.size == 0 || q.size % WAVE_PAGE_SIZE ||
      q.offset < WAVE_BAR_QUEUE_AREA_OFF || q.offset > bar_size || q.size > bar_size - q.offset)
    return Error{EINVAL, "queue " + std::to_string(id) + " lies outside the BAR"};
  if ((q.dir != WAVE_DIR_HOST_TO_NIC && q.dir != WAVE_DIR_NIC_TO_HOST) || q.kind > WAVE_QKIND_MAX ||
      q.cache_mode > WAVE_CACHE_WB || q.vector >= WAVE_MAX_VECTORS)
    return Error{EINVAL, "queue " + std::to_string(id) + " has a bad descriptor"};
  return q;
}

QueueRegion RegionFromDesc(uint32_t id, const wave_queue_desc& q) {
  QueueRegion r;
  r.id = id;
  r.generation = q.generation;
  r.size = q.size;
  r.bar_offset = q.offset;
  r.dir = q.dir;
  r.kind = q.kind;
  r.vector = q.vector;
  r.cache_mode = q.cache_mode;
  return r;
}

MemKind MemKindOf(uint16_t cache_mode) {
  switch (cache_mode) {
    case WAVE_CACHE_WC:
      return MemKind::kWriteCombining;
    case WAVE_CACHE_WT:
      return MemKind::kWriteThrough;
    case WAVE_CACHE_UC:
      return MemKind::kUncached;
    default:
      return MemKind::kWriteBack;
  }
}

}  // namespace wave
