#include "base/status.h"

#include <cstring>

namespace wave::nic {

Status Status::Errno(const std::string& what, int err) {
  return Status(what + ": " + std::strerror(err));
}

}  // namespace wave::nic
