#include "control_plane/loopback_transport.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>

#include "wave_abi.h"
#include "wave_ioctl.h"

namespace wave::nic {

Status LoopbackTransport::Open(const std::string& path, uint32_t nr_vectors,
                               std::unique_ptr<LoopbackTransport>* out) {
  if (nr_vectors == 0 || nr_vectors > WAVE_MAX_VECTORS) {
    return Status::Error("vectors must be between 1 and " + std::to_string(WAVE_MAX_VECTORS));
  }
  std::unique_ptr<LoopbackTransport> dev(new LoopbackTransport());
  dev->path_ = path;
  dev->nr_vectors_ = nr_vectors;
  dev->dev_.reset(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!dev->dev_) {
    return Status::Errno(path, errno);
  }
  wave_info info{};
  info.argsz = sizeof(info);
  if (ioctl(dev->dev_.get(), WAVE_IOC_GET_INFO, &info) < 0) {
    return Status::Errno(path + ": WAVE_IOC_GET_INFO", errno);
  }
  if (info.backend != WAVE_BACKEND_LOOPBACK) {
    return Status::Error(path + ": not a loopback device (backend " + std::to_string(info.backend) +
                         "); a PCI SmartNIC runs its own firmware");
  }
  // The kernel is trusted more than the host's BAR contents, but a window we cannot lay the
  // fixed pages into is still refused rather than mapped.
  if (info.bar_size < WAVE_BAR_MIN_SIZE || info.bar_size % WAVE_PAGE_SIZE != 0 ||
      info.bar_size > (1ull << 34)) {
    return Status::Error(path + ": unusable BAR size " + std::to_string(info.bar_size));
  }
  if (Status st =
          MappedRegion::Map(dev->dev_.get(), info.bar_size,
                            static_cast<off_t>(WAVE_MMAP_OFFSET(WAVE_REGION_BAR)), &dev->bar_);
      !st.ok()) {
    return Status::Error(path + ": mapping the BAR: " + st.message());
  }
  for (uint32_t v = 0; v < nr_vectors; ++v) {
    UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) {
      return Status::Errno("eventfd", errno);
    }
    dev->doorbells_.push_back(std::move(fd));
  }
  *out = std::move(dev);
  return Status::Ok();
}

LoopbackTransport::~LoopbackTransport() {
  Stop();
}

Status LoopbackTransport::Bind(uint32_t vector, int fd) {
  wave_irq_bind bind{};
  bind.argsz = sizeof(bind);
  bind.flags = WAVE_IRQ_F_NIC_DOORBELL;
  bind.vector = vector;
  bind.fd = fd;
  if (ioctl(dev_.get(), WAVE_IOC_BIND_IRQ, &bind) < 0) {
    return Status::Errno(path_ + ": WAVE_IOC_BIND_IRQ vector " + std::to_string(vector), errno);
  }
  return Status::Ok();
}

Status LoopbackTransport::Start(EventLoop&, LinkStats&) {
  for (uint32_t v = 0; v < nr_vectors_; ++v) {
    if (Status st = Bind(v, doorbells_[v].get()); !st.ok()) {
      for (uint32_t u = 0; u < v; ++u) {
        (void)Bind(u, -1);
      }
      return st;
    }
  }
  bound_ = true;
  return Status::Ok();
}

int LoopbackTransport::doorbell_fd(uint32_t vector) const {
  return vector < doorbells_.size() ? doorbells_[vector].get() : -1;
}

bool LoopbackTransport::RaiseIrq(uint32_t vector) {
  if (vector >= nr_vectors_) {
    return false;
  }
  wave_irq_raise raise{};
  raise.argsz = sizeof(raise);
  raise.vector = vector;
  return ioctl(dev_.get(), WAVE_IOC_RAISE_IRQ, &raise) == 0;
}

void LoopbackTransport::Stop() {
  if (!bound_) {
    return;
  }
  bound_ = false;
  for (uint32_t v = 0; v < nr_vectors_; ++v) {
    if (Status st = Bind(v, -1); !st.ok()) {
      // The device may be gone (unbound, module removed); closing the fd detaches us anyway.
      std::fprintf(stderr, "wave-nicd: %s\n", st.message().c_str());
    }
  }
}

}  // namespace wave::nic
