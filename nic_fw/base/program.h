// What the firmware's programs (wave-nicd, and the emulation's wave-nic-function) share
// around their main loops: the command-line number grammar and the termination signals.
#ifndef WAVE_NIC_FW_BASE_PROGRAM_H_
#define WAVE_NIC_FW_BASE_PROGRAM_H_

#include <signal.h>

#include <cstdint>
#include <string>

namespace wave::nic {

enum class ParseResult { kOk, kHelp, kError };

// Parses a size such as 16777216, 0x1000000, 16M, 16MiB, 4K or 1G.
bool ParseSize(const std::string& text, uint64_t* out);
// Parses a whole decimal or 0x number in [min, max].
bool ParseU32(const std::string& text, uint64_t min, uint64_t max, uint32_t* out);

// SIGTERM and SIGINT: what stops a program, read from a signalfd.
sigset_t TerminationSignals();
// Blocks them in the calling thread (call it before any thread starts) and ignores SIGPIPE.
void BlockTerminationSignals();

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_PROGRAM_H_
