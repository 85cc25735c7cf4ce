// What the store's process-level tests share: a failure counter, free ports, a blocking
// memcached-protocol client with timeouts, and the store's `stats wave` read as a map.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "rpc/bind_socket.h"

namespace wave::kv::test {

inline int failures = 0;
#define KV_CHECK(cond, ...)               \
  do {                                    \
    if (!(cond)) {                        \
      std::printf("not ok: %s: ", #cond); \
      std::printf(__VA_ARGS__);           \
      std::printf("\n");                  \
      ++::wave::kv::test::failures;       \
    }                                     \
  } while (0)

class Conn {
 public:
  explicit Conn(int port, int timeout_s = 2) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Conn() { close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  bool ok() const { return ok_; }
  // Sends `req` and reads exactly `n` bytes of reply (fewer on a timeout or a closed peer):
  // for pipelined requests whose replies the caller knows in advance.
  std::string AskBytes(const std::string& req, size_t n) {
    if (!ok_ || send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return ok_ = false, "";
    std::string got;
    char buf[65536];
    while (got.size() < n) {
      ssize_t r = recv(fd_, buf, std::min(sizeof(buf), n - got.size()), 0);
      if (r <= 0)
        return ok_ = false, got;
      got.append(buf, static_cast<size_t>(r));
    }
    return got;
  }
  // Sends `req` and reads until the reply ends with `end` ("" on a timeout or a closed peer).
  std::string Ask(const std::string& req, const std::string& end) {
    if (!ok_ || send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return ok_ = false, "";
    std::string got;
    char buf[8192];
    while (
        !(got.size() >= end.size() && got.compare(got.size() - end.size(), end.size(), end) == 0)) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return ok_ = false, "";
      got.append(buf, static_cast<size_t>(n));
      if (got.starts_with("SERVER_ERROR") && got.ends_with("\r\n"))
        return got;
    }
    return got;
  }

 private:
  int fd_;
  bool ok_ = false;
};

inline bool WaitConnectable(int port) {
  for (int i = 0; i < 200; ++i) {
    Conn c(port);
    if (c.ok())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

// `stats wave` of the store on `port`: STAT name -> value (empty if it does not answer).
inline std::map<std::string, std::string> StoreStats(int port) {
  std::map<std::string, std::string> out;
  Conn c(port);
  std::string reply = c.Ask("stats wave\r\n", "END\r\n");
  size_t pos = 0;
  while ((pos = reply.find("STAT ", pos)) != std::string::npos) {
    size_t sp = reply.find(' ', pos + 5), nl = reply.find("\r\n", pos);
    if (sp == std::string::npos || nl == std::string::npos || sp > nl)
      break;
    out[reply.substr(pos + 5, sp - pos - 5)] = reply.substr(sp + 1, nl - sp - 1);
    pos = nl;
  }
  return out;
}

}  // namespace wave::kv::test
