#include "nic-emu/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wave::nic::emu {

Status MakeUnixAddress(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    return Status::Error("socket path must have 1 to " +
                         std::to_string(sizeof(addr->sun_path) - 1) + " bytes: " + path);
  }
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return Status::Ok();
}

Status ClaimUnixSocketPath(const std::string& path, int type, bool server_greets) {
  struct stat st {};
  if (lstat(path.c_str(), &st) < 0) {
    return errno == ENOENT ? Status::Ok() : Status::Errno(path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Error(path + ": exists and is not a socket");
  }
  sockaddr_un addr;
  if (Status st_addr = MakeUnixAddress(path, &addr); !st_addr.ok()) {
    return st_addr;
  }
  UniqueFd probe(socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!probe) {
    return Status::Errno("socket", errno);
  }
  if (connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    if (!server_greets) {
      return Status::Error(path + ": another server is listening there");
    }
    // A live server greets at once. A server that was just killed can still take connections
    // for a moment (its io_uring, torn down asynchronously, holds the listening socket) but
    // never answers, and the connection is reset when the socket finally goes.
    pollfd p{probe.get(), POLLIN, 0};
    char byte;
    if (poll(&p, 1, 500) == 1 && recv(probe.get(), &byte, 1, MSG_DONTWAIT) == 1) {
      return Status::Error(path + ": another server is listening there");
    }
  } else if (errno != ECONNREFUSED) {
    return Status::Errno(path, errno);
  }
  if (unlink(path.c_str()) < 0 && errno != ENOENT) {
    return Status::Errno("unlink " + path, errno);
  }
  return Status::Ok();
}

Status ListenUnix(const std::string& path, int type, UniqueFd* out) {
  sockaddr_un addr;
  if (Status st = MakeUnixAddress(path, &addr); !st.ok()) {
    return st;
  }
  UniqueFd sock(socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) {
    return Status::Errno("socket", errno);
  }
  mode_t old_mask = umask(0077);
  int rc = bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  umask(old_mask);
  if (rc < 0) {
    return Status::Errno("bind " + path, bind_errno);
  }
  if (listen(sock.get(), 16) < 0) {
    int listen_errno = errno;
    unlink(path.c_str());
    return Status::Errno("listen", listen_errno);
  }
  *out = std::move(sock);
  return Status::Ok();
}

void AcceptPending(int listen_fd, const char* who, const std::function<void(UniqueFd)>& on_conn) {
  for (;;) {
    UniqueFd conn(accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        std::fprintf(stderr, "%s: accept: %s\n", who, std::strerror(errno));
      }
      return;
    }
    on_conn(std::move(conn));
  }
}

Status SendWithFds(int sock, const void* data, size_t len, std::span<const int> fds) {
  if (fds.size() > kMaxFdsPerSend) {
    return Status::Error("too many descriptors for one message");
  }
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxFdsPerSend * sizeof(int))] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return Status::Errno("sendmsg", errno);
  }
  if (static_cast<size_t>(n) != len) {
    return Status::Error("sendmsg: short message");
  }
  return Status::Ok();
}

}  // namespace wave::nic::emu
