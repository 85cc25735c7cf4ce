// The message framing of QEMU's ivshmem client-server protocol (docs/specs/ivshmem-spec.rst):
// every message is one little-endian int64, optionally carrying one file descriptor by
// SCM_RIGHTS. The server speaks, clients only listen.
//
//   on connect: 0 (protocol version), the client's id, -1 with the shared-memory fd,
//               for each other peer: its id N times, each with one of its vector eventfds,
//               the client's own id N times, each with one eventfd it receives interrupts on;
//   later:      a peer id with an fd (that peer connected, N times) or without (it left).
#ifndef WAVE_TOOLS_NIC_EMU_IVSHMEM_PROTOCOL_H_
#define WAVE_TOOLS_NIC_EMU_IVSHMEM_PROTOCOL_H_

#include <cstdint>

#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::nic::emu {

inline constexpr int64_t kIvshmemProtocolVersion = 0;
inline constexpr int64_t kIvshmemShmMessage = -1;
inline constexpr uint32_t kIvshmemMaxPeerId = 65535;  // the doorbell register has 16 bits

// Sends one message without blocking (a client that does not read its socket fails the send
// with EAGAIN instead of stalling the NIC). `fd` < 0 sends no descriptor.
Status SendIvshmemMessage(int sock, int64_t value, int fd = -1);

// Receives one message (blocking, or EAGAIN on a non-blocking socket). A descriptor that came
// with it is returned in `fd` (close-on-exec). End of stream is an error "connection closed".
Status ReceiveIvshmemMessage(int sock, int64_t* value, UniqueFd* fd);

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_IVSHMEM_PROTOCOL_H_
