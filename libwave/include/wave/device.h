// A Wave device: the BAR window of a SmartNIC (or of its emulation), opened by a string.
//
//   shm:NAME             a POSIX shared-memory BAR image between two processes (tests,
//                        benchmarks); the host side creates it, the NIC side attaches
//   wave:/dev/wave0      the wave.ko character device (uapi/wave_ioctl.h); the NIC side needs
//                        the loopback device (module parameter loopback=1)
//   vfio:0000:00:04.0    a PCI function bound to vfio-pci; host side only
//
// The host side creates queues; the NIC side finds them in the queue table of the control
// page, which it checks before use.
#ifndef WAVE_DEVICE_H_
#define WAVE_DEVICE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "wave/fence.h"
#include "wave/result.h"
#include "wave_abi.h"

namespace wave {

enum class Role { kHost, kNic };

struct QueueSpec {
  uint64_t size = 0;  // bytes, a multiple of WAVE_PAGE_SIZE
  uint16_t dir = WAVE_DIR_HOST_TO_NIC;
  uint16_t cache_mode = WAVE_CACHE_DEFAULT;
  uint16_t kind = WAVE_QKIND_RAW;
  uint16_t vector = 0;
};

// A queue region as this side maps it.
struct QueueRegion {
  uint32_t id = 0;
  uint32_t generation = 0;
  uint8_t* base = nullptr;
  uint64_t size = 0;
  uint64_t bar_offset = 0;
  uint16_t dir = 0;
  uint16_t kind = 0;
  uint16_t vector = 0;
  uint16_t cache_mode = 0;  // the host's mapping on hardware (WC, WT, UC), for the link model
  MemKind mem = MemKind::kWriteBack;  // what this side's mapping really is, for the fences
};

struct DeviceOptions {
  uint64_t bar_size = 8u << 20;          // shm: size of the BAR image the host creates
  uint64_t host_window_size = 4u << 20;  // shm: emulated host memory the NIC can DMA
  uint32_t nr_vectors = 4;               // shm: doorbell/interrupt vectors
  bool create = true;                    // shm host: create (replacing a stale image)
};

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Opens spec ("shm:NAME", "wave:/dev/wave0", "vfio:BDF") as the given side.
  static Result<std::unique_ptr<Device>> Open(std::string_view spec, Role role,
                                              const DeviceOptions& options = {});

  Role role() const { return role_; }
  virtual std::string spec() const = 0;

  // The control page as this side sees it (read-only for the host).
  virtual const volatile wave_control_page* control() const = 0;

  // Host: allocate a queue region. NIC: not allowed (EPERM).
  virtual Result<QueueRegion> CreateQueue(const QueueSpec& spec) = 0;
  virtual Status DestroyQueue(uint32_t id) = 0;
  // Maps an existing queue found in the queue table (checked against the BAR size).
  virtual Result<QueueRegion> MapQueue(uint32_t id) = 0;

  // Host: ring the doorbell of queue_id (its word := value, then notify its vector).
  // NIC: raise the interrupt of queue_id's vector.
  virtual Status Notify(uint32_t queue_id, uint32_t value) = 0;
  // An eventfd this side can wait on for vector (host: interrupts; NIC: doorbells), or -1.
  virtual int EventFd(uint32_t vector) = 0;

  // NIC: publish the firmware state (WAVE_NIC_STATE_*) in the control page, as firmware does
  // once it serves the queue table. Host: EPERM.
  virtual Status SetNicState(uint32_t state) = 0;

  // Memory of the host that the NIC's DMA engine can reach, as this side maps it; empty when
  // the backend has none. Addresses in DMA descriptors are offsets into it.
  virtual std::span<uint8_t> HostWindow() { return {}; }

 protected:
  explicit Device(Role role) : role_(role) {}

 private:
  Role role_;
};

// Checks a control page the other side wrote: magic, ABI major, sizes. The message names the
// versions seen when they do not match.
Status CheckControlPage(const volatile wave_control_page* page, uint64_t mapped_size);

// Reads and checks queue table entry id of page against a BAR of bar_size bytes.
Result<wave_queue_desc> ReadQueueDesc(const volatile wave_control_page* page, uint32_t id,
                                      uint64_t bar_size);

// The region entry id describes (q as ReadQueueDesc returned it); base and mem are left for
// the backend, which maps the region its own way.
QueueRegion RegionFromDesc(uint32_t id, const wave_queue_desc& q);

// The mapping kind a host mapping of cache_mode really has (for fences).
MemKind MemKindOf(uint16_t cache_mode);

}  // namespace wave

#endif  // WAVE_DEVICE_H_
