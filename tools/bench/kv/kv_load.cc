#include "kv_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

namespace wave::bench {
namespace {

using Clock = std::chrono::steady_clock;

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string SetRequest(uint64_t k) {
  std::string key = KeyOf(k);
  size_t n = ValueLength(k);
  return "set " + key + " 0 0 " + std::to_string(n) + "\r\n" + std::string(n, 'a' + k % 26) +
         "\r\n";
}

// Parses one complete reply from the front of `in`: 0 if incomplete, else its length; sets
// *hit / *ok.
size_t ReplyLength(const std::string& in, bool is_get, uint64_t key, bool* hit, bool* ok) {
  *ok = true;
  *hit = false;
  if (!is_get) {
    size_t nl = in.find("\r\n");
    if (nl == std::string::npos)
      return 0;
    *ok = in.compare(0, nl, "STORED") == 0;
    return nl + 2;
  }
  if (in.starts_with("END\r\n"))
    return 5;
  size_t nl = in.find("\r\n");
  if (nl == std::string::npos)
    return 0;
  if (!in.starts_with("VALUE ")) {
    *ok = false;
    return nl + 2;
  }
  size_t sp = in.rfind(' ', nl);
  size_t bytes = std::strtoull(in.c_str() + sp + 1, nullptr, 10);
  size_t total = nl + 2 + bytes + 2 + 5;
  if (in.size() < total)
    return 0;
  *hit = true;
  *ok = bytes == ValueLength(key) && in[nl + 2] == static_cast<char>('a' + key % 26) &&
        in.compare(total - 5, 5, "END\r\n") == 0;
  return total;
}

class Zipf {
 public:
  Zipf(uint64_t n, double s) : cdf_(n) {
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i)
      cdf_[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), s));
    for (double& c : cdf_)
      c /= sum;
  }
  uint64_t operator()(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<uint64_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

struct Conn {
  int fd = -1;
  std::string in;
  bool is_get = false;
  uint64_t key = 0;
  Clock::time_point sent;
};

struct ThreadResult {
  uint64_t ops = 0, gets = 0, hits = 0, errors = 0;
  std::vector<uint32_t> latencies_ns;
};

void Worker(const LoadConfig& cfg, const Zipf& zipf, int index, Clock::time_point end,
            ThreadResult* out) {
  std::mt19937_64 rng(cfg.seed * 1000 + index);
  std::vector<Conn> conns(cfg.connections_per_thread);
  std::vector<pollfd> pfds;
  auto issue = [&](Conn& c) {
    // Scramble the Zipf rank so the hot keys are spread over the shards.
    c.key = (zipf(rng) * 0x9e3779b97f4a7c15ull) % cfg.keys;
    c.is_get = std::uniform_real_distribution<double>(0, 1)(rng) < cfg.get_share;
    c.sent = Clock::now();
    if (!SendAll(c.fd, c.is_get ? "get " + KeyOf(c.key) + "\r\n" : SetRequest(c.key)))
      ++out->errors;
  };
  for (Conn& c : conns) {
    c.fd = Connect(cfg.port);
    pfds.push_back({c.fd, POLLIN, 0});
    if (c.fd >= 0)
      issue(c);
  }
  char buf[65536];
  while (Clock::now() < end) {
    if (poll(pfds.data(), pfds.size(), 100) <= 0)
      continue;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (!(pfds[i].revents & POLLIN))
        continue;
      Conn& c = conns[i];
      ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        ++out->errors;
        pfds[i].fd = -1;
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      bool hit, ok;
      size_t len = ReplyLength(c.in, c.is_get, c.key, &hit, &ok);
      if (len == 0)
        continue;
      auto now = Clock::now();
      out->latencies_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent).count(), UINT32_MAX)));
      ++out->ops;
      out->gets += c.is_get;
      out->hits += hit;
      out->errors += !ok;
      c.in.erase(0, len);
      issue(c);
    }
  }
  for (Conn& c : conns)
    close(c.fd);
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

std::string KeyOf(uint64_t i) {
  std::string k = "kv:" + std::to_string(i) + ":";
  k.resize(64, 'k');
  return k;
}

size_t ValueLength(uint64_t i) {
  // 100 B .. 4 KiB, most of them small, as in a cache of web objects.
  uint64_t h = i * 0x9e3779b97f4a7c15ull;
  return h % 8 == 0 ? 1024 + (h >> 8) % 3073 : 100 + (h >> 8) % 400;
}

bool Preload(const LoadConfig& cfg, std::string* error) {
  int fd = Connect(cfg.port);
  if (fd < 0) {
    *error = "cannot connect to port " + std::to_string(cfg.port);
    return false;
  }
  constexpr uint64_t kBatch = 256;
  std::string got;
  char buf[65536];
  for (uint64_t k = 0; k < cfg.keys; k += kBatch) {
    std::string req;
    uint64_t n = std::min(kBatch, cfg.keys - k);
    for (uint64_t i = 0; i < n; ++i)
      req += SetRequest(k + i);
    if (!SendAll(fd, req)) {
      *error = "send failed";
      close(fd);
      return false;
    }
    got.clear();
    while (static_cast<uint64_t>(std::count(got.begin(), got.end(), '\n')) < n) {
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r <= 0) {
        *error = "the server closed during preload";
        close(fd);
        return false;
      }
      got.append(buf, static_cast<size_t>(r));
    }
    if (got != [&] {
          std::string want;
          for (uint64_t i = 0; i < n; ++i)
            want += "STORED\r\n";
          return want;
        }()) {
      *error = "preload: unexpected reply " + got.substr(0, 80);
      close(fd);
      return false;
    }
  }
  close(fd);
  return true;
}

LoadResult RunLoad(const LoadConfig& cfg) {
  static Zipf* zipf = nullptr;  // the CDF is the same for every run of one configuration
  static uint64_t zipf_keys = 0;
  if (zipf == nullptr || zipf_keys != cfg.keys) {
    delete zipf;
    zipf = new Zipf(cfg.keys, cfg.zipf_s);
    zipf_keys = cfg.keys;
  }
  std::vector<ThreadResult> results(cfg.threads);
  std::vector<std::thread> threads;
  const double cpu0 = CpuSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(cfg.seconds));
  for (int t = 0; t < cfg.threads; ++t)
    threads.emplace_back(Worker, std::cref(cfg), std::cref(*zipf), t, end, &results[t]);
  for (auto& t : threads)
    t.join();
  LoadResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.client_cpu_s = CpuSeconds() - cpu0;
  std::vector<uint32_t> lat;
  for (ThreadResult& t : results) {
    r.ops += t.ops;
    r.gets += t.gets;
    r.hits += t.hits;
    r.errors += t.errors;
    lat.insert(lat.end(), t.latencies_ns.begin(), t.latencies_ns.end());
  }
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    r.p50_us = lat[lat.size() / 2] / 1000.0;
    r.p99_us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)] / 1000.0;
  }
  return r;
}

}  // namespace wave::bench
