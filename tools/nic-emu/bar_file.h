// The file that backs the emulated SmartNIC's BAR2 (QEMU's ivshmem shared memory), normally
// under /dev/shm. wave-nicd creates it, or reuses one the user names, and maps it.
#ifndef WAVE_TOOLS_NIC_EMU_BAR_FILE_H_
#define WAVE_TOOLS_NIC_EMU_BAR_FILE_H_

#include <cstdint>
#include <string>
#include <utility>

#include "base/mapped_region.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::nic::emu {

class BarFile {
 public:
  BarFile() = default;
  BarFile(BarFile&& other) noexcept { *this = std::move(other); }
  // A moved-from file forgets that it created the path, so only one owner unlinks it.
  BarFile& operator=(BarFile&& other) noexcept;
  BarFile(const BarFile&) = delete;
  BarFile& operator=(const BarFile&) = delete;
  ~BarFile();

  // Opens `path`: creates it (mode 0600) with `size` bytes, or, if `may_reuse` and it exists,
  // reuses it when its size is 0 (then grown to `size`) or exactly `size`.
  static Status Open(const std::string& path, uint64_t size, bool may_reuse, BarFile* out);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  std::span<std::byte> bytes() const { return map_.bytes(); }
  // True if Open created the file; the destructor then unlinks it.
  bool created() const { return created_; }

 private:
  void Release();

  std::string path_;
  UniqueFd fd_;
  MappedRegion map_;
  bool created_ = false;
};

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_BAR_FILE_H_
