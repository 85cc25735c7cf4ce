#include "ivshmem_test_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nic-emu/ivshmem_protocol.h"

namespace wave::nic::emu::testing {

Status IvshmemTestClient::Connect(const std::string& socket_path) {
  sock_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock_) {
    return Status::Errno("socket", errno);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return Status::Error("socket path too long");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return Status::Errno("connect " + socket_path, errno);
  }
  return Status::Ok();
}

Status IvshmemTestClient::Receive(int64_t* value, UniqueFd* fd, std::chrono::milliseconds timeout) {
  pollfd p{sock_.get(), POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(timeout.count()));
  if (n < 0) {
    return Status::Errno("poll", errno);
  }
  if (n == 0) {
    return Status::Error("timeout");
  }
  return ReceiveIvshmemMessage(sock_.get(), value, fd);
}

Status IvshmemTestClient::Handshake(uint32_t vectors, std::chrono::milliseconds timeout) {
  UniqueFd fd;
  if (Status st = Receive(&version_, &fd, timeout); !st.ok()) {
    return st;
  }
  if (version_ != kIvshmemProtocolVersion || fd) {
    return Status::Error("bad version message " + std::to_string(version_));
  }
  if (Status st = Receive(&id_, &fd, timeout); !st.ok()) {
    return st;
  }
  if (id_ < 0 || id_ > kIvshmemMaxPeerId || fd) {
    return Status::Error("bad id message " + std::to_string(id_));
  }
  int64_t value;
  if (Status st = Receive(&value, &shm_fd_, timeout); !st.ok()) {
    return st;
  }
  if (value != kIvshmemShmMessage || !shm_fd_) {
    return Status::Error("expected the shared memory message, got " + std::to_string(value));
  }
  struct stat st {};
  if (fstat(shm_fd_.get(), &st) < 0) {
    return Status::Errno("fstat shm", errno);
  }
  shm_size_ = static_cast<uint64_t>(st.st_size);
  if (Status s = MappedRegion::Map(shm_fd_.get(), shm_size_, 0, &shm_); !s.ok()) {
    return s;
  }
  while (own_.size() < vectors) {
    if (Status s = Receive(&value, &fd, timeout); !s.ok()) {
      return s;
    }
    if (!fd) {
      return Status::Error("message " + std::to_string(value) + " without fd in the greeting");
    }
    if (value == id_) {
      own_.push_back(std::move(fd));
    } else if (value >= 0 && value <= kIvshmemMaxPeerId) {
      peers_[value].push_back(std::move(fd));
    } else {
      return Status::Error("bad peer id " + std::to_string(value));
    }
  }
  return Status::Ok();
}

std::vector<IvshmemTestClient::Notice> IvshmemTestClient::ReadNotices(
    std::chrono::milliseconds timeout) {
  std::vector<Notice> notices;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    if (!notices.empty()) {
      left = std::min(left, std::chrono::milliseconds(20));
    }
    int64_t value;
    UniqueFd fd;
    if (!Receive(&value, &fd, left).ok()) {
      break;
    }
    bool connected = fd.valid();
    if (connected) {
      peers_[value].push_back(std::move(fd));
    } else {
      peers_.erase(value);
    }
    if (notices.empty() || notices.back().peer != value || notices.back().connected != connected ||
        !connected) {
      notices.push_back({value, connected});
    }
  }
  return notices;
}

bool IvshmemTestClient::Ring(int64_t peer, uint32_t vector) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || vector >= it->second.size()) {
    return false;
  }
  uint64_t one = 1;
  return write(it->second[vector].get(), &one, sizeof(one)) == sizeof(one);
}

uint64_t IvshmemTestClient::WaitIrq(uint32_t vector, std::chrono::milliseconds timeout) {
  if (vector >= own_.size()) {
    return 0;
  }
  pollfd p{own_[vector].get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return 0;
  }
  uint64_t count = 0;
  if (read(own_[vector].get(), &count, sizeof(count)) != sizeof(count)) {
    return 0;
  }
  return count;
}

void IvshmemTestClient::ClearIrqs() {
  for (size_t v = 0; v < own_.size(); ++v) {
    while (WaitIrq(static_cast<uint32_t>(v), std::chrono::milliseconds(0)) != 0) {
    }
  }
}

bool IvshmemTestClient::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) {
      return false;
    }
    int64_t value;
    UniqueFd fd;
    Status st = Receive(&value, &fd, left);
    if (!st.ok()) {
      return st.message() != "timeout";
    }
  }
}

}  // namespace wave::nic::emu::testing
