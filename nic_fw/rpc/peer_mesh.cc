#include "rpc/peer_mesh.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "base/unique_fd.h"
#include "rpc/net_port.h"

namespace wave::rpc {
namespace {

constexpr uint32_t kMagic = 0x4d505657;  // "WVPM"
constexpr size_t kHeader = 12;
constexpr auto kRetry = std::chrono::milliseconds(50);

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

bool PeerMesh::SplitEndpoint(const std::string& endpoint, std::string* addr, int* port) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size())
    return false;
  char* end = nullptr;
  long p = std::strtol(endpoint.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535)
    return false;
  *addr = endpoint.substr(0, colon);
  *port = static_cast<int>(p);
  return true;
}

class PeerMesh::Impl : public Handler {
 public:
  Impl(const PeerMeshConfig& cfg, Receive receive)
      : cfg_(cfg), receive_(std::move(receive)), out_(cfg.peers.size()) {}

  ~Impl() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    Wake();
    if (sender_.joinable())
      sender_.join();
    port_.reset();
  }

  nic::Status Open() {
    if (cfg_.peers.size() < 2 || cfg_.self >= cfg_.peers.size())
      return nic::Status::Error("peer mesh: need at least two peers and self among them");
    std::string addr;
    int port;
    for (const std::string& p : cfg_.peers) {
      if (!SplitEndpoint(p, &addr, &port))
        return nic::Status::Error("peer mesh: bad peer address '" + p + "' (ADDR:PORT)");
    }
    SplitEndpoint(cfg_.peers[cfg_.self], &addr, &port);
    NetPortConfig net;
    net.address = addr;
    net.tcp_port = port;
    net.max_input_bytes = cfg_.max_frame_bytes + kHeader;
    net.max_connections = 64;
    nic::Status s = nic::Status::Ok();
    port_ = NetPort::Start(net, *this, &s);
    if (!port_)
      return nic::Status::Error("peer mesh: " + s.message());
    wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    sender_ = std::thread([this] { SendLoop(); });
    return nic::Status::Ok();
  }

  // Incoming frames, on the port's thread.
  Input OnInput(ConnId, std::string& in, NetPort&) override {
    size_t used = 0;
    while (in.size() - used >= kHeader) {
      const char* h = in.data() + used;
      const uint32_t from = Load32(h + 4), len = Load32(h + 8);
      if (Load32(h) != kMagic || from >= cfg_.peers.size() || from == cfg_.self ||
          len > cfg_.max_frame_bytes) {
        Count([](PeerMeshStats& s) { ++s.bad_frames; });
        in.clear();
        return Input::kClose;
      }
      if (in.size() - used - kHeader < len)
        break;
      std::string payload = in.substr(used + kHeader, len);
      used += kHeader + len;
      Count([](PeerMeshStats& s) { ++s.frames_in; });
      receive_(from, std::move(payload));
    }
    in.erase(0, used);
    return Input::kContinue;
  }

  void Send(uint32_t to, std::string_view payload) {
    if (to >= out_.size() || to == cfg_.self || payload.size() > cfg_.max_frame_bytes) {
      Count([](PeerMeshStats& s) { ++s.dropped; });
      return;
    }
    char header[kHeader];
    const uint32_t fields[3] = {kMagic, cfg_.self, static_cast<uint32_t>(payload.size())};
    std::memcpy(header, fields, kHeader);
    {
      std::lock_guard lock(mu_);
      Outgoing& o = out_[to];
      if (!o.connected || o.queue.size() + kHeader + payload.size() > cfg_.max_queued_bytes) {
        Count([](PeerMeshStats& s) { ++s.dropped; });
        return;
      }
      o.queue.append(header, kHeader);
      o.queue.append(payload);
    }
    Count([](PeerMeshStats& s) { ++s.frames_out; });
    Wake();
  }

  bool Connected(uint32_t to) const {
    std::lock_guard lock(mu_);
    return to < out_.size() && out_[to].connected;
  }

  PeerMeshStats stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  struct Outgoing {
    nic::UniqueFd fd;
    bool connecting = false;
    bool connected = false;
    std::string queue;  // guarded by mu_
    std::chrono::steady_clock::time_point retry_at{};
  };

  template <typename Fn>
  void Count(Fn&& fn) {
    std::lock_guard lock(stats_mu_);
    fn(stats_);
  }

  void Wake() {
    uint64_t one = 1;
    if (wake_)
      (void)!write(wake_.get(), &one, sizeof(one));
  }

  void StartConnect(uint32_t to) {
    Outgoing& o = out_[to];
    std::string addr;
    int port;
    SplitEndpoint(cfg_.peers[to], &addr, &port);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1)
      return;
    o.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(o.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(o.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
    o.connecting = r != 0 && errno == EINPROGRESS;
    if (r == 0)
      MarkConnected(o);
    else if (!o.connecting)
      Drop(o);
  }

  void MarkConnected(Outgoing& o) {
    std::lock_guard lock(mu_);
    o.connecting = false;
    o.connected = true;
    Count([](PeerMeshStats& s) { ++s.connects; });
  }

  // The connection failed: what was queued for it is lost (the protocol retransmits).
  void Drop(Outgoing& o) {
    std::lock_guard lock(mu_);
    o.fd.reset();
    o.connecting = o.connected = false;
    o.queue.clear();
    o.retry_at = std::chrono::steady_clock::now() + kRetry;
  }

  void SendLoop() {
    std::vector<pollfd> pfds;
    std::vector<uint32_t> who;
    std::string chunk;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stop_)
          return;
      }
      const auto now = std::chrono::steady_clock::now();
      pfds.assign(1, pollfd{wake_.get(), POLLIN, 0});
      who.assign(1, UINT32_MAX);
      for (uint32_t i = 0; i < out_.size(); ++i) {
        if (i == cfg_.self)
          continue;
        Outgoing& o = out_[i];
        if (!o.fd && now >= o.retry_at)
          StartConnect(i);
        if (!o.fd)
          continue;
        bool want_out;
        {
          std::lock_guard lock(mu_);
          want_out = o.connecting || !o.queue.empty();
        }
        // POLLIN on an outgoing connection only tells that the peer closed it.
        pfds.push_back({o.fd.get(), static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0});
        who.push_back(i);
      }
      poll(pfds.data(), pfds.size(), 20);
      if (pfds[0].revents & POLLIN) {
        uint64_t n;
        while (read(wake_.get(), &n, sizeof(n)) == sizeof(n)) {
        }
      }
      for (size_t k = 1; k < pfds.size(); ++k) {
        Outgoing& o = out_[who[k]];
        if (pfds[k].revents & (POLLERR | POLLHUP | POLLIN)) {
          char c;
          if (!(pfds[k].revents & POLLIN) || recv(o.fd.get(), &c, 1, MSG_DONTWAIT) == 0 ||
              (pfds[k].revents & (POLLERR | POLLHUP))) {
            Drop(o);
            continue;
          }
        }
        if (!(pfds[k].revents & POLLOUT))
          continue;
        if (o.connecting) {
          int err = 0;
          socklen_t len = sizeof(err);
          getsockopt(o.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            Drop(o);
            continue;
          }
          MarkConnected(o);
        }
        {
          std::lock_guard lock(mu_);
          chunk.swap(o.queue);
          o.queue.clear();
        }
        size_t off = 0;
        while (off < chunk.size()) {
          ssize_t n =
              send(o.fd.get(), chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
          }
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
          off = chunk.size() + 1;  // broken
        }
        if (off > chunk.size()) {
          Drop(o);
          continue;
        }
        if (off < chunk.size()) {
          // The rest goes first next time, before anything queued since.
          std::lock_guard lock(mu_);
          o.queue.insert(0, chunk, off);
        }
        chunk.clear();
      }
    }
  }

  PeerMeshConfig cfg_;
  Receive receive_;
  std::unique_ptr<NetPort> port_;
  nic::UniqueFd wake_;
  std::thread sender_;
  mutable std::mutex mu_;
  bool stop_ = false;
  std::vector<Outgoing> out_;  // fds: sender thread; queue and flags: mu_
  mutable std::mutex stats_mu_;
  PeerMeshStats stats_;
};

PeerMesh::PeerMesh(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeerMesh::~PeerMesh() = default;

std::unique_ptr<PeerMesh> PeerMesh::Start(const PeerMeshConfig& cfg, Receive receive,
                                          nic::Status* status) {
  auto impl = std::make_unique<Impl>(cfg, std::move(receive));
  nic::Status s = impl->Open();
  if (status != nullptr)
    *status = s;
  if (!s.ok())
    return nullptr;
  return std::unique_ptr<PeerMesh>(new PeerMesh(std::move(impl)));
}

void PeerMesh::Send(uint32_t to, std::string_view payload) {
  impl_->Send(to, payload);
}
bool PeerMesh::Connected(uint32_t to) const {
  return impl_->Connected(to);
}
PeerMeshStats PeerMesh::stats() const {
  return impl_->stats();
}

}  // namespace wave::rpc
