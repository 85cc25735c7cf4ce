// Constructors of the device backends (one file each).
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

}  // namespace wave

#endif  // WAVE_SRC_BACKENDS_H_
