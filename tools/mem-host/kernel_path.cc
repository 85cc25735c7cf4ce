#include "kernel_path.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wave::mem {

Result<std::unique_ptr<KernelBatchPath>> KernelBatchPath::Attach(const std::string& device,
                                                                 const MemHostLink& link,
                                                                 uint32_t aggr_us,
                                                                 uint16_t max_accesses) {
  constexpr std::string_view kPrefix = "wave:";
  if (device.compare(0, kPrefix.size(), kPrefix) != 0)
    return Error{ENODEV, "the kernel batch path needs wave.ko (a wave: device)"};
  const std::string path = device.substr(kPrefix.size());
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return ErrnoError("open " + path, errno);
  std::unique_ptr<KernelBatchPath> p(new KernelBatchPath(fd));
  wave_mem_kattach a{};
  a.argsz = sizeof(a);
  a.msg_queue = link.message_queue();
  a.dec_queue = link.decision_queue();
  a.dma_queue = link.dma_queue();
  a.aggr_us = aggr_us;
  a.max_accesses = max_accesses;
  a.attach_gen = link.attach_gen();
  if (ioctl(fd, WAVE_IOC_MEM_ATTACH, &a) != 0)
    return ErrnoError("WAVE_IOC_MEM_ATTACH", errno);
  return p;
}

KernelBatchPath::~KernelBatchPath() {
  (void)ioctl(fd_, WAVE_IOC_MEM_DETACH);
  close(fd_);
}

bool KernelBatchPath::Stats(wave_mem_kstats* out) const {
  std::memset(out, 0, sizeof(*out));
  out->argsz = sizeof(*out);
  return ioctl(fd_, WAVE_IOC_MEM_STATS, out) == 0;
}

int KernelBatchPath::SetMaps(uint32_t target, std::span<const wave_mem_krange> ranges) {
  return PushRanges(0, target, ranges);
}

int KernelBatchPath::SetPagedOut(uint32_t target, std::span<const wave_mem_krange> ranges) {
  return PushRanges(WAVE_MEM_KMAPS_F_PAGED_OUT, target, ranges);
}

int KernelBatchPath::PushRanges(uint32_t flags, uint32_t target,
                                std::span<const wave_mem_krange> ranges) {
  wave_mem_kmaps m{};
  m.argsz = sizeof(m);
  m.flags = flags;
  m.target = target;
  m.count = static_cast<uint32_t>(ranges.size());
  m.ranges = reinterpret_cast<uintptr_t>(ranges.data());
  return ioctl(fd_, WAVE_IOC_MEM_MAPS, &m) == 0 ? 0 : errno;
}

bool KernelBatchPath::ReadSlots(std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS>* out) {
  wave_mem_kstats s;
  if (!Stats(&s) || !s.attached)
    return false;
  std::memcpy(out->data(), s.slots, sizeof(s.slots));
  return true;
}

bool KernelBatchPath::Release(uint32_t slot, uint64_t seq) {
  wave_mem_krelease r{};
  r.argsz = sizeof(r);
  r.slot = slot;
  r.seq = seq;
  return ioctl(fd_, WAVE_IOC_MEM_RELEASE, &r) == 0;
}

}  // namespace wave::mem
