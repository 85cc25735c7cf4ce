// The kernel batch path (uapi/wave_mem_kpath.h) from user space: hands a memory link's host
// producer end to wave.ko (WAVE_IOC_MEM_ATTACH on a file of its own), reads the kernel's slot
// table and counters (WAVE_IOC_MEM_STATS) and gives slots back (WAVE_IOC_MEM_RELEASE). Closing
// it (the destructor, or the process dying) detaches the kernel's end.
#ifndef WAVE_MEM_HOST_KERNEL_PATH_H_
#define WAVE_MEM_HOST_KERNEL_PATH_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "wave/mem_link.h"
#include "wave/result.h"
#include "wave_mem_kpath.h"

namespace wave::mem {

class KernelBatchPath : public KernelBatchSource {
 public:
  // device: a libwave device spec; only "wave:/dev/waveN" (wave.ko) has a kernel path
  // (ENODEV otherwise). ENOTTY: this wave.ko has no batch path.
  static Result<std::unique_ptr<KernelBatchPath>> Attach(const std::string& device,
                                                         const MemHostLink& link, uint32_t aggr_us,
                                                         uint16_t max_accesses);
  ~KernelBatchPath() override;
  KernelBatchPath(const KernelBatchPath&) = delete;
  KernelBatchPath& operator=(const KernelBatchPath&) = delete;

  bool ReadSlots(std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS>* out) override;
  bool Release(uint32_t slot, uint64_t seq) override;
  // Replaces target's mapped ranges in the kernel (WAVE_IOC_MEM_MAPS; empty: forgets them).
  // 0 or the ioctl's errno.
  int SetMaps(uint32_t target, std::span<const wave_mem_krange> ranges);
  // Replaces target's paged-out ranges in the kernel (WAVE_MEM_KMAPS_F_PAGED_OUT): the regions
  // overlapping them go out flagged WAVE_MEM_REGION_F_PAGED_OUT. Empty: forgets them.
  int SetPagedOut(uint32_t target, std::span<const wave_mem_krange> ranges);
  // The kernel's counters; false when the ioctl fails.
  bool Stats(wave_mem_kstats* out) const;

 private:
  explicit KernelBatchPath(int fd) : fd_(fd) {}
  int PushRanges(uint32_t flags, uint32_t target, std::span<const wave_mem_krange> ranges);
  int fd_;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_KERNEL_PATH_H_
