// The mesh between NIC instances: frames arrive whole and in order, a peer that goes away is
// reconnected when it returns, and garbage from a peer is refused.
#include "rpc/peer_mesh.h"
#include "rpc/bind_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace wave::rpc {
namespace {

struct Inbox {
  std::mutex mu;
  std::vector<std::pair<uint32_t, std::string>> got;
  PeerMesh::Receive receive() {
    return [this](uint32_t from, std::string p) {
      std::lock_guard lock(mu);
      got.emplace_back(from, std::move(p));
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return got.size();
  }
};

template <typename Pred>
bool WaitUntil(Pred p, int ms = 5000) {
  for (int i = 0; i < ms / 5; ++i) {
    if (p())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return p();
}

std::vector<std::string> Endpoints(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back("127.0.0.1:" + std::to_string(PickFreePort()));
  return v;
}

TEST(PeerMesh, FramesArriveWholeAndInOrder) {
  auto peers = Endpoints(3);
  Inbox in[3];
  std::unique_ptr<PeerMesh> m[3];
  for (uint32_t i = 0; i < 3; ++i) {
    nic::Status st = nic::Status::Ok();
    m[i] = PeerMesh::Start({.self = i, .peers = peers}, in[i].receive(), &st);
    ASSERT_TRUE(m[i]) << st.message();
  }
  ASSERT_TRUE(
      WaitUntil([&] { return m[0]->Connected(1) && m[0]->Connected(2) && m[1]->Connected(0); }));
  for (int k = 0; k < 2000; ++k)
    m[0]->Send(1, "frame " + std::to_string(k) + std::string(k % 300, 'x'));
  m[2]->Send(1, std::string(5 << 20, 'b'));  // a large one
  ASSERT_TRUE(WaitUntil([&] { return in[1].size() == 2001; }));
  std::lock_guard lock(in[1].mu);
  int next = 0;
  for (auto& [from, p] : in[1].got) {
    if (from == 2) {
      EXPECT_EQ(p.size(), 5u << 20);
      continue;
    }
    EXPECT_EQ(from, 0u);
    EXPECT_EQ(p, "frame " + std::to_string(next) + std::string(next % 300, 'x'));
    ++next;
  }
  EXPECT_EQ(next, 2000);
}

TEST(PeerMesh, APeerThatGoesAwayIsReconnectedWhenItReturns) {
  auto peers = Endpoints(2);
  Inbox a, b;
  auto ma = PeerMesh::Start({.self = 0, .peers = peers}, a.receive(), nullptr);
  auto mb = PeerMesh::Start({.self = 1, .peers = peers}, b.receive(), nullptr);
  ASSERT_TRUE(ma && mb);
  ASSERT_TRUE(WaitUntil([&] { return ma->Connected(1); }));
  mb.reset();
  ASSERT_TRUE(WaitUntil([&] {
    ma->Send(1, "lost");
    return !ma->Connected(1);
  }));
  EXPECT_GT(ma->stats().dropped, 0u);
  Inbox b2;
  mb = PeerMesh::Start({.self = 1, .peers = peers}, b2.receive(), nullptr);
  ASSERT_TRUE(mb);
  ASSERT_TRUE(WaitUntil([&] { return ma->Connected(1); }));
  ma->Send(1, "back");
  ASSERT_TRUE(WaitUntil([&] { return b2.size() == 1; }));
  EXPECT_EQ(b2.got[0].second, "back");
}

TEST(PeerMesh, GarbageFromAPeerIsRefused) {
  auto peers = Endpoints(2);
  Inbox a;
  auto ma = PeerMesh::Start({.self = 0, .peers = peers}, a.receive(), nullptr);
  ASSERT_TRUE(ma);
  std::string addr;
  int port;
  ASSERT_TRUE(PeerMesh::SplitEndpoint(peers[0], &addr, &port));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  const char junk[] = "GET / HTTP/1.0\r\n\r\n";
  send(fd, junk, sizeof(junk), 0);
  ASSERT_TRUE(WaitUntil([&] { return ma->stats().bad_frames == 1; }));
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // closed
  close(fd);
  EXPECT_EQ(a.size(), 0u);
}

TEST(PeerMesh, BadConfigurationIsRefusedClearly) {
  nic::Status st = nic::Status::Ok();
  EXPECT_FALSE(PeerMesh::Start({.self = 0, .peers = {"127.0.0.1:1"}}, nullptr, &st));
  EXPECT_NE(st.message().find("at least two"), std::string::npos);
  EXPECT_FALSE(PeerMesh::Start({.self = 0, .peers = {"127.0.0.1:1", "nope"}}, nullptr, &st));
  EXPECT_NE(st.message().find("bad peer address 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace wave::rpc
