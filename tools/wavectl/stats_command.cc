#include "stats_command.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/stats_export.h"
#include "wave_abi.h"
#include "wave_ioctl.h"

namespace wave::wavectl {
namespace {

constexpr const char* kUsage =
    "usage: wavectl stats [--json] [--dev /dev/waveN | --bar FILE]\n"
    "  --dev PATH   read the control page through wave.ko (default /dev/wave0)\n"
    "  --bar FILE   read a BAR file directly (the emulated NIC's /dev/shm file)\n"
    "  --json       print JSON instead of a table\n";

// A read-only mapping of one control page; unmapped on destruction.
class ControlPage {
 public:
  ~ControlPage() {
    if (map_ != MAP_FAILED)
      munmap(map_, WAVE_PAGE_SIZE);
  }
  bool Open(const std::string& path, bool device, std::string* err) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *err = path + ": " + std::strerror(errno);
      return false;
    }
    off_t off = 0;
    if (device) {
      off = static_cast<off_t>(WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
    } else {
      struct stat st;
      if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(WAVE_PAGE_SIZE)) {
        *err = path + ": smaller than a control page";
        close(fd);
        return false;
      }
    }
    map_ = mmap(nullptr, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, off);
    const int saved = errno;
    close(fd);
    if (map_ == MAP_FAILED) {
      *err = path + ": mmap: " + std::strerror(saved);
      return false;
    }
    return true;
  }
  const volatile std::byte* bytes() const { return static_cast<const volatile std::byte*>(map_); }

 private:
  void* map_ = MAP_FAILED;
};

}  // namespace

int RunStats(int argc, const char* const* argv, std::string* out, std::string* err) {
  bool json = false;
  std::string path = "/dev/wave0";
  bool device = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if ((a == "--dev" || a == "--bar") && i + 1 < argc) {
      device = a == "--dev";
      path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      *out = kUsage;
      return 0;
    } else {
      *err = std::string("wavectl stats: bad argument '") + a + "'\n" + kUsage;
      return 2;
    }
  }
  ControlPage page;
  std::string why;
  if (!page.Open(path, device, &why)) {
    *err = "wavectl stats: " + why + "\n";
    return 1;
  }
  // The control page's identity first: stats of a NIC speaking another ABI mean nothing.
  wave_control_page head;
  std::memcpy(&head, const_cast<const std::byte*>(page.bytes()),
              offsetof(wave_control_page, nic_state));
  if (head.magic != WAVE_ABI_MAGIC) {
    *err = "wavectl stats: " + path + ": no Wave control page (bad magic)\n";
    return 1;
  }
  if (head.abi_major != WAVE_ABI_MAJOR) {
    *err = "wavectl stats: " + path + ": NIC speaks ABI " + std::to_string(head.abi_major) + "." +
           std::to_string(head.abi_minor) + ", this wavectl knows " +
           std::to_string(WAVE_ABI_MAJOR) + ".x\n";
    return 1;
  }
  rt::DecodedStats stats;
  if (!rt::decode_stats(page.bytes() + WAVE_NIC_STATS_OFF, WAVE_NIC_STATS_SIZE, &stats, &why)) {
    *err = "wavectl stats: " + path + ": " + why + "\n";
    return 1;
  }
  *out = json ? rt::stats_json(stats) : rt::stats_table(stats);
  return 0;
}

}  // namespace wave::wavectl
