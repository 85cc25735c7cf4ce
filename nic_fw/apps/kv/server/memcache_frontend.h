// The store's front end on the NIC: memcached text sessions on the network port. It parses
// each connection's requests (protocol/memcache_text.h), steers every key to its memtable
// shard (an actor of the runtime, so the FCFS/DRR scheduler runs them with everything else),
// gathers the shards' results and formats the replies, which the port sends in request order.
//
// Threads: OnInput runs on the port's thread; results arrive on runtime threads (the reply
// routes), and the request that completes last formats its reply there. A shard op that the
// port's thread may run itself (ShardSet::run_inline) completes before Send returns, on the
// port's thread: iPipe's run to completion, without the two hand-offs between threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/protocol/memcache_text.h"
#include "kv/store/kv_message.h"
#include "rpc/net_port.h"
#include "runtime/message.h"
#include "runtime/status.h"

namespace wave::kv {

// Where requests go: the shards' actor ids and the runtime's post().
struct ShardSet {
  std::vector<rt::ActorId> shards;
  std::function<rt::Status(rt::Message&&)> post;
  // Optional, called on the port's thread only: runs the op's handler now on that thread and
  // delivers its reply through the shards' reply route, returning true; false leaves `msg`
  // untouched (the actor is busy, queued, on the host...) and the op is posted instead.
  std::function<bool(rt::Message& msg)> run_inline;
  // "stats wave": STAT lines about the store's actors, network and replication (no END).
  std::function<std::string()> wave_stats;
  // A replicated store: writes go into the replicated log (token: the request's first shard
  // request id) and reach the shards when committed; false when this replica is not the
  // primary, and then `not_primary` is the client's answer.
  std::function<bool(uint64_t token, const KvOp& op)> replicate;
  std::function<std::string()> not_primary;
};

struct FrontendStats {
  uint64_t requests = 0;
  uint64_t protocol_errors = 0;  // requests answered with ERROR / CLIENT_ERROR / SERVER_ERROR
  uint64_t shard_failures = 0;   // shard ops that were refused or failed in the runtime
  uint64_t cmd_get = 0;          // keys asked for
  uint64_t cmd_set = 0;
  uint64_t cmd_touch = 0;
  uint64_t cmd_flush = 0;
  uint64_t total_connections = 0;
  uint64_t curr_connections = 0;
  uint64_t shard_ops_inline = 0;  // run on the port's thread (run to completion)
  uint64_t shard_ops_posted = 0;  // handed to the runtime's cores (or the host)
};

class MemcacheFrontend : public rpc::Handler {
 public:
  explicit MemcacheFrontend(ShardSet shards, ParseLimits limits = {});
  ~MemcacheFrontend() override;

  Input OnInput(rpc::ConnId conn, std::string& in, rpc::NetPort& port) override;
  void OnClosed(rpc::ConnId conn) override;

  // The reply sink of every shard (install with NicRuntimeService::route_replies or as the
  // runtime's sink).
  void OnShardReply(rt::Reply&& reply);

  // The shard a key lives in.
  size_t ShardOf(const std::string& key) const;
  // Turns the replicated write path on (before the port takes clients).
  void SetReplication(std::function<bool(uint64_t, const KvOp&)> replicate,
                      std::function<std::string()> not_primary) {
    shards_.replicate = std::move(replicate);
    shards_.not_primary = std::move(not_primary);
  }
  // A write handed to replicate() that will not be applied after all: its client gets `reply`.
  void Refuse(uint64_t token, std::string reply);

  FrontendStats stats() const;

 private:
  struct Pending;
  void Dispatch(rpc::ConnId conn, Request&& req, rpc::NetPort& port);
  void Send(const std::shared_ptr<Pending>& p, size_t index, const KvOp& op, size_t shard);
  void Finish(Pending& p);
  std::string Format(const Pending& p);
  std::string FormatStats(const Pending& p);

  ShardSet shards_;
  ParseLimits limits_;
  const int64_t started_s_;

  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending_;  // by request id >> 12
  uint64_t next_pending_ = 1;
  struct Connection {
    size_t swallow = 0;  // bytes of a refused data block still to discard
  };
  std::unordered_map<rpc::ConnId, Connection> connections_;  // port thread only

  mutable std::mutex stats_mu_;
  FrontendStats stats_;
  // Counted on the port's thread without stats_mu_ (one lock fewer per op).
  std::atomic<uint64_t> ops_inline_{0};
  std::atomic<uint64_t> ops_posted_{0};
};

}  // namespace wave::kv
