#include "rpc/net_port.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/unique_fd.h"

namespace wave::rpc {
namespace {

using nic::Status;
using nic::UniqueFd;

// What a completion was for; the low byte of its user data (the rest is the connection id).
enum Op : uint8_t { kAccept = 1, kRecv, kSend, kWake, kUdpRecv };

constexpr size_t kRecvChunk = 16 * 1024;
// memcached's UDP framing: an 8-byte header (request id, sequence number, datagram count,
// reserved; big-endian) before each datagram's payload, 1400 bytes in all at most.
constexpr size_t kUdpHeader = 8;
constexpr size_t kUdpMaxDatagram = 1400;
constexpr size_t kUdpMaxRequest = 64 * 1024;
constexpr char kTooManyConnections[] = "SERVER_ERROR too many open connections\r\n";

uint64_t Tag(ConnId id, Op op) {
  return (id << 8) | op;
}

Status BindSocket(int type, const std::string& address, int port, UniqueFd* out, int* bound) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (address.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) != 1)
      return Status::Error("not an IP address: " + address);
    len = sizeof(*a6);
    family = AF_INET6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &a4->sin_addr) != 1)
      return Status::Error("not an IP address: " + address);
    len = sizeof(*a4);
    family = AF_INET;
  }
  UniqueFd fd(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd)
    return Status::Errno("socket", errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Status::Errno("bind " + address + ":" + std::to_string(port), errno);
  if (type == SOCK_STREAM && listen(fd.get(), 1024) != 0)
    return Status::Errno("listen", errno);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Status::Errno("getsockname", errno);
  *bound = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  *out = std::move(fd);
  return Status::Ok();
}

}  // namespace

class NetPort::Impl {
 public:
  Impl(const NetPortConfig& cfg, Handler& handler) : cfg_(cfg), handler_(handler) {}
  ~Impl() {
    if (thread_.joinable()) {
      stop_ = true;
      Wake();
      thread_.join();
    }
    if (ring_ready_)
      io_uring_queue_exit(&ring_);  // cancels what is still armed before the buffers go
  }

  Status Open(NetPort* port) {
    port_ = port;
    if (cfg_.tcp_port >= 0) {
      Status s = BindSocket(SOCK_STREAM, cfg_.address, cfg_.tcp_port, &listen_fd_, &tcp_port_);
      if (!s.ok())
        return s;
    }
    if (cfg_.udp_port >= 0) {
      Status s = BindSocket(SOCK_DGRAM, cfg_.address, cfg_.udp_port, &udp_fd_, &udp_port_);
      if (!s.ok())
        return s;
    }
    if (!listen_fd_ && !udp_fd_)
      return Status::Error("the network port needs TCP or UDP");
    int ret = io_uring_queue_init(cfg_.queue_depth, &ring_, 0);
    if (ret < 0)
      return Status::Errno("io_uring_queue_init", -ret);
    ring_ready_ = true;
    wake_fd_.reset(eventfd(0, EFD_CLOEXEC));
    if (!wake_fd_)
      return Status::Errno("eventfd", errno);
    if (listen_fd_)
      ArmAccept();
    if (udp_fd_)
      ArmUdpRecv();
    ArmWake();
    io_uring_submit(&ring_);
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  int tcp_port() const { return listen_fd_ ? tcp_port_ : -1; }
  int udp_port() const { return udp_fd_ ? udp_port_ : -1; }

  uint64_t Reserve(ConnId id) {
    auto it = conns_.find(id);
    if (it == conns_.end())
      return 0;
    Conn& c = *it->second;
    c.pending.emplace_back();
    return c.next_slot++;
  }

  void Complete(ConnId id, uint64_t slot, std::string bytes) {
    if (std::this_thread::get_id() == thread_id_) {
      Apply(id, slot, std::move(bytes));
      return;
    }
    bool wake;
    {
      std::lock_guard lock(mu_);
      completions_.push_back({id, slot, std::move(bytes)});
      wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (wake)
      Wake();
  }

  NetPortStats stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  struct Conn {
    ConnId id = 0;
    UniqueFd fd;  // TCP; a UDP request has none
    bool udp = false;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    uint16_t udp_request_id = 0;
    std::string in;
    std::string out;      // ready to send, in order
    std::string sending;  // owned by the armed send
    uint64_t next_slot = 0;
    uint64_t base_slot = 0;  // slot of pending.front()
    std::deque<std::optional<std::string>> pending;
    bool recv_armed = false;
    bool send_armed = false;
    bool stalled = false;  // not read because of back-pressure
    bool closing = false;  // the handler asked to close once everything is sent
    bool dead = false;     // the peer is gone or the connection failed
    std::unique_ptr<char[]> recv_buf;
  };
  struct Completion {
    ConnId conn;
    uint64_t slot;
    std::string bytes;
  };

  template <typename Fn>
  void Count(Fn&& fn) {
    std::lock_guard lock(stats_mu_);
    fn(stats_);
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof(one));
  }

  void ArmAccept() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_.get(), nullptr, nullptr,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, Tag(0, kAccept));
  }

  void ArmWake() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, wake_fd_.get(), &wake_count_, sizeof(wake_count_), 0);
    io_uring_sqe_set_data64(sqe, Tag(0, kWake));
  }

  void ArmUdpRecv() {
    udp_buf_.resize(kUdpMaxRequest);
    udp_iov_ = {udp_buf_.data(), udp_buf_.size()};
    udp_msg_ = {};
    udp_msg_.msg_name = &udp_peer_;
    udp_msg_.msg_namelen = sizeof(udp_peer_);
    udp_msg_.msg_iov = &udp_iov_;
    udp_msg_.msg_iovlen = 1;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recvmsg(sqe, udp_fd_.get(), &udp_msg_, 0);
    io_uring_sqe_set_data64(sqe, Tag(0, kUdpRecv));
  }

  bool OverBudget(const Conn& c) const {
    return c.pending.size() >= cfg_.max_inflight ||
           c.out.size() + c.sending.size() >= cfg_.max_output_bytes;
  }
  bool BelowHalf(const Conn& c) const {
    return c.pending.size() < cfg_.max_inflight / 2 &&
           c.out.size() + c.sending.size() < cfg_.max_output_bytes / 2;
  }

  void ArmRecv(Conn& c) {
    if (c.recv_armed || c.closing || c.dead)
      return;
    if (OverBudget(c)) {
      if (!c.stalled)
        Count([](NetPortStats& s) { ++s.backpressure_stalls; });
      c.stalled = true;
      return;
    }
    c.stalled = false;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, c.fd.get(), c.recv_buf.get(), kRecvChunk, 0);
    io_uring_sqe_set_data64(sqe, Tag(c.id, kRecv));
    c.recv_armed = true;
  }

  void ArmSend(Conn& c) {
    if (c.send_armed || c.dead || c.out.empty())
      return;
    c.sending.swap(c.out);
    c.out.clear();
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, c.fd.get(), c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Tag(c.id, kSend));
    c.send_armed = true;
  }

  void Run() {
    thread_id_ = std::this_thread::get_id();
    while (!stop_) {
      int ret = io_uring_submit_and_wait(&ring_, 1);
      if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
        break;
      io_uring_cqe* cqe;
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        OnCqe(cqe->user_data, cqe->res, cqe->flags);
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

  void OnCqe(uint64_t data, int res, uint32_t flags) {
    const ConnId id = data >> 8;
    switch (static_cast<Op>(data & 0xff)) {
      case kAccept:
        if (res >= 0)
          OnAccept(UniqueFd(res));
        if (!(flags & IORING_CQE_F_MORE) && !stop_)
          ArmAccept();
        return;
      case kWake:
        DrainCompletions();
        if (!stop_)
          ArmWake();
        return;
      case kUdpRecv:
        if (res >= 0)
          OnDatagram(static_cast<size_t>(res));
        if (!stop_)
          ArmUdpRecv();
        return;
      case kRecv:
      case kSend: {
        auto it = conns_.find(id);
        if (it == conns_.end())
          return;
        Conn& c = *it->second;
        if ((data & 0xff) == kRecv)
          OnRecv(c, res);
        else
          OnSent(c, res);
        MaybeRetire(id);
        return;
      }
    }
  }

  void OnAccept(UniqueFd fd) {
    if (open_tcp_ >= cfg_.max_connections) {
      (void)!send(fd.get(), kTooManyConnections, sizeof(kTooManyConnections) - 1,
                  MSG_NOSIGNAL | MSG_DONTWAIT);
      Count([](NetPortStats& s) { ++s.refused; });
      return;
    }
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = std::move(fd);
    c->recv_buf = std::make_unique<char[]>(kRecvChunk);
    Conn& ref = *c;
    conns_.emplace(ref.id, std::move(c));
    ++open_tcp_;
    Count([](NetPortStats& s) {
      ++s.accepted;
      ++s.open;
    });
    ArmRecv(ref);
  }

  void OnRecv(Conn& c, int res) {
    c.recv_armed = false;
    if (res <= 0) {
      Kill(c);
      return;
    }
    Count([res](NetPortStats& s) { s.bytes_in += static_cast<uint64_t>(res); });
    c.in.append(c.recv_buf.get(), static_cast<size_t>(res));
    in_input_ = true;
    if (handler_.OnInput(c.id, c.in, *port_) == Handler::Input::kClose)
      c.closing = true;
    in_input_ = false;
    if (c.in.size() > cfg_.max_input_bytes) {
      // A request that cannot fit: nothing can be answered after it in order, so the
      // connection ends here (what was answered before it is still sent).
      Count([](NetPortStats& s) { ++s.input_overflows; });
      c.closing = true;
      c.in.clear();
    }
    ArmRecv(c);
    ArmSend(c);
  }

  void OnSent(Conn& c, int res) {
    c.send_armed = false;
    if (res <= 0) {
      c.sending.clear();
      Kill(c);
      return;
    }
    Count([res](NetPortStats& s) { s.bytes_out += static_cast<uint64_t>(res); });
    if (static_cast<size_t>(res) < c.sending.size()) {
      // A short send: the rest goes first, before anything completed since.
      c.out.insert(0, c.sending, static_cast<size_t>(res));
    }
    c.sending.clear();
    ArmSend(c);
    if (c.stalled && BelowHalf(c))
      ArmRecv(c);
  }

  // The peer is gone: wake whatever is armed on the socket so that it completes, then retire.
  void Kill(Conn& c) {
    if (c.dead)
      return;
    c.dead = true;
    if (c.fd)
      shutdown(c.fd.get(), SHUT_RDWR);
  }

  void MaybeRetire(ConnId id) {
    auto it = conns_.find(id);
    if (it == conns_.end())
      return;
    Conn& c = *it->second;
    const bool flushed = c.pending.empty() && c.out.empty() && !c.send_armed;
    if (c.udp) {
      if (!c.pending.empty())
        return;
      SendUdpReply(c);
      --udp_active_;
      conns_.erase(it);
      handler_.OnClosed(id);
      return;
    }
    if (c.closing && flushed && !c.dead)
      Kill(c);
    if (!c.dead || c.recv_armed || c.send_armed)
      return;
    --open_tcp_;
    Count([](NetPortStats& s) {
      ++s.closed;
      --s.open;
    });
    conns_.erase(it);
    handler_.OnClosed(id);
  }

  void Apply(ConnId id, uint64_t slot, std::string bytes) {
    auto it = conns_.find(id);
    if (it == conns_.end() || slot < it->second->base_slot ||
        slot - it->second->base_slot >= it->second->pending.size()) {
      Count([](NetPortStats& s) { ++s.late_responses; });
      return;
    }
    Conn& c = *it->second;
    c.pending[slot - c.base_slot] = std::move(bytes);
    uint64_t released = 0;
    while (!c.pending.empty() && c.pending.front().has_value()) {
      if (!c.dead)
        c.out += *c.pending.front();
      c.pending.pop_front();
      ++c.base_slot;
      ++released;
    }
    if (released == 0)
      return;
    Count([released](NetPortStats& s) { s.responses += released; });
    if (!c.udp) {
      ArmSend(c);
      if (c.stalled && BelowHalf(c))
        ArmRecv(c);
    }
    // Inside OnInput the connection retires after the handler returns, not here.
    if (!in_input_)
      MaybeRetire(id);
  }

  void DrainCompletions() {
    std::vector<Completion> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(completions_);
      wake_pending_ = false;
    }
    for (Completion& c : batch)
      Apply(c.conn, c.slot, std::move(c.bytes));
  }

  void OnDatagram(size_t n) {
    Count([](NetPortStats& s) { ++s.udp_datagrams; });
    const auto* b = reinterpret_cast<const uint8_t*>(udp_buf_.data());
    // A request is one datagram: sequence 0 of 1.
    if (n < kUdpHeader || b[2] != 0 || b[3] != 0 || b[4] != 0 || b[5] != 1) {
      Count([](NetPortStats& s) { ++s.udp_bad; });
      return;
    }
    if (udp_active_ >= cfg_.max_udp_requests) {
      Count([](NetPortStats& s) { ++s.udp_dropped; });
      return;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->udp = true;
    c->udp_request_id = static_cast<uint16_t>((b[0] << 8) | b[1]);
    std::memcpy(&c->peer, &udp_peer_, udp_msg_.msg_namelen);
    c->peer_len = udp_msg_.msg_namelen;
    c->in.assign(udp_buf_.data() + kUdpHeader, n - kUdpHeader);
    Conn& ref = *c;
    conns_.emplace(ref.id, std::move(c));
    ++udp_active_;
    in_input_ = true;
    handler_.OnInput(ref.id, ref.in, *port_);
    in_input_ = false;
    MaybeRetire(ref.id);
  }

  void SendUdpReply(Conn& c) {
    if (c.out.empty())
      return;  // noreply
    const size_t chunk = kUdpMaxDatagram - kUdpHeader;
    const size_t count = (c.out.size() + chunk - 1) / chunk;
    if (count > 0xffff)
      return;
    std::string datagram;
    for (size_t i = 0; i < count; ++i) {
      const size_t off = i * chunk;
      const size_t len = std::min(chunk, c.out.size() - off);
      const uint8_t hdr[kUdpHeader] = {static_cast<uint8_t>(c.udp_request_id >> 8),
                                       static_cast<uint8_t>(c.udp_request_id),
                                       static_cast<uint8_t>(i >> 8),
                                       static_cast<uint8_t>(i),
                                       static_cast<uint8_t>(count >> 8),
                                       static_cast<uint8_t>(count),
                                       0,
                                       0};
      datagram.assign(reinterpret_cast<const char*>(hdr), kUdpHeader);
      datagram.append(c.out, off, len);
      if (sendto(udp_fd_.get(), datagram.data(), datagram.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&c.peer), c.peer_len) > 0)
        Count([&](NetPortStats& s) {
          ++s.udp_replies;
          s.bytes_out += datagram.size();
        });
    }
  }

  NetPortConfig cfg_;
  Handler& handler_;
  NetPort* port_ = nullptr;
  UniqueFd listen_fd_;
  UniqueFd udp_fd_;
  UniqueFd wake_fd_;
  int tcp_port_ = -1;
  int udp_port_ = -1;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> stop_{false};
  uint64_t wake_count_ = 0;

  // Port thread only.
  std::unordered_map<ConnId, std::unique_ptr<Conn>> conns_;
  ConnId next_id_ = 1;
  uint32_t open_tcp_ = 0;
  uint32_t udp_active_ = 0;
  bool in_input_ = false;
  std::vector<char> udp_buf_;
  iovec udp_iov_{};
  msghdr udp_msg_{};
  sockaddr_storage udp_peer_{};

  std::mutex mu_;  // completions from other threads
  std::vector<Completion> completions_;
  bool wake_pending_ = false;

  mutable std::mutex stats_mu_;
  NetPortStats stats_;
};

NetPort::NetPort(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetPort::~NetPort() = default;

std::unique_ptr<NetPort> NetPort::Start(const NetPortConfig& cfg, Handler& handler,
                                        nic::Status* status) {
  auto impl = std::make_unique<Impl>(cfg, handler);
  Impl* raw = impl.get();
  std::unique_ptr<NetPort> port(new NetPort(std::move(impl)));
  nic::Status s = raw->Open(port.get());
  if (status != nullptr)
    *status = s;
  if (!s.ok())
    return nullptr;
  return port;
}

int NetPort::tcp_port() const {
  return impl_->tcp_port();
}
int NetPort::udp_port() const {
  return impl_->udp_port();
}
uint64_t NetPort::Reserve(ConnId conn) {
  return impl_->Reserve(conn);
}
void NetPort::Complete(ConnId conn, uint64_t slot, std::string bytes) {
  impl_->Complete(conn, slot, std::move(bytes));
}
NetPortStats NetPort::stats() const {
  return impl_->stats();
}

}  // namespace wave::rpc
