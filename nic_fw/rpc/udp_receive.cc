#include "rpc/udp_receive.h"

namespace wave::rpc {

void UdpReceive::Prep(io_uring_sqe* sqe, int fd) {
  iov_ = {buf_.data(), buf_.size()};
  msg_ = {};
  msg_.msg_name = &peer_;
  msg_.msg_namelen = sizeof(peer_);
  msg_.msg_iov = &iov_;
  msg_.msg_iovlen = 1;
  io_uring_prep_recvmsg(sqe, fd, &msg_, 0);
}

}  // namespace wave::rpc
