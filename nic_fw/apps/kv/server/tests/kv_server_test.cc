// The store end to end in one process: a NIC runtime with memtable shards, the memcached front
// end and the network port, driven over real sockets.
#include "kv/server/kv_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

namespace wave::kv {
namespace {

// The runtime's one reply sink, dispatched by actor (what NicRuntimeService does in wave-nicd).
class Router {
 public:
  rt::ReplySink sink() {
    return [this](rt::Reply&& r) {
      std::shared_lock lock(mu_);
      auto it = routes_.find(r.actor);
      if (it != routes_.end())
        it->second(std::move(r));
    };
  }
  RuntimeAccess access(rt::Runtime* runtime, rt::ActorRegistry* registry) {
    return {runtime, registry,
            [this](rt::ActorId id, rt::ReplySink s) {
              std::unique_lock lock(mu_);
              routes_[id] = std::move(s);
            },
            [this](rt::ActorId id) {
              std::unique_lock lock(mu_);
              routes_.erase(id);
            }};
  }

 private:
  std::shared_mutex mu_;
  std::map<rt::ActorId, rt::ReplySink> routes_;
};

struct Store {
  explicit Store(uint32_t shards = 2, int udp = -1, uint64_t mem = 64 << 20,
                 bool run_inline = true) {
    rt::RuntimeConfig rc;
    rc.sched.cores = 2;
    rc.migration = false;
    runtime = std::make_unique<rt::Runtime>(rc, registry, router.sink());
    EXPECT_TRUE(runtime->start());
    KvServerConfig cfg;
    cfg.shards = shards;
    cfg.shard_mem_bytes = mem;
    cfg.net.udp_port = udp;
    cfg.run_inline = run_inline;
    nic::Status st = nic::Status::Ok();
    server = KvServer::Start(cfg, router.access(runtime.get(), &registry), &st);
    EXPECT_TRUE(server) << st.message();
  }
  ~Store() {
    server.reset();
    runtime->shutdown(rt::ShutdownMode::kDrain);
  }
  rt::ActorRegistry registry;
  Router router;
  std::unique_ptr<rt::Runtime> runtime;
  std::unique_ptr<KvServer> server;
};

class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  ~Client() { close(fd_); }
  void Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      off += static_cast<size_t>(n);
    }
  }
  // Reads until the input ends with `terminator` (or the peer closes, or 10 s pass).
  std::string ReadUntil(const std::string& terminator) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      if (buf_.size() >= terminator.size() &&
          buf_.compare(buf_.size() - terminator.size(), terminator.size(), terminator) == 0)
        break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(buf, static_cast<size_t>(n));
    }
    return std::exchange(buf_, {});
  }
  // Reads until the peer has sent nothing for `quiet_ms` (or closes): for replies whose end
  // the test cannot predict.
  std::string ReadUntilQuiet(int quiet_ms) {
    char buf[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, quiet_ms) <= 0)
        break;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(buf, static_cast<size_t>(n));
    }
    return std::exchange(buf_, {});
  }
  std::string Ask(const std::string& req, const std::string& terminator = "\r\n") {
    Send(req);
    return ReadUntil(terminator);
  }
  bool closed() const { return closed_; }

 private:
  int fd_;
  std::string buf_;
  bool closed_ = false;
};

TEST(KvServer, SpeaksTheMemcachedTextProtocol) {
  Store store;
  Client c(store.server->tcp_port());
  EXPECT_EQ(c.Ask("set k 5 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("get k\r\n", "END\r\n"), "VALUE k 5 3\r\nabc\r\nEND\r\n");
  std::string gets = c.Ask("gets k\r\n", "END\r\n");
  ASSERT_EQ(gets.rfind("VALUE k 5 3 ", 0), 0u) << gets;
  std::string cas = gets.substr(12, gets.find("\r\n") - 12);
  EXPECT_EQ(c.Ask("cas k 0 0 1 " + cas + "0\r\nx\r\n"), "EXISTS\r\n");
  EXPECT_EQ(c.Ask("cas k 0 0 1 " + cas + "\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("cas nokey 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.Ask("add k 0 0 1\r\ny\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(c.Ask("replace nokey 0 0 1\r\ny\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(c.Ask("append k 0 0 2\r\nyz\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("prepend k 0 0 1\r\nw\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("get k\r\n", "END\r\n"), "VALUE k 0 4\r\nwxyz\r\nEND\r\n");
  EXPECT_EQ(c.Ask("set n 0 0 2\r\n10\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("incr n 5\r\n"), "15\r\n");
  EXPECT_EQ(c.Ask("decr n 100\r\n"), "0\r\n");
  EXPECT_EQ(c.Ask("incr k 1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(c.Ask("incr nokey 1\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.Ask("touch k 100\r\n"), "TOUCHED\r\n");
  EXPECT_EQ(c.Ask("delete k\r\n"), "DELETED\r\n");
  EXPECT_EQ(c.Ask("delete k\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.Ask("get k\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.Ask("set q 0 0 1 noreply\r\nq\r\nget q\r\n", "END\r\n"),
            "VALUE q 0 1\r\nq\r\nEND\r\n");
  EXPECT_EQ(c.Ask("flush_all\r\n"), "OK\r\n");
  EXPECT_EQ(c.Ask("get q n\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.Ask("version\r\n").rfind("VERSION ", 0), 0u);
  EXPECT_EQ(c.Ask("verbosity 1\r\n"), "OK\r\n");
  std::string stats = c.Ask("stats\r\n", "END\r\n");
  EXPECT_NE(stats.find("STAT curr_connections 1\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT cmd_get "), std::string::npos);
  c.Send("quit\r\n");
  c.ReadUntil("never");
  EXPECT_TRUE(c.closed());
}

TEST(KvServer, MalformedRequestsGetErrorsAndTheConnectionSurvives) {
  Store store;
  Client c(store.server->tcp_port());
  EXPECT_EQ(c.Ask("bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(c.Ask("set k 0 0 notanumber\r\n").rfind("CLIENT_ERROR", 0), 0u);
  EXPECT_EQ(c.Ask("get " + std::string(251, 'k') + "\r\n").rfind("CLIENT_ERROR", 0), 0u);
  EXPECT_EQ(c.Ask("set k 0 0 3\r\nabcdef\r\n", "\r\nERROR\r\n"),
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
  // A value over the item limit is refused and its data skipped; the stream stays in step.
  std::string big(2 << 20, 'b');
  EXPECT_EQ(c.Ask("set big 0 0 2\r\nok\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  // ... and, as in memcached, the refused set leaves no stale value behind.
  EXPECT_EQ(c.Ask("get big\r\n", "END\r\n"), "END\r\n");
  // A refused line that ends in noreply is answered with nothing: the next reply is the
  // next command's.
  EXPECT_EQ(c.Ask("incr k x noreply\r\nversion\r\n").rfind("VERSION ", 0), 0u);
  EXPECT_EQ(c.Ask("set k 0 0 2\r\nok\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Ask("get k big\r\n", "END\r\n"), "VALUE k 0 2\r\nok\r\nEND\r\n");
  // A line that never ends is cut off and the connection closed; the server goes on.
  c.Send(std::string(10000, 'x'));
  std::string last = c.ReadUntil("\r\n");
  EXPECT_EQ(last.rfind("CLIENT_ERROR", 0), 0u) << last;
  Client d(store.server->tcp_port());
  EXPECT_EQ(d.Ask("get k\r\n", "END\r\n"), "VALUE k 0 2\r\nok\r\nEND\r\n");
  EXPECT_GE(store.server->frontend_stats().protocol_errors, 5u);
}

// Seeded garbage: command words, numbers, CR/LF and binary bytes in random order, on many
// connections. The server survives, and data stored before is intact and still served. The
// junk never names the key the test keeps, nor flushes: those would be valid requests.
TEST(KvServer, GarbageOnManyConnectionsCorruptsNothing) {
  Store store;
  {
    Client c(store.server->tcp_port());
    ASSERT_EQ(c.Ask("set keep 9 0 4\r\nsafe\r\n"), "STORED\r\n");
  }
  std::mt19937_64 rng(2026);
  const char* words[] = {"get ", "set ",    "cas ",    "incr ", "delete ", "flush_all ",
                         "gat ", "append ", "stats",   "0 ",    "-1 ",     "99999999999999999999 ",
                         "\r\n", "\n",      "noreply", "k ",    " ",       "verbosity "};
  for (int conn = 0; conn < 24; ++conn) {
    Client c(store.server->tcp_port());
    std::string junk;
    for (int i = 0; i < 400; ++i) {
      if (rng() % 4 == 0)
        junk.push_back(static_cast<char>(rng()));
      else
        junk += words[rng() % (sizeof(words) / sizeof(words[0]))];
    }
    for (size_t pos; (pos = junk.find("flush_all")) != std::string::npos;)
      junk.replace(pos, 5, "xxxxx");
    for (size_t pos; (pos = junk.find("keep")) != std::string::npos;)
      junk.replace(pos, 4, "xxxx");
    c.Send(junk);
    c.ReadUntilQuiet(200);
  }
  Client c(store.server->tcp_port());
  EXPECT_EQ(c.Ask("get keep\r\n", "END\r\n"), "VALUE keep 9 4\r\nsafe\r\nEND\r\n");
  EXPECT_EQ(c.Ask("set after 0 0 1\r\nz\r\nget after\r\n", "END\r\n"),
            "STORED\r\nVALUE after 0 1\r\nz\r\nEND\r\n");
  EXPECT_GT(store.server->frontend_stats().protocol_errors, 100u);
}

TEST(KvServer, MultiGetAcrossShardsKeepsKeyOrder) {
  Store store(4);
  Client c(store.server->tcp_port());
  std::string req, want, get = "get";
  for (int i = 0; i < 200; ++i) {
    std::string k = "key" + std::to_string(i), v = "value-" + std::to_string(i * i);
    req += "set " + k + " " + std::to_string(i) + " 0 " + std::to_string(v.size()) +
           " noreply\r\n" + v + "\r\n";
    if (i % 3 != 1) {
      get += " " + k;
      want += "VALUE " + k + " " + std::to_string(i) + " " + std::to_string(v.size()) + "\r\n" + v +
              "\r\n";
    } else {
      get += " missing" + std::to_string(i);
    }
  }
  c.Send(req);
  EXPECT_EQ(c.Ask(get + "\r\n", "END\r\n"), want + "END\r\n");
}

TEST(KvServer, ConcurrentClientsReadBackWhatTheyWrote) {
  Store store(2);
  constexpr int kClients = 4, kKeys = 300;
  std::vector<std::thread> threads;
  std::vector<int> bad(kClients, 0);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      Client c(store.server->tcp_port());
      for (int round = 0; round < 3; ++round) {
        std::string req;
        for (int i = 0; i < kKeys; ++i) {
          std::string v(100 + (i * 37 + round) % 3000, static_cast<char>('a' + (t + i) % 26));
          req += "set c" + std::to_string(t) + ":" + std::to_string(i) + " 0 0 " +
                 std::to_string(v.size()) + "\r\n" + v + "\r\n";
        }
        std::string replies = c.Ask(req, std::string("STORED\r\n"));
        while (std::count(replies.begin(), replies.end(), '\n') < kKeys)
          replies += c.ReadUntil("STORED\r\n");
        for (int i = 0; i < kKeys; ++i) {
          std::string k = "c" + std::to_string(t) + ":" + std::to_string(i);
          std::string v(100 + (i * 37 + round) % 3000, static_cast<char>('a' + (t + i) % 26));
          std::string got = c.Ask("get " + k + "\r\n", "END\r\n");
          if (got != "VALUE " + k + " 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n")
            ++bad[t];
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (int t = 0; t < kClients; ++t)
    EXPECT_EQ(bad[t], 0) << "client " << t;
}

TEST(KvServer, ServesUdpClients) {
  Store store(2, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(store.server->udp_port()));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  auto ask = [fd](uint16_t id, const std::string& body) {
    std::string f = {static_cast<char>(id >> 8), static_cast<char>(id), 0, 0, 0, 1, 0, 0};
    f += body;
    send(fd, f.data(), f.size(), 0);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0)
      return std::string("timeout");
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    return n < 8 ? std::string("short") : std::string(buf + 8, static_cast<size_t>(n) - 8);
  };
  EXPECT_EQ(ask(1, "set u 0 0 2\r\nhi\r\n"), "STORED\r\n");
  EXPECT_EQ(ask(2, "get u\r\n"), "VALUE u 0 2\r\nhi\r\nEND\r\n");
  close(fd);
}

// Run to completion: the port's thread runs the shards' handlers itself, and the answers are
// the same as when every op is handed to the runtime's cores.
TEST(KvServer, PortThreadRunsShardOpsInlineWithTheSameAnswers) {
  for (bool run_inline : {true, false}) {
    SCOPED_TRACE(run_inline ? "inline" : "posted");
    Store store(2, -1, 64 << 20, run_inline);
    Client c(store.server->tcp_port());
    for (int i = 0; i < 50; ++i) {
      const std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i * 7);
      ASSERT_EQ(c.Ask("set " + k + " 3 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n"),
                "STORED\r\n");
      ASSERT_EQ(c.Ask("get " + k + "\r\n", "END\r\n"),
                "VALUE " + k + " 3 " + std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n");
    }
    EXPECT_EQ(c.Ask("incr k0 1\r\n"),
              "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    const FrontendStats f = store.server->frontend_stats();
    EXPECT_EQ(f.shard_ops_inline + f.shard_ops_posted, 101u);
    if (run_inline) {
      // A sequential client finds its shard idle: nearly every op runs on the port's thread
      // (a core may still hold the shard for a moment after a posted op).
      EXPECT_GT(f.shard_ops_inline, 50u);
    } else {
      EXPECT_EQ(f.shard_ops_inline, 0u);
    }
    EXPECT_NE(store.server->WaveStats().find("STAT front.ops_inline "), std::string::npos);
  }
}

// Ops on one key from a pipelined client, some run on the port's thread and some queued behind
// a busy shard, are applied and answered in the order they were sent.
TEST(KvServer, InlineAndQueuedOpsOnOneKeyKeepTheirOrder) {
  Store store(1);
  Client writer(store.server->tcp_port());
  ASSERT_EQ(writer.Ask("set n 0 0 1\r\n0\r\n"), "STORED\r\n");
  // Another client keeps the shard busy on the runtime's cores meanwhile.
  std::atomic<bool> stop{false};
  std::thread noise([&] {
    Client c(store.server->tcp_port());
    std::string big(3000, 'x');
    while (!stop.load())
      c.Ask("set other 0 0 3000\r\n" + big + "\r\n");
  });
  constexpr int kIncrs = 2000;
  std::string req;
  for (int i = 0; i < kIncrs; ++i)
    req += "incr n 1\r\n";
  writer.Send(req);
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < kIncrs) {
    std::string more = writer.ReadUntil(std::to_string(kIncrs) + "\r\n");
    if (more.empty())
      break;
    got += more;
  }
  stop.store(true);
  noise.join();
  // Seen here: 800-1750 of the 2000 ran inline, the rest queued (the mix varies with timing).
  const FrontendStats f = store.server->frontend_stats();
  RecordProperty("ops_inline", std::to_string(f.shard_ops_inline));
  RecordProperty("ops_posted", std::to_string(f.shard_ops_posted));
  std::string want;
  for (int i = 1; i <= kIncrs; ++i)
    want += std::to_string(i) + "\r\n";
  EXPECT_EQ(got, want);
  EXPECT_EQ(writer.Ask("get n\r\n", "END\r\n"),
            "VALUE n 0 4\r\n" + std::to_string(kIncrs) + "\r\nEND\r\n");
}

TEST(KvServer, KvOptionParsing) {
  KvServerConfig cfg;
  std::string err;
  ASSERT_TRUE(ParseKvOption("127.0.0.1:11311,udp=11312,shards=4,mem=64M", &cfg, &err)) << err;
  EXPECT_EQ(cfg.net.address, "127.0.0.1");
  EXPECT_EQ(cfg.net.tcp_port, 11311);
  EXPECT_EQ(cfg.net.udp_port, 11312);
  EXPECT_EQ(cfg.shards, 4u);
  EXPECT_EQ(cfg.shard_mem_bytes, 64ull << 20);
  EXPECT_FALSE(ParseKvOption("11211", &cfg, &err));
  EXPECT_FALSE(ParseKvOption("127.0.0.1:99999", &cfg, &err));
  EXPECT_FALSE(ParseKvOption("127.0.0.1:", &cfg, &err));
  EXPECT_FALSE(ParseKvOption("127.0.0.1:1,shards=0", &cfg, &err));
  EXPECT_TRUE(cfg.run_inline);
  ASSERT_TRUE(ParseKvOption("127.0.0.1:1,inline=0", &cfg, &err)) << err;
  EXPECT_FALSE(cfg.run_inline);
  EXPECT_FALSE(ParseKvOption("127.0.0.1:1,inline=2", &cfg, &err));
  EXPECT_FALSE(ParseKvOption("127.0.0.1:1,colour=blue", &cfg, &err));
  EXPECT_NE(err.find("colour=blue"), std::string::npos);
}

}  // namespace
}  // namespace wave::kv
