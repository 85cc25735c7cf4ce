// The one place wave-nicd chooses how it reaches the host: wave.ko's loopback device (on-host
// mode, always built) or, when the build includes the NIC emulation (CMake WAVE_NIC_EMU, the
// default), the emulated PCIe function: its own ivshmem server (--socket) or a function lent
// by wave-nic-function (--attach).
#ifndef WAVE_NIC_FW_NICD_OPEN_TRANSPORT_H_
#define WAVE_NIC_FW_NICD_OPEN_TRANSPORT_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "control_plane/transport.h"
#include "nicd/options.h"

namespace wave::nicd {

// On success `where` names what was opened, for the ready line.
nic::Status OpenTransport(const Options& options, std::unique_ptr<nic::Transport>* out,
                          std::string* where);

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_OPEN_TRANSPORT_H_
