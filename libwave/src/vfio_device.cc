// vfio:DDDD:BB:DD.F — a PCI function bound to vfio-pci, driven from user space (host side).
//
// With no kernel driver in between, this library plays wave.ko's part: it maps BAR2 (the
// window: control page, doorbell page, queue area), writes the queue table itself, rings
// doorbells through the ivshmem doorbell register in BAR0 and receives MSI-X interrupts on
// eventfds (VFIO_DEVICE_SET_IRQS). It maps a host-memory window for the NIC's DMA at IOVA 0.
//
// Limitation: vfio-pci maps BARs uncached; it has no way to ask for WC or WT, so every queue
// region is reached as UC here (correct, slower: each store is its own transaction).
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <regex>

#include "backends.h"
#include "bar_image.h"
#include "fd.h"

namespace wave {
namespace {

constexpr uint32_t kWindowBar = VFIO_PCI_BAR2_REGION_INDEX;    // ivshmem shared memory
constexpr uint32_t kRegisterBar = VFIO_PCI_BAR0_REGION_INDEX;  // ivshmem registers
constexpr uint64_t kDmaWindowSize = 4u << 20;

Result<int> IommuGroupOf(const std::string& bdf) {
  const std::string link = "/sys/bus/pci/devices/" + bdf + "/iommu_group";
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0)
    return ErrnoError(link + " (is the IOMMU on and the device present?)", errno);
  buf[n] = '\0';
  const char* slash = std::strrchr(buf, '/');
  const char* num = slash ? slash + 1 : buf;
  char* end = nullptr;
  const long group = std::strtol(num, &end, 10);
  if (end == num || *end != '\0' || group < 0)
    return Error{EINVAL, "bad IOMMU group " + std::string(buf)};
  return static_cast<int>(group);
}

class VfioDevice final : public Device {
 public:
  VfioDevice(std::string bdf) : Device(Role::kHost), bdf_(std::move(bdf)) {}

  Status Init() {
    auto group = IommuGroupOf(bdf_);
    if (!group)
      return group.error();
    container_ = UniqueFd(::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
    if (!container_.valid())
      return ErrnoError("open /dev/vfio/vfio", errno);
    if (::ioctl(container_.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION)
      return Error{EPROTO, "VFIO API version mismatch"};
    if (::ioctl(container_.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
      return Error{EOPNOTSUPP, "VFIO type1v2 IOMMU not supported"};
    const std::string gpath = "/dev/vfio/" + std::to_string(group.value());
    group_ = UniqueFd(::open(gpath.c_str(), O_RDWR | O_CLOEXEC));
    if (!group_.valid())
      return ErrnoError("open " + gpath, errno);
    vfio_group_status gs{};
    gs.argsz = sizeof(gs);
    if (::ioctl(group_.get(), VFIO_GROUP_GET_STATUS, &gs) != 0)
      return ErrnoError("VFIO_GROUP_GET_STATUS", errno);
    if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
      return Error{EBUSY, gpath + " not viable: bind every device of the group to vfio-pci"};
    int cfd = container_.get();
    if (::ioctl(group_.get(), VFIO_GROUP_SET_CONTAINER, &cfd) != 0)
      return ErrnoError("VFIO_GROUP_SET_CONTAINER", errno);
    if (::ioctl(container_.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0)
      return ErrnoError("VFIO_SET_IOMMU", errno);
    device_ = UniqueFd(::ioctl(group_.get(), VFIO_GROUP_GET_DEVICE_FD, bdf_.c_str()));
    if (!device_.valid())
      return ErrnoError("VFIO_GROUP_GET_DEVICE_FD " + bdf_, errno);

    // MSI-X messages and DMA are memory writes by the device: it must be a bus master.
    if (Status st = EnableBusMaster(); !st)
      return st;
    auto window = MapRegion(kWindowBar);
    if (!window)
      return window.error();
    bar_ = std::move(window.value());
    auto regs = RegionInfo(kRegisterBar);
    if (!regs)
      return regs.error();
    regs_off_ = regs->offset;
    regs_size_ = regs->size;
    if (Status st = CheckControlPage(control(), bar_.size()); !st)
      return st;
    bar_size_ = control()->bar_size;

    // Host memory the NIC may reach by DMA, at IOVA 0.
    void* mem =
        ::mmap(nullptr, kDmaWindowSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
      return ErrnoError("mmap DMA window", errno);
    window_ = Mapping(mem, kDmaWindowSize);
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = reinterpret_cast<uint64_t>(mem);
    map.iova = 0;
    map.size = kDmaWindowSize;
    if (::ioctl(container_.get(), VFIO_IOMMU_MAP_DMA, &map) != 0)
      return ErrnoError("VFIO_IOMMU_MAP_DMA", errno);
    return {};
  }

  std::string spec() const override { return "vfio:" + bdf_; }
  const volatile wave_control_page* control() const override {
    return reinterpret_cast<const volatile wave_control_page*>(bar_.data());
  }

  Result<QueueRegion> CreateQueue(const QueueSpec& spec) override {
    auto id = AllocQueueEntry(bar_.data(), bar_size_, spec);
    if (!id)
      return id.error();
    return MapQueue(id.value());
  }
  Status DestroyQueue(uint32_t id) override { return FreeQueueEntry(bar_.data(), id); }

  Result<QueueRegion> MapQueue(uint32_t id) override {
    auto q = ReadQueueDesc(control(), id, bar_size_);
    if (!q)
      return q.error();
    QueueRegion r = RegionFromDesc(id, *q);
    r.base = bar_.data() + q->offset;
    r.cache_mode = WAVE_CACHE_UC;  // mainline vfio-pci maps BARs uncached (README)
    r.mem = MemKind::kUncached;
    return r;
  }

  Status Notify(uint32_t queue_id, uint32_t value) override {
    auto q = ReadQueueDesc(control(), queue_id, bar_size_);
    if (!q)
      return q.error();
    auto* db = reinterpret_cast<volatile wave_doorbell_page*>(bar_.data() + WAVE_BAR_DOORBELL_OFF);
    db->queue_db[queue_id] = value;
    db->vector_db[q->vector] = db->vector_db[q->vector] + 1;
    if (regs_size_ < WAVE_IVSHMEM_REG_DOORBELL + 4)
      return Error{ENODEV, "no doorbell register"};
    const uint32_t reg = WAVE_IVSHMEM_DOORBELL(control()->nic_peer_id, q->vector);
    if (::pwrite(device_.get(), &reg, sizeof(reg),
                 static_cast<off_t>(regs_off_ + WAVE_IVSHMEM_REG_DOORBELL)) != sizeof(reg))
      return ErrnoError("doorbell register write", errno);
    return {};
  }

  int EventFd(uint32_t vector) override {
    const uint32_t nr = control()->nr_vectors;
    if (vector >= nr || vector >= WAVE_MAX_VECTORS)
      return -1;
    if (!irqs_enabled_ && !EnableIrqs(nr))
      return -1;
    return irq_[vector].get();
  }

  Status SetNicState(uint32_t) override { return Error{EPERM, "vfio: host side only"}; }

  std::span<uint8_t> HostWindow() override { return {window_.data(), window_.size()}; }

 private:
  Result<vfio_region_info> RegionInfo(uint32_t index) {
    vfio_region_info info{};
    info.argsz = sizeof(info);
    info.index = index;
    if (::ioctl(device_.get(), VFIO_DEVICE_GET_REGION_INFO, &info) != 0)
      return ErrnoError("VFIO_DEVICE_GET_REGION_INFO", errno);
    return info;
  }

  Result<Mapping> MapRegion(uint32_t index) {
    auto info = RegionInfo(index);
    if (!info)
      return info.error();
    if (!(info->flags & VFIO_REGION_INFO_FLAG_MMAP) || info->size < WAVE_BAR_MIN_SIZE)
      return Error{ENODEV, "BAR " + std::to_string(index) + " cannot be mapped"};
    void* p = ::mmap(nullptr, info->size, PROT_READ | PROT_WRITE, MAP_SHARED, device_.get(),
                     static_cast<off_t>(info->offset));
    if (p == MAP_FAILED)
      return ErrnoError("mmap BAR", errno);
    return Mapping(p, info->size);
  }

  Status EnableBusMaster() {
    auto cfg = RegionInfo(VFIO_PCI_CONFIG_REGION_INDEX);
    if (!cfg)
      return cfg.error();
    constexpr off_t kCommand = 0x04;
    constexpr uint16_t kBusMaster = 0x04;
    uint16_t cmd = 0;
    const off_t at = static_cast<off_t>(cfg->offset) + kCommand;
    if (::pread(device_.get(), &cmd, sizeof(cmd), at) != sizeof(cmd))
      return ErrnoError("read PCI command register", errno);
    if (cmd & kBusMaster)
      return {};
    cmd |= kBusMaster;
    if (::pwrite(device_.get(), &cmd, sizeof(cmd), at) != sizeof(cmd))
      return ErrnoError("write PCI command register", errno);
    return {};
  }

  bool EnableIrqs(uint32_t nr) {
    std::vector<uint8_t> buf(sizeof(vfio_irq_set) + nr * sizeof(int32_t));
    auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
    set->argsz = static_cast<uint32_t>(buf.size());
    set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    set->index = VFIO_PCI_MSIX_IRQ_INDEX;
    set->start = 0;
    set->count = nr;
    auto* fds = reinterpret_cast<int32_t*>(set->data);
    for (uint32_t v = 0; v < nr; v++) {
      irq_[v] = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!irq_[v].valid())
        return false;
      fds[v] = irq_[v].get();
    }
    if (::ioctl(device_.get(), VFIO_DEVICE_SET_IRQS, set) != 0)
      return false;
    irqs_enabled_ = true;
    return true;
  }

  std::string bdf_;
  UniqueFd container_, group_, device_;
  Mapping bar_, window_;
  uint64_t bar_size_ = 0;
  uint64_t regs_off_ = 0, regs_size_ = 0;
  std::array<UniqueFd, WAVE_MAX_VECTORS> irq_;
  bool irqs_enabled_ = false;
};

}  // namespace

Result<std::unique_ptr<Device>> OpenVfioDevice(const std::string& bdf, Role role) {
  if (role != Role::kHost)
    return Error{EOPNOTSUPP, "vfio: host side only"};
  static const std::regex kBdf("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");
  if (!std::regex_match(bdf, kBdf))
    return Error{EINVAL, "vfio: want DDDD:BB:DD.F, got " + bdf};
  auto dev = std::make_unique<VfioDevice>(bdf);
  if (Status st = dev->Init(); !st)
    return st.error();
  return std::unique_ptr<Device>(std::move(dev));
}

}  // namespace wave
