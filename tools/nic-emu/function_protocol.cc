#include "nic-emu/function_protocol.h"

#include <endian.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "nic-emu/unix_socket.h"

namespace wave::nic::emu {

static_assert(kFunctionMaxFds <= kMaxFdsPerSend, "a grant must fit one SendWithFds");

Status SendFunctionPacket(int sock, const void* data, size_t len, const std::vector<int>& fds) {
  if (fds.size() > kFunctionMaxFds) {
    return Status::Error("too many descriptors for one packet");
  }
  return SendWithFds(sock, data, len, fds);
}

PacketResult ReceiveFunctionPacket(int sock, void* data, size_t cap, size_t* len,
                                   std::vector<UniqueFd>* fds, std::string* why) {
  fds->clear();
  *len = 0;
  iovec iov{data, cap};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for more descriptors than a valid packet carries, so that extras sent by a
  // misbehaving peer are received, owned and closed rather than lost to truncation.
  alignas(cmsghdr) char control[CMSG_SPACE(2 * kFunctionMaxFds * sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return PacketResult::kNone;
    }
    if (errno == ECONNRESET) {
      return PacketResult::kClosed;
    }
    *why = std::string("recvmsg: ") + std::strerror(errno);
    return PacketResult::kBad;
  }
  // Every descriptor is owned first, so that any error below closes them all.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds->emplace_back(received);
    }
  }
  if (n == 0 && fds->empty()) {
    return PacketResult::kClosed;  // a zero-length packet says nothing either
  }
  if ((msg.msg_flags & MSG_TRUNC) != 0) {
    *why = "packet longer than " + std::to_string(cap) + " bytes";
  } else if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    *why = "control data truncated";
  } else if (fds->size() > kFunctionMaxFds) {
    *why = "too many descriptors: " + std::to_string(fds->size());
  } else {
    *len = static_cast<size_t>(n);
    return PacketResult::kPacket;
  }
  fds->clear();
  return PacketResult::kBad;
}

bool ValidFunctionRequest(const void* data, size_t len) {
  if (len != sizeof(FunctionRequest)) {
    return false;
  }
  FunctionRequest req;
  std::memcpy(&req, data, sizeof(req));
  return le32toh(req.magic) == kFunctionRequestMagic && le16toh(req.version) == kFunctionVersion &&
         req.reserved0 == 0 && req.reserved1 == 0;
}

}  // namespace wave::nic::emu
