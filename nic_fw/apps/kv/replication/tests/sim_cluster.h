// A deterministic simulated network of n replicas in one process. Env::send() queues the
// encoded message; the test decides when (and whether, how often, in what order) it is
// delivered. A replica can be stopped (its traffic is dropped both ways, its log keeps only what
// it synced) and restarted on its log, and links can be cut. Every Env callback is checked as
// it happens against the properties VR promises (in-order exactly-once apply, a committed op is
// the same op everywhere, a client is answered only once a majority of logs hold its op).
#pragma once

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kv/replication/log.h"
#include "kv/replication/replica.h"
#include "temp_dir.h"

namespace wave::kv::repl::sim {

inline std::vector<std::byte> Op(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s)
    out.push_back(static_cast<std::byte>(c));
  return out;
}
inline std::string Str(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct Packet {
  uint32_t from;
  uint32_t to;
  std::vector<std::byte> bytes;
};

class Cluster {
 public:
  enum class Logs { kMemory, kFile };

  Cluster(uint32_t n, Logs logs, ReplicaConfig base = {}) : n_(n), logs_kind_(logs) {
    for (uint32_t i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<Node>(this, i));
      Node& node = *nodes_.back();
      node.cfg = base;
      node.cfg.self = i;
      node.cfg.n = n;
      OpenLog(node);
      node.replica = std::make_unique<Replica>(node.cfg, *node.log, node);
    }
  }

  uint32_t n() const { return n_; }
  Replica& replica(uint32_t i) { return *nodes_[i]->replica; }
  Log& log(uint32_t i) { return *nodes_[i]->log; }
  bool up(uint32_t i) const { return nodes_[i]->replica != nullptr; }
  // What the current Replica object of i applied (op i at index i-1).
  const std::vector<std::string>& applied(uint32_t i) const { return nodes_[i]->applied; }
  const std::map<uint64_t, std::string>& acknowledged() const { return acked_; }
  std::deque<Packet>& network() { return net_; }

  // The primary of the highest normal view among running replicas, or -1.
  int primary() const {
    int best = -1;
    for (uint32_t i = 0; i < n_; ++i) {
      const Replica* r = nodes_[i]->replica.get();
      if (r != nullptr && r->is_primary() &&
          (best < 0 || r->view() > nodes_[best]->replica->view()))
        best = static_cast<int>(i);
    }
    return best;
  }

  // Submits "op-<token>" to i; the op's bytes name its token.
  Status submit(uint32_t i, uint64_t token) {
    const std::vector<std::byte> op = Op("op-" + std::to_string(token));
    Status st = replica(i).submit(token, op);
    if (st == Status::kOk)
      submitted_[token] = Str(op);
    return st;
  }

  // Submits an op of `bytes` bytes (at least its name, "op-<token>-", then 'x's) to i.
  Status submit_sized(uint32_t i, uint64_t token, size_t bytes) {
    std::string s = "op-" + std::to_string(token) + "-";
    s.resize(std::max(bytes, s.size()), 'x');
    const std::vector<std::byte> op = Op(s);
    Status st = replica(i).submit(token, op);
    if (st == Status::kOk)
      submitted_[token] = std::move(s);
    return st;
  }

  // The largest encoded message sent so far, by MsgType (index 0: of any type).
  size_t max_sent_bytes(MsgType t) const { return max_sent_[static_cast<size_t>(t)]; }
  size_t max_sent_bytes() const { return max_sent_[0]; }

  // ---- faults ----
  void cut(uint32_t a, uint32_t b) { cut_.insert({std::min(a, b), std::max(a, b)}); }
  void uncut(uint32_t a, uint32_t b) { cut_.erase({std::min(a, b), std::max(a, b)}); }
  void heal() { cut_.clear(); }
  bool linked(uint32_t a, uint32_t b) const {
    return !cut_.contains({std::min(a, b), std::max(a, b)});
  }
  // A crash: the Replica object is gone, and so is whatever its log had not synced.
  void stop(uint32_t i) {
    Node& node = *nodes_[i];
    node.replica.reset();
    if (logs_kind_ == Logs::kMemory)
      static_cast<MemoryLog&>(*node.log).crash();
    else
      node.log.reset();
  }
  // A restart on the durable log, with a fresh (empty) state machine.
  void start(uint32_t i) {
    Node& node = *nodes_[i];
    node.applied.clear();
    if (node.log == nullptr)
      OpenLog(node);
    node.replica = std::make_unique<Replica>(node.cfg, *node.log, node);
  }

  // ---- driving ----
  // Delivers the packet at `index` of the queue (dropped if an end is down or the link cut).
  void deliver(size_t index) {
    Packet p = std::move(net_[index]);
    net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(index));
    if (!up(p.from) || !up(p.to) || !linked(p.from, p.to))
      return;
    ++delivered_;
    nodes_[p.to]->replica->receive(p.from, p.bytes);
  }
  void deliver_all() {
    while (!net_.empty())
      deliver(0);
  }
  void tick_all() {
    for (uint32_t i = 0; i < n_; ++i)
      if (up(i))
        replica(i).tick();
  }
  // Ticks and delivers everything until the running replicas agree: one normal view, every
  // op committed and applied on all of them. false if that does not happen in `rounds`.
  bool settle(int rounds = 2000) {
    for (int r = 0; r < rounds; ++r) {
      deliver_all();
      if (converged())
        return true;
      tick_all();
    }
    deliver_all();
    return converged();
  }
  bool converged() const {
    int p = primary();
    if (p < 0)
      return false;
    const Replica& pr = *nodes_[p]->replica;
    for (uint32_t i = 0; i < n_; ++i) {
      const Replica* r = nodes_[i]->replica.get();
      if (r == nullptr)
        continue;
      if (r->status() != ReplicaStatus::kNormal || r->view() != pr.view() ||
          r->commit_number() != pr.last_op() || r->last_op() != pr.last_op())
        return false;
    }
    return true;
  }
  uint64_t delivered() const { return delivered_; }

  // Where every replica stands, for failure messages.
  std::string describe() const {
    std::string out;
    for (uint32_t i = 0; i < n_; ++i) {
      const Node& node = *nodes_[i];
      out += "replica " + std::to_string(i) + ": ";
      if (node.replica == nullptr) {
        out += "down";
      } else {
        const Replica& r = *node.replica;
        out += std::string(ReplicaStatusName(r.status())) + " view " + std::to_string(r.view()) +
               " commit " + std::to_string(r.commit_number());
      }
      if (node.log != nullptr) {
        out += " log [";
        for (uint64_t op = 1; op <= node.log->last_op(); ++op) {
          if (op > 64 && op + 64 <= node.log->last_op()) {  // a long log: its ends only
            out += " ...";
            op = node.log->last_op() - 64;
            continue;
          }
          const Entry* e = node.log->read(op);
          out += (op > 1 ? " " : "") + std::to_string(e->view) + ":" + Str(e->op).substr(3, 12);
        }
        out += "]";
      }
      out += "\n";
    }
    return out;
  }

 private:
  struct Node : Env {
    Node(Cluster* c, uint32_t i) : cluster(c), id(i) {}
    void send(uint32_t to, std::span<const std::byte> msg) override {
      EXPECT_LT(to, cluster->n_);
      EXPECT_NE(to, id);
      if (msg.size() > 6) {
        size_t& by_type =
            cluster->max_sent_[std::min<size_t>(static_cast<size_t>(msg[6]), kMsgTypeCount - 1)];
        by_type = std::max(by_type, msg.size());
        cluster->max_sent_[0] = std::max(cluster->max_sent_[0], msg.size());
      }
      cluster->net_.push_back(Packet{id, to, {msg.begin(), msg.end()}});
    }
    void apply(uint64_t op_number, std::span<const std::byte> op) override {
      // In order, each once, per Replica object.
      EXPECT_EQ(op_number, applied.size() + 1) << "replica " << id;
      applied.push_back(Str(op));
      // The op committed at a position is the same op on every replica, in every incarnation.
      auto [it, fresh] = cluster->committed_.emplace(op_number, Str(op));
      EXPECT_EQ(it->second, Str(op)) << "op " << op_number << " on replica " << id;
    }
    void on_client_reply(uint64_t token, uint64_t op_number) override {
      auto sub = cluster->submitted_.find(token);
      ASSERT_NE(sub, cluster->submitted_.end()) << "a reply for a token never submitted";
      EXPECT_EQ(applied.size(), op_number) << "answered before applied";
      ASSERT_GE(applied.size(), op_number);
      EXPECT_EQ(applied[op_number - 1], sub->second) << "answered with another client's op";
      EXPECT_FALSE(cluster->acked_.contains(token)) << "token " << token << " answered twice";
      // A majority of the logs hold it now. Every other replica is between calls, so its log
      // is synced (or it was stopped, and its log is what survived).
      uint32_t holders = 0;
      for (uint32_t r = 0; r < cluster->n_; ++r) {
        const Log* log = cluster->nodes_[r]->log.get();
        if (log == nullptr || (r != id && log->dirty()))
          continue;
        const Entry* e = log->read(op_number);
        if (e != nullptr && Str(e->op) == sub->second)
          ++holders;
      }
      EXPECT_GE(holders, cluster->n_ / 2 + 1)
          << "op " << op_number << " answered early by " << id << "\n"
          << cluster->describe();
      EXPECT_FALSE(cluster->nodes_[id]->log->dirty()) << "answered before the primary's sync";
      cluster->acked_[token] = sub->second;
    }

    Cluster* cluster;
    uint32_t id;
    ReplicaConfig cfg;
    std::unique_ptr<Log> log;
    std::unique_ptr<Replica> replica;
    std::vector<std::string> applied;
  };

  void OpenLog(Node& node) {
    if (logs_kind_ == Logs::kMemory) {
      node.log = std::make_unique<MemoryLog>();
      return;
    }
    std::unique_ptr<FileLog> f;
    EXPECT_EQ(FileLog::Open(dir_.file("r" + std::to_string(node.id) + ".log"), &f), Status::kOk);
    node.log = std::move(f);
  }

  uint32_t n_;
  Logs logs_kind_;
  TempDir dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<Packet> net_;
  std::set<std::pair<uint32_t, uint32_t>> cut_;
  std::map<uint64_t, std::string> submitted_;  // token -> op
  std::map<uint64_t, std::string> acked_;      // token -> op, once answered
  std::map<uint64_t, std::string> committed_;  // op number -> op, first applied anywhere
  uint64_t delivered_ = 0;
  std::array<size_t, kMsgTypeCount> max_sent_{};
};

// What Cluster::submit() submits for tokens first..last, in order.
inline std::vector<std::string> Ops(uint64_t first, uint64_t last) {
  std::vector<std::string> out;
  for (uint64_t t = first; t <= last; ++t)
    out.push_back("op-" + std::to_string(t));
  return out;
}

// Ticks and delivers until some replica other than `not_this` is primary of a normal view;
// that replica, or -1.
inline int ElectAnotherPrimary(Cluster& c, int not_this, int rounds = 500) {
  for (int r = 0; r < rounds; ++r) {
    c.tick_all();
    c.deliver_all();
    int p = c.primary();
    if (p >= 0 && p != not_this)
      return p;
  }
  return -1;
}

}  // namespace wave::kv::repl::sim
