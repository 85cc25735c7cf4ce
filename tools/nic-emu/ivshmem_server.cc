#include "nic-emu/ivshmem_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nic-emu/ivshmem_protocol.h"
#include "nic-emu/unix_socket.h"
#include "wave_abi.h"

namespace wave::nic::emu {
namespace {

Status MakeEventfds(uint32_t n, std::vector<UniqueFd>* out) {
  out->clear();
  for (uint32_t v = 0; v < n; ++v) {
    UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) {
      return Status::Errno("eventfd", errno);
    }
    out->push_back(std::move(fd));
  }
  return Status::Ok();
}

}  // namespace

Status IvshmemServer::Open(const IvshmemServerConfig& config, std::unique_ptr<IvshmemServer>* out) {
  if (config.nr_vectors == 0 || config.nr_vectors > WAVE_MAX_VECTORS) {
    return Status::Error("vectors must be between 1 and " + std::to_string(WAVE_MAX_VECTORS));
  }
  sockaddr_un addr;
  if (Status st = MakeUnixAddress(config.socket_path, &addr); !st.ok()) {
    return st;
  }
  if (Status st = ClaimUnixSocketPath(config.socket_path, SOCK_STREAM, true); !st.ok()) {
    return st;
  }
  std::unique_ptr<IvshmemServer> server(new IvshmemServer(config));
  if (Status st =
          BarFile::Open(config.shm_path, config.bar_size, config.shm_may_exist, &server->bar_);
      !st.ok()) {
    return st;
  }
  if (Status st = MakeEventfds(config.nr_vectors, &server->nic_doorbells_); !st.ok()) {
    return st;
  }
  *out = std::move(server);
  return Status::Ok();
}

IvshmemServer::~IvshmemServer() {
  Stop();
}

Status IvshmemServer::Start(EventLoop& loop, LinkStats& stats) {
  if (Status st = ListenUnix(config_.socket_path, SOCK_STREAM, &listen_); !st.ok()) {
    return st;
  }
  socket_bound_ = true;
  loop_ = &loop;
  stats_ = &stats;
  listen_watch_ = loop.Watch(listen_.get(), [this](uint32_t) { OnListenReady(); });
  return Status::Ok();
}

int IvshmemServer::doorbell_fd(uint32_t vector) const {
  return vector < nic_doorbells_.size() ? nic_doorbells_[vector].get() : -1;
}

void IvshmemServer::OnListenReady() {
  AcceptPending(listen_.get(), "wave-nicd", [this](UniqueFd conn) { Accept(std::move(conn)); });
}

bool IvshmemServer::AllocateId(uint32_t* id) {
  // Ids go up and wrap, so a fresh client does not inherit an id that a slow peer may not yet
  // have seen leave.
  for (uint32_t tries = 0; tries < kIvshmemMaxPeerId; ++tries) {
    uint32_t candidate = next_id_;
    next_id_ = next_id_ >= kIvshmemMaxPeerId ? 1 : next_id_ + 1;
    if (candidate != kNicPeerId && peers_.find(candidate) == peers_.end()) {
      *id = candidate;
      return true;
    }
  }
  return false;
}

void IvshmemServer::Accept(UniqueFd conn) {
  uint32_t id;
  if (peers_.size() >= config_.max_hosts || !AllocateId(&id)) {
    stats_->Add(&wave_link_stats::hosts_refused);
    return;  // closing the connection tells the client
  }
  auto peer = std::make_unique<Peer>();
  peer->id = id;
  peer->conn = std::move(conn);
  if (Status st = MakeEventfds(config_.nr_vectors, &peer->vectors); !st.ok()) {
    std::fprintf(stderr, "wave-nicd: client refused: %s\n", st.message().c_str());
    stats_->Add(&wave_link_stats::hosts_refused);
    return;
  }
  // Counted before the greeting goes out, so a client that has read its greeting already
  // sees itself in the statistics.
  stats_->Add(&wave_link_stats::hosts_accepted);
  stats_->Set(&wave_link_stats::hosts_connected, peers_.size() + 1);
  if (Status st = Greet(*peer); !st.ok()) {
    std::fprintf(stderr, "wave-nicd: greeting client %u failed: %s\n", id, st.message().c_str());
    stats_->Add(&wave_link_stats::host_errors);
    stats_->Set(&wave_link_stats::hosts_connected, peers_.size());
    return;
  }
  // Tell the others how to ring the newcomer; one that cannot take the message is dropped.
  std::vector<uint32_t> failed;
  for (const auto& [other_id, other] : peers_) {
    if (!Announce(*other, id, peer->vectors).ok()) {
      failed.push_back(other_id);
    }
  }
  Peer* raw = peer.get();
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    peers_.emplace(id, std::move(peer));
  }
  raw->watch =
      loop_->Watch(raw->conn.get(), [this, id](uint32_t revents) { OnPeerReady(id, revents); });
  for (uint32_t other_id : failed) {
    DropPeer(other_id, true);
  }
}

Status IvshmemServer::Greet(const Peer& peer) {
  int sock = peer.conn.get();
  if (Status st = SendIvshmemMessage(sock, kIvshmemProtocolVersion); !st.ok()) {
    return st;
  }
  if (Status st = SendIvshmemMessage(sock, peer.id); !st.ok()) {
    return st;
  }
  if (Status st = SendIvshmemMessage(sock, kIvshmemShmMessage, bar_.fd()); !st.ok()) {
    return st;
  }
  if (Status st = Announce(peer, kNicPeerId, nic_doorbells_); !st.ok()) {
    return st;
  }
  for (const auto& [other_id, other] : peers_) {
    if (Status st = Announce(peer, other_id, other->vectors); !st.ok()) {
      return st;
    }
  }
  // Interrupt setup: the client's own id with the eventfds it will be interrupted through.
  return Announce(peer, peer.id, peer.vectors);
}

Status IvshmemServer::Announce(const Peer& to, uint32_t about_id,
                               const std::vector<UniqueFd>& fds) {
  for (const UniqueFd& fd : fds) {
    if (Status st = SendIvshmemMessage(to.conn.get(), about_id, fd.get()); !st.ok()) {
      return st;
    }
  }
  return Status::Ok();
}

void IvshmemServer::OnPeerReady(uint32_t id, uint32_t revents) {
  auto it = peers_.find(id);
  if (it == peers_.end()) {
    return;
  }
  // The protocol is one-way: a client never sends. Anything readable is either the end of
  // the connection or a protocol error, and both end the client.
  char buf[64];
  ssize_t n = read(it->second->conn.get(), buf, sizeof(buf));
  if (n > 0) {
    DropPeer(id, true);
    return;
  }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
      (revents & (POLLHUP | POLLERR)) != 0) {
    DropPeer(id, false);
  }
}

void IvshmemServer::DropPeer(uint32_t id, bool error) {
  auto it = peers_.find(id);
  if (it == peers_.end()) {
    return;
  }
  if (loop_ != nullptr) {
    loop_->Unwatch(it->second->watch);
  }
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    peers_.erase(it);  // closes the connection and the peer's eventfds
  }
  if (stats_ != nullptr) {
    if (error) {
      stats_->Add(&wave_link_stats::host_errors);
    }
    stats_->Set(&wave_link_stats::hosts_connected, peers_.size());
  }
  std::vector<uint32_t> failed;
  for (const auto& [other_id, other] : peers_) {
    if (!SendIvshmemMessage(other->conn.get(), id).ok()) {
      failed.push_back(other_id);
    }
  }
  for (uint32_t other_id : failed) {
    DropPeer(other_id, true);
  }
}

bool IvshmemServer::RaiseIrq(uint32_t vector) {
  if (vector >= config_.nr_vectors) {
    return false;
  }
  bool delivered = false;
  std::lock_guard<std::mutex> lock(peers_mu_);
  for (const auto& [id, peer] : peers_) {
    uint64_t one = 1;
    // EAGAIN means the counter is saturated: the interrupt is pending already.
    ssize_t n = write(peer->vectors[vector].get(), &one, sizeof(one));
    if (n == sizeof(one) || (n < 0 && errno == EAGAIN)) {
      delivered = true;
    }
  }
  return delivered;
}

void IvshmemServer::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (loop_ != nullptr && listen_watch_ != 0) {
    loop_->Unwatch(listen_watch_);
  }
  listen_.reset();
  if (socket_bound_) {
    unlink(config_.socket_path.c_str());
    socket_bound_ = false;
  }
  for (auto& [id, peer] : peers_) {
    if (loop_ != nullptr) {
      loop_->Unwatch(peer->watch);
    }
  }
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    peers_.clear();
  }
  if (stats_ != nullptr) {
    stats_->Set(&wave_link_stats::hosts_connected, 0);
  }
}

}  // namespace wave::nic::emu
