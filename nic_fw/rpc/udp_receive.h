// The one datagram buffer of the port's UDP socket: the message header io_uring's recvmsg
// fills (payload and sender), re-armed after each datagram.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace wave::rpc {

class UdpReceive {
 public:
  explicit UdpReceive(size_t max_datagram) : buf_(max_datagram) {}
  // Arms `sqe` to receive the next datagram on `fd`.
  void Prep(io_uring_sqe* sqe, int fd);
  // After a completion of `n` bytes: the datagram and who sent it.
  std::string_view datagram(size_t n) const { return {buf_.data(), n}; }
  const sockaddr_storage& peer() const { return peer_; }
  socklen_t peer_len() const { return msg_.msg_namelen; }

 private:
  std::vector<char> buf_;
  iovec iov_{};
  msghdr msg_{};
  sockaddr_storage peer_{};
};

}  // namespace wave::rpc
