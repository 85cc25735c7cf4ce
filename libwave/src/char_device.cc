// wave:/dev/waveN — the wave.ko character device (uapi/wave_ioctl.h).
//
// Host side: the kernel owns the queue table; queues are created by ioctl and mapped with
// their cache mode (WC for host-to-NIC, WT for NIC-to-host by default); doorbells and
// interrupt eventfds go through ioctls. NIC side (loopback device only): the whole window is
// mapped as WAVE_REGION_BAR, queues are found in the queue table, doorbells arrive on an
// eventfd bound with WAVE_IRQ_F_NIC_DOORBELL and interrupts are raised with WAVE_IOC_RAISE_IRQ.
//
// Both sides map the host DMA window (WAVE_REGION_HOST_WINDOW, ABI 1.1) when the control page
// announces one: on the loopback device the NIC side's DMA engine copies through it; on a PCI
// device the host side gets coherent host RAM whose bus address the NIC reads from the control
// page (the emulated NIC cannot reach it, see uapi/wave_abi.h). HostWindow() is empty when the
// device has none (wave.ko loaded with host_window_size=0, or ABI 1.0).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <array>
#include <cerrno>
#include <map>
#include <vector>

#include "backends.h"
#include "fd.h"
#include "wave_ioctl.h"

namespace wave {
namespace {

class CharDevice final : public Device {
 public:
  CharDevice(Role role, std::string path) : Device(role), path_(std::move(path)) {}
  ~CharDevice() override {
    queues_.clear();
    for (uint32_t v = 0; v < WAVE_MAX_VECTORS; v++) {
      if (!irq_[v].valid())
        continue;
      wave_irq_bind b{sizeof(b), Flags(), v, -1};
      ::ioctl(fd_.get(), WAVE_IOC_BIND_IRQ, &b);
    }
    for (uint32_t id : created_) {
      wave_queue_destroy d{sizeof(d), id};
      ::ioctl(fd_.get(), WAVE_IOC_DESTROY_QUEUE, &d);
    }
  }

  Status Init() {
    fd_ = UniqueFd(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd_.valid())
      return ErrnoError("open " + path_, errno);
    info_ = wave_info{};
    info_.argsz = sizeof(info_);
    if (::ioctl(fd_.get(), WAVE_IOC_GET_INFO, &info_) != 0)
      return ErrnoError("WAVE_IOC_GET_INFO", errno);
    if (info_.abi_major != WAVE_ABI_MAJOR) {
      return Error{EPROTO, path_ + ": NIC speaks ABI " + std::to_string(info_.abi_major) + "." +
                               std::to_string(info_.abi_minor) + ", this library speaks " +
                               std::to_string(WAVE_ABI_MAJOR) + "." +
                               std::to_string(WAVE_ABI_MINOR)};
    }
    if (info_.bar_size < WAVE_BAR_MIN_SIZE)
      return Error{EINVAL, "BAR too small"};
    if (role() == Role::kNic) {
      if (info_.backend != WAVE_BACKEND_LOOPBACK)
        return Error{EOPNOTSUPP, path_ + ": the NIC side needs the loopback device"};
      void* p = ::mmap(nullptr, info_.bar_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                       WAVE_MMAP_OFFSET(WAVE_REGION_BAR));
      if (p == MAP_FAILED)
        return ErrnoError("mmap BAR", errno);
      bar_ = Mapping(p, info_.bar_size);
      control_ = reinterpret_cast<const volatile wave_control_page*>(bar_.data());
    } else {
      void* p = ::mmap(nullptr, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd_.get(),
                       WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
      if (p == MAP_FAILED)
        return ErrnoError("mmap control page", errno);
      control_map_ = Mapping(p, WAVE_PAGE_SIZE);
      control_ = reinterpret_cast<const volatile wave_control_page*>(p);
    }
    if (Status st = CheckControlPage(control_, 0); !st)
      return st;
    return MapHostWindow();
  }

  std::string spec() const override { return "wave:" + path_; }
  const volatile wave_control_page* control() const override { return control_; }

  Result<QueueRegion> CreateQueue(const QueueSpec& spec) override {
    if (role() != Role::kHost)
      return Error{EPERM, "only the host creates queues"};
    wave_queue_create c{};
    c.argsz = sizeof(c);
    c.size = spec.size;
    c.dir = spec.dir;
    c.cache_mode = spec.cache_mode;
    c.kind = spec.kind;
    c.vector = spec.vector;
    if (::ioctl(fd_.get(), WAVE_IOC_CREATE_QUEUE, &c) != 0)
      return ErrnoError("WAVE_IOC_CREATE_QUEUE", errno);
    if (c.id >= WAVE_MAX_QUEUES)
      return Error{EIO, "kernel returned a bad queue id"};
    created_.push_back(c.id);
    void* p = ::mmap(nullptr, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                     static_cast<off_t>(c.mmap_offset));
    if (p == MAP_FAILED)
      return ErrnoError("mmap queue", errno);
    QueueRegion r;
    r.id = c.id;
    r.base = static_cast<uint8_t*>(p);
    r.size = c.size;
    r.bar_offset = c.bar_offset;
    r.dir = c.dir;
    r.kind = c.kind;
    r.vector = c.vector;
    r.cache_mode = c.cache_mode;
    r.mem = MemKindOf(c.cache_mode);
    queues_[c.id] = Mapping(p, c.size);
    return r;
  }

  Status DestroyQueue(uint32_t id) override {
    queues_.erase(id);
    wave_queue_destroy d{sizeof(d), id};
    if (::ioctl(fd_.get(), WAVE_IOC_DESTROY_QUEUE, &d) != 0)
      return ErrnoError("WAVE_IOC_DESTROY_QUEUE", errno);
    std::erase(created_, id);
    return {};
  }

  Result<QueueRegion> MapQueue(uint32_t id) override {
    auto q = ReadQueueDesc(control_, id, info_.bar_size);
    if (!q)
      return q.error();
    QueueRegion r = RegionFromDesc(id, *q);
    if (role() == Role::kNic) {
      r.base = bar_.data() + q->offset;
      r.mem = MemKind::kWriteBack;  // the NIC's own memory
      return r;
    }
    void* p = ::mmap(nullptr, q->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                     static_cast<off_t>(WAVE_MMAP_QUEUE_OFFSET(id)));
    if (p == MAP_FAILED)
      return ErrnoError("mmap queue", errno);
    r.base = static_cast<uint8_t*>(p);
    r.mem = MemKindOf(q->cache_mode);
    queues_[id] = Mapping(p, q->size);
    return r;
  }

  Status Notify(uint32_t queue_id, uint32_t value) override {
    if (role() == Role::kHost) {
      wave_doorbell d{sizeof(d), queue_id, value, 0};
      if (::ioctl(fd_.get(), WAVE_IOC_RING_DOORBELL, &d) != 0)
        return ErrnoError("WAVE_IOC_RING_DOORBELL", errno);
      return {};
    }
    auto q = ReadQueueDesc(control_, queue_id, info_.bar_size);
    if (!q)
      return q.error();
    wave_irq_raise r{sizeof(r), q->vector};
    if (::ioctl(fd_.get(), WAVE_IOC_RAISE_IRQ, &r) != 0)
      return ErrnoError("WAVE_IOC_RAISE_IRQ", errno);
    return {};
  }

  Status SetNicState(uint32_t state) override {
    return PublishNicState(role(), bar_.data(), state);
  }

  std::span<uint8_t> HostWindow() override { return {window_.data(), window_.size()}; }

  int EventFd(uint32_t vector) override {
    if (vector >= WAVE_MAX_VECTORS || vector >= info_.nr_vectors)
      return -1;
    if (irq_[vector].valid())
      return irq_[vector].get();
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!efd.valid())
      return -1;
    wave_irq_bind b{sizeof(b), Flags(), vector, efd.get()};
    if (::ioctl(fd_.get(), WAVE_IOC_BIND_IRQ, &b) != 0)
      return -1;
    irq_[vector] = std::move(efd);
    return irq_[vector].get();
  }

 private:
  // The size comes from the control page, which the NIC can write too: the kernel checks the
  // mapping against the window it allocated, so a wrong size fails here with a message.
  Status MapHostWindow() {
    const uint64_t size = control_->host_window_size;
    if (size == 0)
      return {};
    if (size % WAVE_PAGE_SIZE != 0 || size > kMaxHostWindow) {
      return Error{EINVAL, path_ + ": control page announces a host DMA window of " +
                               std::to_string(size) + " bytes, not a page multiple up to " +
                               std::to_string(kMaxHostWindow)};
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                     WAVE_MMAP_OFFSET(WAVE_REGION_HOST_WINDOW));
    if (p == MAP_FAILED)
      return ErrnoError(path_ + ": mmap host DMA window of " + std::to_string(size) + " bytes",
                        errno);
    window_ = Mapping(p, size);
    return {};
  }

  static constexpr uint64_t kMaxHostWindow = uint64_t{1} << 30;

  uint32_t Flags() const { return role() == Role::kNic ? WAVE_IRQ_F_NIC_DOORBELL : 0; }

  std::string path_;
  UniqueFd fd_;
  wave_info info_{};
  Mapping control_map_, bar_, window_;
  const volatile wave_control_page* control_ = nullptr;
  std::map<uint32_t, Mapping> queues_;
  std::vector<uint32_t> created_;
  std::array<UniqueFd, WAVE_MAX_VECTORS> irq_;
};

}  // namespace

Result<std::unique_ptr<Device>> OpenCharDevice(const std::string& path, Role role) {
  auto dev = std::make_unique<CharDevice>(role, path);
  if (Status st = dev->Init(); !st)
    return st.error();
  return std::unique_ptr<Device>(std::move(dev));
}

}  // namespace wave
