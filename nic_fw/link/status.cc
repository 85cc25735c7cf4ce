#include "link/status.h"

#include <cstring>

namespace wave::link {

Status Status::Errno(const std::string& what, int err) {
  return Status(what + ": " + std::strerror(err));
}

}  // namespace wave::link
