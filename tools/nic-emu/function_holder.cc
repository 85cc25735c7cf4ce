#include "nic-emu/function_holder.h"

#include <endian.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nic-emu/function_protocol.h"
#include "nic-emu/unix_socket.h"

namespace wave::nic::emu {

Status FunctionHolder::Open(const FunctionHolderConfig& config,
                            std::unique_ptr<FunctionHolder>* out) {
  if (config.firmware_socket == config.function.socket_path) {
    return Status::Error("the firmware socket and QEMU's socket must differ");
  }
  sockaddr_un addr;
  if (Status st = MakeUnixAddress(config.firmware_socket, &addr); !st.ok()) {
    return st;
  }
  if (Status st = ClaimUnixSocketPath(config.firmware_socket, SOCK_SEQPACKET, false); !st.ok()) {
    return st;
  }
  std::unique_ptr<FunctionHolder> holder(new FunctionHolder(config));
  if (Status st = IvshmemServer::Open(config.function, &holder->server_); !st.ok()) {
    return st;
  }
  if (holder->server_->bar_init() != Transport::BarInit::kFresh) {
    std::memset(holder->server_->bar().data(), 0, holder->server_->bar().size());
  }
  for (uint32_t v = 0; v < config.function.nr_vectors; ++v) {
    UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) {
      return Status::Errno("eventfd", errno);
    }
    holder->irq_requests_.push_back(std::move(fd));
  }
  *out = std::move(holder);
  return Status::Ok();
}

FunctionHolder::~FunctionHolder() {
  Stop();
}

Status FunctionHolder::Start(EventLoop& loop) {
  loop_ = &loop;
  if (Status st = server_->Start(loop, host_stats_); !st.ok()) {
    return st;
  }
  if (Status st = ListenUnix(config_.firmware_socket, SOCK_SEQPACKET, &listen_); !st.ok()) {
    server_->Stop();
    return st;
  }
  socket_bound_ = true;
  listen_watch_ = loop.Watch(listen_.get(), [this](uint32_t) { OnFirmwareListenReady(); });
  for (uint32_t v = 0; v < irq_requests_.size(); ++v) {
    irq_watches_.push_back(
        loop.Watch(irq_requests_[v].get(), [this, v](uint32_t) { OnIrqRequest(v); }));
  }
  return Status::Ok();
}

void FunctionHolder::OnIrqRequest(uint32_t vector) {
  uint64_t count = 0;
  // One read resets the eventfd: requests since the last one fold into one interrupt, as
  // MSI-X messages to a vector that is already pending do.
  if (read(irq_requests_[vector].get(), &count, sizeof(count)) == sizeof(count) && count > 0) {
    counters_.irqs_forwarded++;
    server_->RaiseIrq(vector);
  }
}

void FunctionHolder::OnFirmwareListenReady() {
  AcceptPending(listen_.get(), "wave-nic-function", [this](UniqueFd conn) {
    // A connection that never asks must not pin memory or descriptors forever.
    while (pending_.size() >= config_.max_pending && !pending_.empty()) {
      counters_.refused_garbage++;
      DropPending(pending_.begin()->first);
    }
    uint64_t token = next_token_++;
    Pending& p = pending_[token];
    p.conn = std::move(conn);
    p.watch = loop_->Watch(p.conn.get(), [this, token](uint32_t) { OnPendingReady(token); });
  });
}

void FunctionHolder::DropPending(uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end()) {
    return;
  }
  loop_->Unwatch(it->second.watch);
  // Shut down, not only closed: the loop's poll may hold the socket a while after Unwatch,
  // and the peer must learn now that it was refused.
  if (it->second.conn) {
    shutdown(it->second.conn.get(), SHUT_RDWR);
  }
  pending_.erase(it);
}

void FunctionHolder::OnPendingReady(uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end()) {
    return;
  }
  alignas(FunctionRequest) unsigned char buf[sizeof(FunctionRequest) + 16];
  size_t len = 0;
  std::vector<UniqueFd> fds;
  std::string why;
  switch (ReceiveFunctionPacket(it->second.conn.get(), buf, sizeof(buf), &len, &fds, &why)) {
    case PacketResult::kNone:
      return;  // nothing to read yet
    case PacketResult::kClosed:
      DropPending(token);
      return;
    case PacketResult::kBad:
      break;
    case PacketResult::kPacket:
      if (!fds.empty()) {
        why = "descriptors with the request";
      } else if (!ValidFunctionRequest(buf, len)) {
        why = "not a request (" + std::to_string(len) + " bytes)";
      }
      break;
  }
  if (!why.empty()) {
    counters_.refused_garbage++;
    std::fprintf(stderr, "wave-nic-function: firmware connection refused: %s\n", why.c_str());
    DropPending(token);
    return;
  }
  FunctionRequest req;
  std::memcpy(&req, buf, sizeof(req));
  UniqueFd conn = std::move(it->second.conn);
  DropPending(token);
  if (firmware_.valid()) {
    counters_.refused_busy++;
    std::fprintf(stderr, "wave-nic-function: firmware %u refused: firmware %u holds the function\n",
                 le32toh(req.pid), firmware_pid_);
    FunctionGrant busy{};
    busy.magic = htole32(kFunctionGrantMagic);
    busy.version = htole16(kFunctionVersion);
    busy.status = htole16(kFunctionBusy);
    (void)SendFunctionPacket(conn.get(), &busy, sizeof(busy), {});
    return;  // closing the connection ends the conversation
  }
  Grant(std::move(conn), le32toh(req.pid));
}

void FunctionHolder::Grant(UniqueFd conn, uint32_t pid) {
  FunctionGrant grant{};
  grant.magic = htole32(kFunctionGrantMagic);
  grant.version = htole16(kFunctionVersion);
  grant.status = htole16(kFunctionGranted);
  grant.nr_vectors = htole32(server_->nr_vectors());
  grant.bar_size = htole64(server_->bar().size());
  grant.lease = htole64(counters_.leases + 1);
  std::vector<int> fds{server_->bar_fd()};
  for (uint32_t v = 0; v < server_->nr_vectors(); ++v) {
    fds.push_back(server_->doorbell_fd(v));
  }
  for (const UniqueFd& fd : irq_requests_) {
    fds.push_back(fd.get());
  }
  if (Status st = SendFunctionPacket(conn.get(), &grant, sizeof(grant), fds); !st.ok()) {
    std::fprintf(stderr, "wave-nic-function: grant to firmware %u failed: %s\n", pid,
                 st.message().c_str());
    return;
  }
  counters_.leases++;
  firmware_ = std::move(conn);
  firmware_pid_ = pid;
  firmware_watch_ =
      loop_->Watch(firmware_.get(), [this](uint32_t revents) { OnFirmwareReady(revents); });
  std::fprintf(stderr, "wave-nic-function: firmware %u attached (lease %llu)\n", pid,
               static_cast<unsigned long long>(counters_.leases));
}

void FunctionHolder::OnFirmwareReady(uint32_t revents) {
  if (!firmware_.valid()) {
    return;
  }
  unsigned char buf[64];
  size_t len = 0;
  std::vector<UniqueFd> fds;
  std::string why;
  switch (ReceiveFunctionPacket(firmware_.get(), buf, sizeof(buf), &len, &fds, &why)) {
    case PacketResult::kPacket:
    case PacketResult::kBad:
      // The firmware has nothing to say after its grant: it is broken, and loses the lease.
      counters_.refused_garbage++;
      EndLease("sent data after its grant");
      return;
    case PacketResult::kClosed:
      EndLease("left");
      return;
    case PacketResult::kNone:
      if ((revents & (POLLHUP | POLLERR)) != 0) {
        EndLease("hung up");
      }
      return;
  }
}

void FunctionHolder::EndLease(const char* why) {
  if (!firmware_.valid()) {
    return;
  }
  if (loop_ != nullptr) {
    loop_->Unwatch(firmware_watch_);
  }
  firmware_watch_ = 0;
  shutdown(firmware_.get(), SHUT_RDWR);  // see DropPending
  firmware_.reset();
  counters_.lease_ends++;
  std::fprintf(stderr, "wave-nic-function: firmware %u %s; the function stays up\n", firmware_pid_,
               why);
  firmware_pid_ = 0;
}

void FunctionHolder::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  EndLease("detached: the function stops");
  while (!pending_.empty()) {
    DropPending(pending_.begin()->first);
  }
  if (loop_ != nullptr) {
    if (listen_watch_ != 0) {
      loop_->Unwatch(listen_watch_);
    }
    for (EventLoop::WatchId id : irq_watches_) {
      loop_->Unwatch(id);
    }
  }
  irq_watches_.clear();
  listen_.reset();
  if (socket_bound_) {
    unlink(config_.firmware_socket.c_str());
    socket_bound_ = false;
  }
  if (server_) {
    server_->Stop();
  }
}

}  // namespace wave::nic::emu
