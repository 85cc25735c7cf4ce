#include "nic-emu/ivshmem_protocol.h"

#include <endian.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <span>

#include "nic-emu/unix_socket.h"

namespace wave::nic::emu {

Status SendIvshmemMessage(int sock, int64_t value, int fd) {
  uint64_t wire = htole64(static_cast<uint64_t>(value));
  // A short send of the 8-byte message would desynchronise the stream: SendWithFds refuses it.
  if (fd >= 0) {
    return SendWithFds(sock, &wire, sizeof(wire), std::span<const int>(&fd, 1));
  }
  return SendWithFds(sock, &wire, sizeof(wire), {});
}

Status ReceiveIvshmemMessage(int sock, int64_t* value, UniqueFd* fd) {
  uint64_t wire = 0;
  size_t got = 0;
  fd->reset();
  while (got < sizeof(wire)) {
    iovec iov{reinterpret_cast<char*>(&wire) + got, sizeof(wire) - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // Room for more than one descriptor, so a misbehaving server cannot leak fds into us
    // through truncated control data: every descriptor received is owned and closed.
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Status::Errno("recvmsg", errno);
    }
    if (n == 0) {
      return Status::Error("connection closed");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
        continue;
      }
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (!fd->valid()) {
          fd->reset(received);
        } else {
          close(received);  // one descriptor per message; extras are dropped
        }
      }
    }
    if ((msg.msg_flags & MSG_CTRUNC) != 0) {
      return Status::Error("recvmsg: control data truncated");
    }
    got += static_cast<size_t>(n);
  }
  *value = static_cast<int64_t>(le64toh(wire));
  return Status::Ok();
}

}  // namespace wave::nic::emu
