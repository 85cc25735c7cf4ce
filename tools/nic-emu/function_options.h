// wave-nic-function's command line (function_main.cc).
#ifndef WAVE_TOOLS_NIC_EMU_FUNCTION_OPTIONS_H_
#define WAVE_TOOLS_NIC_EMU_FUNCTION_OPTIONS_H_

#include <cstdint>
#include <string>

#include "base/program.h"

namespace wave::nic::emu {

struct FunctionOptions {
  std::string socket_path;    // QEMU's ivshmem-doorbell chardev connects here
  std::string firmware_path;  // wave-nicd --attach connects here
  std::string shm_path;       // the BAR file; empty: /dev/shm/wave-nic-<pid>
  std::string pidfile;
  uint64_t bar_size = 16ull << 20;
  uint32_t vectors = 8;
};

// Parses argv ("--name value" or "--name=value"). On kError, `error` says why.
ParseResult ParseFunctionOptions(int argc, const char* const* argv, FunctionOptions* out,
                                 std::string* error);

const char* FunctionUsage();

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_FUNCTION_OPTIONS_H_
