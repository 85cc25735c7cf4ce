// A bound (and, for TCP, listening) non-blocking socket on an IPv4 or IPv6 address.
#pragma once

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::rpc {

// `type` is SOCK_STREAM or SOCK_DGRAM; port 0 takes any free port, which *bound reports.
nic::Status BindSocket(int type, const std::string& address, int port, nic::UniqueFd* out,
                       int* bound);

// A TCP port on `address` that was free a moment ago (for tests and benchmarks that start a
// server on a port they must name in advance); -1 if none could be bound.
int PickFreePort(const std::string& address = "127.0.0.1");

}  // namespace wave::rpc
