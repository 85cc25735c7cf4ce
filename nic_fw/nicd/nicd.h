// wave-nicd: the SmartNIC firmware program. It opens the transport the options name, brings
// the link up, runs the link's services (the echo self-test) and serves until SIGTERM or
// SIGINT, then takes the link down in order (nic_state STOPPING, then OFF, hosts detached,
// socket and BAR file removed).
#ifndef WAVE_NIC_FW_NICD_NICD_H_
#define WAVE_NIC_FW_NICD_NICD_H_

#include "nicd/options.h"

namespace wave::nicd {

// Runs the firmware to completion; returns the process exit status (0 after a clean stop,
// 1 if start-up failed).
int RunNicd(const Options& options);

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_NICD_H_
