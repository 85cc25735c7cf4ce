#include "nic-emu/held_function.h"

#include <endian.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "control_plane/bar_size.h"
#include "nic-emu/bar_file.h"
#include "nic-emu/function_protocol.h"
#include "nic-emu/unix_socket.h"

namespace wave::nic::emu {
namespace {

// An eventfd is an anonymous inode; its /proc/self/fd link names the kind.
bool IsEventfd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) < 0) {
    return false;
  }
  char link[64] = {};
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  return n > 0 && std::strcmp(link, "anon_inode:[eventfd]") == 0;
}

}  // namespace

Status HeldFunction::Attach(const std::string& socket_path, std::chrono::milliseconds timeout,
                            std::unique_ptr<HeldFunction>* out) {
  sockaddr_un addr;
  if (Status st = MakeUnixAddress(socket_path, &addr); !st.ok()) {
    return st;
  }
  std::unique_ptr<HeldFunction> fn(new HeldFunction());
  fn->socket_path_ = socket_path;
  fn->conn_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fn->conn_) {
    return Status::Errno("socket", errno);
  }
  if (connect(fn->conn_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return Status::Errno("connect " + socket_path, errno);
  }
  FunctionRequest req{};
  req.magic = htole32(kFunctionRequestMagic);
  req.version = htole16(kFunctionVersion);
  req.pid = htole32(static_cast<uint32_t>(getpid()));
  if (Status st = SendFunctionPacket(fn->conn_.get(), &req, sizeof(req), {}); !st.ok()) {
    return st;
  }
  if (Status st = fn->TakeGrant(timeout); !st.ok()) {
    return Status::Error(socket_path + ": " + st.message());
  }
  *out = std::move(fn);
  return Status::Ok();
}

Status HeldFunction::TakeGrant(std::chrono::milliseconds timeout) {
  pollfd p{conn_.get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return Status::Error("no answer from the function holder");
  }
  alignas(FunctionGrant) unsigned char buf[sizeof(FunctionGrant) + 16];
  size_t len = 0;
  std::vector<UniqueFd> fds;
  std::string why;
  switch (ReceiveFunctionPacket(conn_.get(), buf, sizeof(buf), &len, &fds, &why)) {
    case PacketResult::kPacket:
      break;
    case PacketResult::kNone:
      return Status::Error("no answer from the function holder");
    case PacketResult::kClosed:
      return Status::Error("the function holder closed the connection");
    case PacketResult::kBad:
      return Status::Error("bad grant: " + why);
  }
  if (len != sizeof(FunctionGrant)) {
    return Status::Error("bad grant: " + std::to_string(len) + " bytes");
  }
  FunctionGrant grant;
  std::memcpy(&grant, buf, sizeof(grant));
  if (le32toh(grant.magic) != kFunctionGrantMagic || le16toh(grant.version) != kFunctionVersion) {
    return Status::Error("bad grant: magic or version (holder speaks version " +
                         std::to_string(le16toh(grant.version)) + ", we speak " +
                         std::to_string(kFunctionVersion) + ")");
  }
  if (le16toh(grant.status) == kFunctionBusy) {
    return Status::Error("another firmware holds the function");
  }
  const uint32_t vectors = le32toh(grant.nr_vectors);
  const uint64_t bar_size = le64toh(grant.bar_size);
  if (le16toh(grant.status) != kFunctionGranted || grant.reserved != 0 || vectors == 0 ||
      vectors > WAVE_MAX_VECTORS || !ValidBarSize(bar_size) || bar_size < WAVE_BAR_MIN_SIZE) {
    return Status::Error("bad grant: status " + std::to_string(le16toh(grant.status)) + ", " +
                         std::to_string(vectors) + " vectors, BAR " + std::to_string(bar_size));
  }
  if (fds.size() != 1 + 2 * size_t{vectors}) {
    return Status::Error("bad grant: " + std::to_string(fds.size()) + " descriptors for " +
                         std::to_string(vectors) + " vectors");
  }
  struct stat st {};
  if (fstat(fds[0].get(), &st) < 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != bar_size) {
    return Status::Error("bad grant: the BAR descriptor is not a file of " +
                         std::to_string(bar_size) + " bytes");
  }
  for (size_t i = 1; i < fds.size(); ++i) {
    if (!IsEventfd(fds[i].get())) {
      return Status::Error("bad grant: descriptor " + std::to_string(i) + " is not an eventfd");
    }
  }
  if (Status s = MappedRegion::Map(fds[0].get(), bar_size, 0, &bar_); !s.ok()) {
    return s;
  }
  for (uint32_t v = 0; v < vectors; ++v) {
    doorbells_.push_back(std::move(fds[1 + v]));
    irqs_.push_back(std::move(fds[1 + vectors + v]));
  }
  lease_ = le64toh(grant.lease);
  return Status::Ok();
}

HeldFunction::~HeldFunction() {
  Stop();
}

Status HeldFunction::Start(EventLoop& loop, LinkStats& /*stats*/) {
  // The holder never writes after the grant: readiness means it is gone (or broken).
  loop_ = &loop;
  watch_ = loop.Watch(conn_.get(), [this](uint32_t revents) { OnHolderReady(revents); });
  return Status::Ok();
}

void HeldFunction::OnHolderReady(uint32_t revents) {
  unsigned char buf[64];
  size_t len = 0;
  std::vector<UniqueFd> fds;
  std::string why;
  PacketResult r = ReceiveFunctionPacket(conn_.get(), buf, sizeof(buf), &len, &fds, &why);
  if (r == PacketResult::kNone && (revents & (POLLHUP | POLLERR)) == 0) {
    return;
  }
  std::fprintf(
      stderr, "wave-nicd: the function holder %s; stopping\n",
      r == PacketResult::kClosed || r == PacketResult::kNone ? "went away" : "sent garbage");
  loop_->Unwatch(watch_);
  watch_ = 0;
  loop_->Stop();
}

int HeldFunction::doorbell_fd(uint32_t vector) const {
  return vector < doorbells_.size() ? doorbells_[vector].get() : -1;
}

bool HeldFunction::RaiseIrq(uint32_t vector) {
  std::lock_guard<std::mutex> lock(irq_mu_);
  if (vector >= irqs_.size() || !conn_) {
    return false;
  }
  uint64_t one = 1;
  ssize_t n = write(irqs_[vector].get(), &one, sizeof(one));
  // EAGAIN: the counter is saturated, the holder has requests pending already.
  return n == sizeof(one) || (n < 0 && errno == EAGAIN);
}

void HeldFunction::Stop() {
  if (loop_ != nullptr && watch_ != 0) {
    loop_->Unwatch(watch_);
    watch_ = 0;
  }
  // Ending the connection ends the lease (shut down, since the loop's poll may hold the
  // socket a while after Unwatch); the BAR stays mapped until we go, because the link may
  // still write nic_state OFF after stopping the transport.
  std::lock_guard<std::mutex> lock(irq_mu_);
  if (conn_) {
    shutdown(conn_.get(), SHUT_RDWR);
  }
  conn_.reset();
}

}  // namespace wave::nic::emu
