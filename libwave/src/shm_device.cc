// shm:NAME — the BAR image in POSIX shared memory, shared by a host process and a NIC process.
//
// Three objects: /wave-NAME (the BAR image: control page, doorbell page, queue area, laid out
// as on hardware), /wave-NAME.host (emulated host memory that the NIC's DMA engine reaches)
// and /wave-NAME.link (the creator's pid and eventfd numbers). The NIC process copies the
// eventfds with pidfd_getfd(2); without that permission it has no eventfds and its waits
// fall back to timed polling.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "backends.h"
#include "bar_image.h"
#include "fd.h"

namespace wave {
namespace {

constexpr uint32_t kLinkMagic = 0x4b4e494c;  // "LINK"

struct ShmLinkInfo {
  uint32_t magic;
  int32_t pid;
  uint32_t nr_vectors;
  int32_t doorbell_fd[WAVE_MAX_VECTORS];  // host notifies, NIC waits
  int32_t irq_fd[WAVE_MAX_VECTORS];       // NIC notifies, host waits
};

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char ch : name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      return false;
  }
  return true;
}

Result<Mapping> MapShm(const std::string& path, bool create, uint64_t size) {
  if (create)
    ::shm_unlink(path.c_str());
  UniqueFd fd(::shm_open(path.c_str(), O_RDWR | (create ? O_CREAT | O_EXCL : 0) | O_CLOEXEC, 0600));
  if (!fd.valid())
    return ErrnoError("shm_open " + path, errno);
  if (create) {
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
      return ErrnoError("ftruncate " + path, errno);
  } else {
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
      return ErrnoError("fstat " + path, errno);
    size = static_cast<uint64_t>(st.st_size);
    if (size == 0)
      return Error{ENODEV, path + " is empty"};
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED)
    return ErrnoError("mmap " + path, errno);
  return Mapping(p, size);
}

int CopyFdFrom(int pid, int fd) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0)
    return -1;
  const int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  ::close(pidfd);
  return copy;
}

class ShmDevice final : public Device {
 public:
  ShmDevice(Role role, std::string name) : Device(role), name_(std::move(name)) {}
  ~ShmDevice() override {
    if (role() == Role::kHost) {
      ::shm_unlink(("/wave-" + name_).c_str());
      ::shm_unlink(("/wave-" + name_ + ".host").c_str());
      ::shm_unlink(("/wave-" + name_ + ".link").c_str());
    }
  }

  Status Init(const DeviceOptions& o) {
    const std::string base = "/wave-" + name_;
    const bool host = role() == Role::kHost;
    if (host && (o.bar_size < WAVE_BAR_MIN_SIZE || o.bar_size % WAVE_PAGE_SIZE ||
                 o.nr_vectors == 0 || o.nr_vectors > WAVE_MAX_VECTORS))
      return Error{EINVAL, "shm: bad BAR size or vector count"};
    auto bar = MapShm(base, host, o.bar_size);
    if (!bar)
      return bar.error();
    bar_ = std::move(bar.value());
    auto window = MapShm(base + ".host", host, o.host_window_size);
    if (!window)
      return window.error();
    window_ = std::move(window.value());
    auto link = MapShm(base + ".link", host, sizeof(ShmLinkInfo));
    if (!link)
      return link.error();
    link_ = std::move(link.value());
    if (link_.size() < sizeof(ShmLinkInfo))
      return Error{EINVAL, "shm: link object too small"};
    auto* info = reinterpret_cast<ShmLinkInfo*>(link_.data());

    if (host) {
      InitBarImage(bar_.data(), bar_.size(), o.nr_vectors, WAVE_FEAT_DOORBELL_IRQ | WAVE_FEAT_DMA);
      info->pid = ::getpid();
      info->nr_vectors = o.nr_vectors;
      for (uint32_t v = 0; v < o.nr_vectors; v++) {
        doorbell_[v] = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        irq_[v] = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!doorbell_[v].valid() || !irq_[v].valid())
          return ErrnoError("eventfd", errno);
        info->doorbell_fd[v] = doorbell_[v].get();
        info->irq_fd[v] = irq_[v].get();
      }
      std::atomic_thread_fence(std::memory_order_release);
      info->magic = kLinkMagic;
    } else {
      if (Status st = CheckControlPage(control(), bar_.size()); !st)
        return st;
      if (info->magic == kLinkMagic && info->nr_vectors <= WAVE_MAX_VECTORS) {
        for (uint32_t v = 0; v < info->nr_vectors; v++) {
          doorbell_[v] = UniqueFd(CopyFdFrom(info->pid, info->doorbell_fd[v]));
          irq_[v] = UniqueFd(CopyFdFrom(info->pid, info->irq_fd[v]));
        }
      }
    }
    return {};
  }

  std::string spec() const override { return "shm:" + name_; }
  const volatile wave_control_page* control() const override {
    return reinterpret_cast<const volatile wave_control_page*>(bar_.data());
  }

  Result<QueueRegion> CreateQueue(const QueueSpec& spec) override {
    if (role() != Role::kHost)
      return Error{EPERM, "only the host creates queues"};
    auto id = AllocQueueEntry(bar_.data(), bar_.size(), spec);
    if (!id)
      return id.error();
    return MapQueue(id.value());
  }

  Status DestroyQueue(uint32_t id) override {
    if (role() != Role::kHost)
      return Error{EPERM, "only the host destroys queues"};
    return FreeQueueEntry(bar_.data(), id);
  }

  Result<QueueRegion> MapQueue(uint32_t id) override {
    auto q = ReadQueueDesc(control(), id, bar_.size());
    if (!q)
      return q.error();
    QueueRegion r = RegionFromDesc(id, *q);
    r.base = bar_.data() + q->offset;
    r.mem = MemKind::kWriteBack;  // shared memory is coherent whatever the nominal mode
    return r;
  }

  Status Notify(uint32_t queue_id, uint32_t value) override {
    auto q = ReadQueueDesc(control(), queue_id, bar_.size());
    if (!q)
      return q.error();
    if (role() == Role::kHost) {
      auto* db =
          reinterpret_cast<volatile wave_doorbell_page*>(bar_.data() + WAVE_BAR_DOORBELL_OFF);
      db->queue_db[queue_id] = value;
      db->vector_db[q->vector] = db->vector_db[q->vector] + 1;
      return Kick(doorbell_[q->vector]);
    }
    return Kick(irq_[q->vector]);
  }

  int EventFd(uint32_t vector) override {
    if (vector >= WAVE_MAX_VECTORS)
      return -1;
    return role() == Role::kHost ? irq_[vector].get() : doorbell_[vector].get();
  }

  Status SetNicState(uint32_t state) override {
    return PublishNicState(role(), bar_.data(), state);
  }

  std::span<uint8_t> HostWindow() override { return {window_.data(), window_.size()}; }

 private:
  static Status Kick(const UniqueFd& fd) {
    if (!fd.valid())
      return {};  // the peer polls
    const uint64_t one = 1;
    if (::write(fd.get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
      return ErrnoError("eventfd write", errno);
    return {};
  }

  std::string name_;
  Mapping bar_, window_, link_;
  std::array<UniqueFd, WAVE_MAX_VECTORS> doorbell_, irq_;
};

}  // namespace

Result<std::unique_ptr<Device>> OpenShmDevice(const std::string& name, Role role,
                                              const DeviceOptions& options) {
  if (!ValidName(name))
    return Error{EINVAL, "shm: name must be 1-64 of [A-Za-z0-9._-]"};
  auto dev = std::make_unique<ShmDevice>(role, name);
  if (Status st = dev->Init(options); !st)
    return st.error();
  return std::unique_ptr<Device>(std::move(dev));
}

}  // namespace wave
