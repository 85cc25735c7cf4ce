// A bound (and, for TCP, listening) non-blocking socket on an IPv4 or IPv6 address.
#pragma once

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::rpc {

// `type` is SOCK_STREAM or SOCK_DGRAM; port 0 takes any free port, which *bound reports.
nic::Status BindSocket(int type, const std::string& address, int port, nic::UniqueFd* out,
                       int* bound);

}  // namespace wave::rpc
