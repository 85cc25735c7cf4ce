#include "nic-emu/function_options.h"

#include <cstdlib>

#include "control_plane/bar_size.h"
#include "wave_abi.h"

namespace wave::nic::emu {

const char* FunctionUsage() {
  return "usage: wave-nic-function --socket PATH --firmware PATH [options]\n"
         "\n"
         "The emulated SmartNIC's PCIe function, without firmware: it serves QEMU's\n"
         "ivshmem-doorbell protocol, owns the BAR file and every eventfd, and lends them to\n"
         "one firmware at a time (wave-nicd --attach PATH). The function stays up when the\n"
         "firmware dies; a new firmware attaches and takes over.\n"
         "\n"
         "  --socket PATH    UNIX socket for QEMU (-chardev socket,path=PATH)\n"
         "  --firmware PATH  UNIX socket the firmware attaches to\n"
         "  --shm PATH       BAR file (default /dev/shm/wave-nic-<pid>); an existing file is\n"
         "                   reused (and zeroed) if its size is 0 or the BAR size\n"
         "  --bar-size SIZE  BAR bytes, a power of two >= 16K (default 16M; K/M/G suffixes)\n"
         "  --vectors N      doorbell / interrupt vectors, 1..8 (default 8)\n"
         "  --pidfile PATH   write the process id to PATH\n"
         "  -h, --help       show this text\n";
}

ParseResult ParseFunctionOptions(int argc, const char* const* argv, FunctionOptions* out,
                                 std::string* error) {
  FunctionOptions opts;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      return ParseResult::kHelp;
    }
    const size_t eq = arg.find('=');
    const std::string name = eq == std::string::npos ? arg : arg.substr(0, eq);
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = name + " needs a value";
      return ParseResult::kError;
    }
    if (name == "--socket" || name == "--firmware" || name == "--shm" || name == "--pidfile") {
      if (value.empty()) {
        *error = name + " needs a non-empty path";
        return ParseResult::kError;
      }
      std::string* field = name == "--socket"     ? &opts.socket_path
                           : name == "--firmware" ? &opts.firmware_path
                           : name == "--shm"      ? &opts.shm_path
                                                  : &opts.pidfile;
      *field = value;
    } else if (name == "--bar-size") {
      if (!ParseSize(value, &opts.bar_size) || !nic::ValidBarSize(opts.bar_size)) {
        *error = "--bar-size: '" + value + "' is not a power of two between 16K and 16G";
        return ParseResult::kError;
      }
    } else if (name == "--vectors") {
      char* end = nullptr;
      const unsigned long v = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || value[0] < '0' || value[0] > '9' || *end != '\0' || v < 1 ||
          v > WAVE_MAX_VECTORS) {
        *error = "--vectors: '" + value + "' is not a number from 1 to 8";
        return ParseResult::kError;
      }
      opts.vectors = static_cast<uint32_t>(v);
    } else {
      *error = "unknown argument '" + arg + "'";
      return ParseResult::kError;
    }
  }
  if (opts.socket_path.empty() || opts.firmware_path.empty()) {
    *error = "--socket and --firmware are both required";
    return ParseResult::kError;
  }
  *out = opts;
  return ParseResult::kOk;
}

}  // namespace wave::nic::emu
