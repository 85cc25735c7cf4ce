// The network port with a line protocol of the tests' own: responses completed out of order on
// other threads leave in request order; bounds and UDP framing hold.
#include "rpc/net_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace wave::rpc {
namespace {

// Each "\n"-terminated line is a request; the reply is "<line>!\n", completed later by a
// worker thread in shuffled order. "quit" closes; "silent" has an empty reply.
class LineHandler : public Handler {
 public:
  ~LineHandler() override { StopWorker(); }

  Input OnInput(ConnId conn, std::string& in, NetPort& port) override {
    port_ = &port;
    size_t nl;
    while ((nl = in.find('\n')) != std::string::npos) {
      std::string line = in.substr(0, nl);
      in.erase(0, nl + 1);
      if (line == "quit")
        return Input::kClose;
      uint64_t slot = port.Reserve(conn);
      std::string reply = line == "silent" ? "" : line + "!\n";
      if (inline_replies)
        port.Complete(conn, slot, std::move(reply));
      else
        Queue(conn, slot, std::move(reply));
    }
    return Input::kContinue;
  }
  void OnClosed(ConnId) override { ++closed; }

  void StartWorker() {
    worker_ = std::thread([this] {
      std::mt19937 rng(7);
      while (!stop_) {
        std::vector<Job> jobs;
        {
          std::lock_guard lock(mu_);
          jobs.swap(jobs_);
        }
        std::shuffle(jobs.begin(), jobs.end(), rng);
        for (Job& j : jobs)
          port_->Complete(j.conn, j.slot, std::move(j.reply));
        if (hold)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        else
          std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  void StopWorker() {
    stop_ = true;
    if (worker_.joinable())
      worker_.join();
  }

  bool inline_replies = false;
  std::atomic<bool> hold{false};
  std::atomic<int> closed{0};

 private:
  struct Job {
    ConnId conn;
    uint64_t slot;
    std::string reply;
  };
  void Queue(ConnId conn, uint64_t slot, std::string reply) {
    std::lock_guard lock(mu_);
    jobs_.push_back({conn, slot, std::move(reply)});
  }
  NetPort* port_ = nullptr;
  std::mutex mu_;
  std::vector<Job> jobs_;
  std::thread worker_;
  std::atomic<bool> stop_{false};
};

int Connect(int port, int type = SOCK_STREAM) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

void SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
}

// Reads until `want` bytes arrived, the peer closed, or the timeout passed.
std::string ReadFor(int fd, size_t want, int timeout_ms = 10000) {
  std::string got;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0)
      continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

bool PeerClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) <= 0)
    return false;
  char c;
  return recv(fd, &c, 1, 0) == 0;
}

TEST(NetPort, PipelinedRepliesLeaveInRequestOrder) {
  LineHandler h;
  nic::Status st = nic::Status::Ok();
  auto port = NetPort::Start({}, h, &st);
  ASSERT_TRUE(port) << st.message();
  h.StartWorker();
  int fd = Connect(port->tcp_port());
  std::string req, want;
  for (int i = 0; i < 5000; ++i) {
    req += "r" + std::to_string(i) + "\n";
    if (i % 10 == 3)
      req += "silent\n";
    want += "r" + std::to_string(i) + "!\n";
  }
  std::thread writer([&] { SendAll(fd, req); });
  std::string got = ReadFor(fd, want.size());
  writer.join();
  EXPECT_EQ(got, want);
  close(fd);
  h.StopWorker();
  EXPECT_EQ(port->stats().accepted, 1u);
}

TEST(NetPort, ManyConnectionsAreServedSeparately) {
  LineHandler h;
  h.inline_replies = true;
  auto port = NetPort::Start({}, h, nullptr);
  ASSERT_TRUE(port);
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i)
    fds.push_back(Connect(port->tcp_port()));
  for (int i = 0; i < 50; ++i)
    SendAll(fds[i], "c" + std::to_string(i) + "\n");
  for (int i = 0; i < 50; ++i) {
    std::string want = "c" + std::to_string(i) + "!\n";
    EXPECT_EQ(ReadFor(fds[i], want.size()), want);
    close(fds[i]);
  }
}

TEST(NetPort, QuitClosesAfterTheRepliesBeforeIt) {
  LineHandler h;
  auto port = NetPort::Start({}, h, nullptr);
  ASSERT_TRUE(port);
  h.StartWorker();
  int fd = Connect(port->tcp_port());
  SendAll(fd, "a\nb\nquit\nnever\n");
  EXPECT_EQ(ReadFor(fd, 6), "a!\nb!\n");
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
  h.StopWorker();
}

TEST(NetPort, ConnectionsBeyondTheLimitAreRefused) {
  LineHandler h;
  h.inline_replies = true;
  NetPortConfig cfg;
  cfg.max_connections = 2;
  auto port = NetPort::Start(cfg, h, nullptr);
  ASSERT_TRUE(port);
  int a = Connect(port->tcp_port()), b = Connect(port->tcp_port());
  SendAll(a, "x\n");
  SendAll(b, "y\n");
  EXPECT_EQ(ReadFor(a, 3), "x!\n");
  EXPECT_EQ(ReadFor(b, 3), "y!\n");
  int c = Connect(port->tcp_port());
  std::string msg = "SERVER_ERROR too many open connections\r\n";
  EXPECT_EQ(ReadFor(c, msg.size()), msg);
  EXPECT_TRUE(PeerClosed(c));
  close(a);
  close(b);
  close(c);
  // The two closed connections are given back: a new one is served.
  for (int i = 0; i < 100 && port->stats().open != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int d = Connect(port->tcp_port());
  SendAll(d, "z\n");
  EXPECT_EQ(ReadFor(d, 3), "z!\n");
  close(d);
  EXPECT_EQ(port->stats().refused, 1u);
}

TEST(NetPort, OversizedInputClosesTheConnection) {
  LineHandler h;
  h.inline_replies = true;
  NetPortConfig cfg;
  cfg.max_input_bytes = 4096;
  auto port = NetPort::Start(cfg, h, nullptr);
  ASSERT_TRUE(port);
  int fd = Connect(port->tcp_port());
  SendAll(fd, "ok\n" + std::string(10000, 'x'));
  EXPECT_EQ(ReadFor(fd, 4), "ok!\n");
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
  EXPECT_EQ(port->stats().input_overflows, 1u);
}

TEST(NetPort, BackPressureStopsReadingUntilRepliesDrain) {
  LineHandler h;
  NetPortConfig cfg;
  cfg.max_inflight = 64;
  auto port = NetPort::Start(cfg, h, nullptr);
  ASSERT_TRUE(port);
  h.hold = true;  // the worker answers slowly: requests pile up
  h.StartWorker();
  int fd = Connect(port->tcp_port());
  std::string req, want;
  for (int i = 0; i < 3000; ++i) {
    req += std::to_string(i) + "\n";
    want += std::to_string(i) + "!\n";
  }
  std::thread writer([&] { SendAll(fd, req); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  h.hold = false;
  std::string got = ReadFor(fd, want.size());
  writer.join();
  EXPECT_EQ(got, want);
  EXPECT_GE(port->stats().backpressure_stalls, 1u);
  close(fd);
  h.StopWorker();
}

TEST(NetPort, PeerThatVanishesLeavesNothingBehind) {
  LineHandler h;
  auto port = NetPort::Start({}, h, nullptr);
  ASSERT_TRUE(port);
  h.hold = true;
  h.StartWorker();
  int fd = Connect(port->tcp_port());
  SendAll(fd, "a\nb\nc\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  close(fd);
  h.hold = false;
  for (int i = 0; i < 200 && h.closed == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(h.closed, 1);
  EXPECT_EQ(port->stats().open, 0u);
  h.StopWorker();
}

std::string UdpFrame(uint16_t id, uint16_t seq, uint16_t total, const std::string& body) {
  std::string f = {static_cast<char>(id >> 8),
                   static_cast<char>(id),
                   static_cast<char>(seq >> 8),
                   static_cast<char>(seq),
                   static_cast<char>(total >> 8),
                   static_cast<char>(total),
                   0,
                   0};
  return f + body;
}

TEST(NetPort, UdpRepliesAreFramedAndSplit) {
  LineHandler h;
  h.inline_replies = true;
  NetPortConfig cfg;
  cfg.tcp_port = -1;
  cfg.udp_port = 0;
  auto port = NetPort::Start(cfg, h, nullptr);
  ASSERT_TRUE(port);
  int fd = Connect(port->udp_port(), SOCK_DGRAM);
  std::string body = std::string(3000, 'u') + "\n";
  std::string f = UdpFrame(0x1234, 0, 1, body);
  ASSERT_EQ(send(fd, f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
  // 3002 reply bytes in datagrams of at most 1400 bytes: three of them.
  std::string reply;
  for (int i = 0; i < 3; ++i) {
    char buf[2048];
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(poll(&p, 1, 5000), 0);
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    ASSERT_GE(n, 8);
    ASSERT_LE(n, 1400);
    EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x12);
    EXPECT_EQ(static_cast<uint8_t>(buf[1]), 0x34);
    EXPECT_EQ(buf[3], i);
    EXPECT_EQ(buf[5], 3);
    reply.append(buf + 8, static_cast<size_t>(n) - 8);
  }
  EXPECT_EQ(reply, std::string(3000, 'u') + "!\n");
  // A multi-datagram request and a short datagram are refused.
  std::string bad = UdpFrame(1, 0, 2, "x\n");
  send(fd, bad.data(), bad.size(), 0);
  send(fd, "abc", 3, 0);
  for (int i = 0; i < 100 && port->stats().udp_bad < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(port->stats().udp_bad, 2u);
  close(fd);
}

TEST(NetPort, BadAddressesAreRefusedClearly) {
  LineHandler h;
  NetPortConfig cfg;
  cfg.address = "not-an-address";
  nic::Status st = nic::Status::Ok();
  EXPECT_FALSE(NetPort::Start(cfg, h, &st));
  EXPECT_NE(st.message().find("not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace wave::rpc
