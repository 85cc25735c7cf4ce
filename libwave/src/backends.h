// What the device backends (one file each) share: their constructors and the control-page
// write of the NIC side.
#ifndef WAVE_SRC_BACKENDS_H_
#define WAVE_SRC_BACKENDS_H_

#include <memory>
#include <string>

#include "wave/device.h"

namespace wave {

Result<std::unique_ptr<Device>> OpenShmDevice(const std::string& name, Role role,
                                              const DeviceOptions& options);
Result<std::unique_ptr<Device>> OpenCharDevice(const std::string& path, Role role);
Result<std::unique_ptr<Device>> OpenVfioDevice(const std::string& bdf, Role role);

// Device::SetNicState of a backend whose NIC side maps the BAR writable at bar: writes state
// into the control page there; EPERM for the host.
Status PublishNicState(Role role, uint8_t* bar, uint32_t state);

}  // namespace wave

#endif  // WAVE_SRC_BACKENDS_H_
