#include "rpc/bind_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

namespace wave::rpc {

using nic::Status;
using nic::UniqueFd;

Status BindSocket(int type, const std::string& address, int port, UniqueFd* out, int* bound) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (address.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) != 1)
      return Status::Error("not an IP address: " + address);
    len = sizeof(*a6);
    family = AF_INET6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &a4->sin_addr) != 1)
      return Status::Error("not an IP address: " + address);
    len = sizeof(*a4);
    family = AF_INET;
  }
  UniqueFd fd(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd)
    return Status::Errno("socket", errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Status::Errno("bind " + address + ":" + std::to_string(port), errno);
  if (type == SOCK_STREAM && listen(fd.get(), 1024) != 0)
    return Status::Errno("listen", errno);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Status::Errno("getsockname", errno);
  *bound = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  *out = std::move(fd);
  return Status::Ok();
}

int PickFreePort(const std::string& address) {
  UniqueFd fd;
  int port = -1;
  return BindSocket(SOCK_STREAM, address, 0, &fd, &port).ok() ? port : -1;
}

}  // namespace wave::rpc
