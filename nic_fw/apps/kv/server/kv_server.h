// The key-value store as wave-nicd runs it: memtable shard actors in the NIC runtime, the
// memcached front end, and the network port that feeds it. Start() creates the shards and
// opens the port; the destructor closes the port's input first, then stops taking the shards'
// replies, so nothing is answered on a connection that is gone.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/protocol/memcache_text.h"
#include "kv/server/committed_apply.h"
#include "kv/server/memcache_frontend.h"
#include "kv/server/replication_service.h"
#include "kv/server/shard_tiering.h"
#include "kv/storage/host_storage.h"
#include "rpc/net_port.h"
#include "runtime/actor.h"
#include "runtime/inline_core.h"
#include "runtime/runtime.h"

namespace wave::kv {

struct KvServerConfig {
  rpc::NetPortConfig net;
  uint32_t shards = 2;
  uint64_t shard_mem_bytes = 256ull << 20;  // each shard's DMO cap
  ParseLimits limits;
  bool replicated = false;  // then `replication` says how
  ReplicationConfig replication;
  // The LSM tier: shards flush to this host storage and read misses back from it (none: a
  // shard keeps everything in memory and refuses stores at its cap). `storage_link` is what
  // --kv's storage= named; the program opens it into `storage`.
  std::string storage_link;
  std::shared_ptr<HostStorage> storage;
  TieringConfig tiering{.flush_threshold = 0};  // 0: an eighth of the shard's memory
  // The port's thread runs a shard's handler itself when the runtime allows it (the shard is
  // on the NIC, idle, nothing of it queued), instead of handing the op to a runtime core and
  // the reply back (--kv ...,inline=0 turns it off, for comparison).
  bool run_inline = true;
};

// How the server reaches the runtime it lives in (NicRuntimeService gives all four).
struct RuntimeAccess {
  rt::Runtime* runtime = nullptr;
  rt::ActorRegistry* registry = nullptr;
  std::function<void(rt::ActorId, rt::ReplySink)> route;  // replies of an actor go to a sink
  std::function<void(rt::ActorId)> unroute;  // after it returns the sink is not called again
};

// Parses wave-nicd's --kv value: `ADDR:PORT[,udp=PORT][,shards=N][,mem=BYTES][,inline=0|1]`
// (port 0: any free port, which wave-nicd prints).
bool ParseKvOption(const std::string& text, KvServerConfig* cfg, std::string* error);

class KvServer {
 public:
  static std::unique_ptr<KvServer> Start(const KvServerConfig& cfg, RuntimeAccess access,
                                         nic::Status* status);
  ~KvServer();
  KvServer(const KvServer&) = delete;
  KvServer& operator=(const KvServer&) = delete;

  int tcp_port() const { return port_->tcp_port(); }
  int udp_port() const { return port_->udp_port(); }
  const std::vector<rt::ActorId>& shards() const { return shards_; }
  FrontendStats frontend_stats() const { return frontend_->stats(); }
  rpc::NetPortStats net_stats() const { return port_->stats(); }
  // The STAT lines of "stats wave" (what `wavectl kv status` shows).
  std::string WaveStats() const;

 private:
  KvServer() = default;
  RuntimeAccess access_;
  std::vector<rt::ActorId> shards_;
  std::unique_ptr<MemcacheFrontend> frontend_;
  std::unique_ptr<rpc::NetPort> port_;
  std::shared_ptr<HostStorage> storage_;
  std::unique_ptr<ShardTiering> tiering_;
  std::unique_ptr<ReplicationService> replication_;
  std::function<std::string()> replication_stats_;  // STAT repl.* lines, when replicated
  // Committed writes into the shards, in op order (replicated only). It sees every shard
  // reply before the front end; destroyed last, after everything that may still reply.
  std::unique_ptr<CommittedApplier> applier_;
  // Run to completion on the port's thread (cfg.run_inline): the runtime's core slot that
  // thread uses, and where the replies it gets go (the same route the runtime's replies take).
  // Used by the port's thread only; closed after the port has stopped, before the shards go.
  std::unique_ptr<rt::InlineCore> port_core_;
  rt::ReplySink deliver_;
  rt::Reply inline_reply_;  // the run's reply, moved on to deliver_ (its payload goes with it)
  // The destructor closes the inline path before it takes the reply routes away: the port's
  // thread marks itself busy, then checks closed; the destructor sets closed, then waits
  // until the thread is not busy (both sequentially consistent, so one of them sees the other).
  std::atomic<bool> inline_closed_{false};
  std::atomic<bool> inline_busy_{false};
};

}  // namespace wave::kv
