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
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/unique_fd.h"
#include "rpc/bind_socket.h"
#include "rpc/port_connection.h"
#include "rpc/response_order.h"
#include "rpc/udp_frame.h"
#include "rpc/udp_receive.h"

namespace wave::rpc {
namespace {

using nic::Status;
using nic::UniqueFd;

// What a completion was for; the low byte of its user data (the rest is the connection id).
enum Op : uint8_t { kAccept = 1, kRecv, kSend, kWake, kUdpRecv };

constexpr size_t kRecvChunk = 16 * 1024;
constexpr size_t kUdpMaxRequest = 64 * 1024;
constexpr char kTooManyConnections[] = "SERVER_ERROR too many open connections\r\n";

uint64_t Tag(ConnId id, Op op) {
  return (id << 8) | op;
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
    return c.responses.Reserve();
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
  using Conn = PortConnection;
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
    io_uring_sqe* sqe = Sqe();
    udp_.Prep(sqe, udp_fd_.get());
    io_uring_sqe_set_data64(sqe, Tag(0, kUdpRecv));
  }

  bool OverBudget(const Conn& c) const {
    return c.responses.waiting() >= cfg_.max_inflight ||
           c.out.size() + c.sending.size() >= cfg_.max_output_bytes;
  }
  bool BelowHalf(const Conn& c) const {
    return c.responses.waiting() < cfg_.max_inflight / 2 &&
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
    const bool flushed = c.responses.empty() && c.out.empty() && !c.send_armed;
    if (c.udp) {
      if (!c.responses.empty())
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
    uint64_t released = 0;
    if (it == conns_.end() ||
        !it->second->responses.Fill(slot, std::move(bytes),
                                    it->second->dead ? nullptr : &it->second->out, &released)) {
      Count([](NetPortStats& s) { ++s.late_responses; });
      return;
    }
    Conn& c = *it->second;
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
    uint16_t request_id;
    const std::string_view datagram = udp_.datagram(n);
    if (!ParseUdpRequest(datagram, &request_id)) {
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
    c->udp_request_id = request_id;
    std::memcpy(&c->peer, &udp_.peer(), udp_.peer_len());
    c->peer_len = udp_.peer_len();
    c->in.assign(datagram.substr(kUdpHeader));
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
    for (const std::string& d : FrameUdpReply(c.udp_request_id, c.out)) {
      if (sendto(udp_fd_.get(), d.data(), d.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&c.peer), c.peer_len) > 0)
        Count([&](NetPortStats& s) {
          ++s.udp_replies;
          s.bytes_out += d.size();
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
  UdpReceive udp_{kUdpMaxRequest};

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
