// The wire between the emulated NIC's PCIe function (wave-nic-function: the ivshmem server,
// the BAR file and every eventfd, which live as long as the VM) and its firmware (wave-nicd
// --attach), which may die and start again at any moment, as a NIC's firmware can while the
// host still sees the function.
//
// A SOCK_SEQPACKET UNIX socket; each message is one packet:
//   firmware -> holder  FunctionRequest (16 bytes), no descriptors;
//   holder -> firmware  FunctionGrant (32 bytes) and, if granted, 1 + 2N descriptors by
//                       SCM_RIGHTS: the BAR file, the N doorbell eventfds (the host rang
//                       vector v: readable), the N interrupt eventfds (write 1 to interrupt
//                       the host on vector v; the holder forwards to every connected host).
// After the grant the firmware sends nothing; the connection is its lease on the function:
// when it closes (the firmware exited or was killed) the next firmware may attach. A request
// while another firmware holds the lease gets a grant with status kFunctionBusy.
// All fields are little-endian. Each side validates everything the other sent.
#ifndef WAVE_TOOLS_NIC_EMU_FUNCTION_PROTOCOL_H_
#define WAVE_TOOLS_NIC_EMU_FUNCTION_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "wave_abi.h"

namespace wave::nic::emu {

inline constexpr uint32_t kFunctionRequestMagic = 0x51464e57;  // "WNFQ" in memory order
inline constexpr uint32_t kFunctionGrantMagic = 0x47464e57;    // "WNFG"
inline constexpr uint16_t kFunctionVersion = 1;

enum FunctionStatus : uint16_t {
  kFunctionGranted = 0,
  kFunctionBusy = 1,  // another firmware holds the lease
};

struct FunctionRequest {
  __le32 magic;    // kFunctionRequestMagic
  __le16 version;  // kFunctionVersion
  __le16 reserved0;
  __le32 pid;  // the firmware's process id, for the holder's log
  __le32 reserved1;
};
static_assert(sizeof(FunctionRequest) == 16);

struct FunctionGrant {
  __le32 magic;    // kFunctionGrantMagic
  __le16 version;  // kFunctionVersion
  __le16 status;   // FunctionStatus
  __le32 nr_vectors;
  __le32 reserved;
  __le64 bar_size;
  __le64 lease;  // how many firmware leases the holder granted, this one included
};
static_assert(sizeof(FunctionGrant) == 32);

// Descriptors that come with a grant: the BAR, then N doorbells, then N interrupts.
inline constexpr uint32_t kFunctionMaxFds = 1 + 2 * WAVE_MAX_VECTORS;

// Sends one packet with `fds` (may be empty) without blocking.
Status SendFunctionPacket(int sock, const void* data, size_t len, const std::vector<int>& fds);

enum class PacketResult {
  kPacket,  // a packet (and its descriptors) arrived
  kNone,    // nothing to read yet (non-blocking socket)
  kClosed,  // the peer closed the connection
  kBad,     // a packet that cannot be valid (too long, truncated or excess descriptors)
};

// Receives one packet of at most `cap` bytes into `data` without blocking, and every
// descriptor that came with it (owned, close-on-exec). `len` is the packet's length. On kBad,
// `why` says what was wrong; received descriptors are closed.
PacketResult ReceiveFunctionPacket(int sock, void* data, size_t cap, size_t* len,
                                   std::vector<UniqueFd>* fds, std::string* why);

// Checks a request: size, magic, version, reserved fields zero.
bool ValidFunctionRequest(const void* data, size_t len);

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_FUNCTION_PROTOCOL_H_
