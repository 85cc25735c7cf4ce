// Replication of the store's writes across NIC instances: each wave-nicd of a replicated store
// runs one replica of the Viewstamped Replication log (kv/replication), its peers reached
// through an rpc::PeerMesh, its log in a file. A write goes into the log on the primary and
// reaches the memtable shards (on every replica, in log order) only once a majority holds
// it, so a write is acknowledged to its client only when a majority has it. A replica that
// restarts replays its own log, then catches up from the others.
//
// Thread: one replication thread owns the replica (it is not thread-safe); peers' frames,
// client submissions and ticks reach it through a queue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/store/kv_message.h"

namespace wave::kv {

struct ReplicationConfig {
  uint32_t self = 0;
  std::vector<std::string> peers;  // every replica's peer ADDR:PORT, by index
  std::string log_path;            // this replica's log file
  uint32_t tick_ms = 10;
  uint32_t heartbeat_ticks = 5;     // the primary's commit/heartbeat period
  uint32_t view_change_ticks = 30;  // a backup that hears nothing this long starts a view change
};

// Parses wave-nicd's --kv-replicas value: `INDEX@ADDR:PORT,ADDR:PORT,ADDR:PORT` (this
// replica's index, then every replica's peer address) and --kv-log PATH.
bool ParseReplicasOption(const std::string& text, ReplicationConfig* cfg, std::string* error);

class ReplicationService {
 public:
  // A committed write, in log order, on every replica. `token` is the submitting client
  // request on the replica that submitted it in this incarnation, 0 otherwise.
  using Apply = std::function<void(const KvOp& op, uint64_t token)>;

  // `refused`: a submitted write that the replica could not take after all (it stopped
  // being the primary in between, or the write is over the log's entry bound); the caller
  // answers its client with `reply`.
  using Refused = std::function<void(uint64_t token, std::string reply)>;
  static std::unique_ptr<ReplicationService> Start(const ReplicationConfig& cfg, Apply apply,
                                                   Refused refused, nic::Status* status);
  ~ReplicationService();
  ReplicationService(const ReplicationService&) = delete;
  ReplicationService& operator=(const ReplicationService&) = delete;

  // Puts a write into the log (any thread). False when this replica is not the primary: the
  // caller answers the client with where the primary is.
  bool Submit(uint64_t token, const KvOp& op);
  bool IsPrimary() const;
  uint32_t Primary() const;
  const std::string& PeerAddress(uint32_t replica) const;
  // STAT repl.* lines for "stats wave".
  std::string StatLines() const;

 private:
  class Impl;
  explicit ReplicationService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wave::kv
