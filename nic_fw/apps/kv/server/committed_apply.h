// Applies the replicated log's committed writes to the shards. Every replica must apply every
// committed write, whatever its own memory holds at that moment, so a shard that has no room
// yet (its dirty items are still on their way to the host) answers kStalled instead of
// refusing, and so does every later replicated write it is sent until that one goes in. Those
// writes wait here, ordered by op number, and are posted again once nothing of theirs is still
// in the shard's mailbox: first the stalled one alone, then, once it went in, all the others.
// So each shard applies its committed writes exactly once and in op order.
//
// A write waiting here when the server stops is not lost: it is in the durable log, and a
// shard's flushed batches never claim to cover an op it has not applied (Memtable::Freeze).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kv/store/kv_message.h"
#include "runtime/message.h"
#include "runtime/status.h"

namespace wave::kv {

struct ApplyStats {
  uint64_t applied = 0;  // committed writes posted (skipped ones not counted)
  uint64_t skipped = 0;  // already in the host's tables (a replay after a restart)
  uint64_t stalls = 0;   // kStalled answers
  uint64_t reposts = 0;  // writes posted again
  uint64_t waiting = 0;  // waiting here now, over all shards
};

class CommittedApplier {
 public:
  using Post = std::function<rt::Status(rt::Message&&)>;
  using ShardOf = std::function<size_t(const std::string& key)>;
  CommittedApplier(std::vector<rt::ActorId> shards, Post post, ShardOf shard_of);
  ~CommittedApplier();
  CommittedApplier(const CommittedApplier&) = delete;
  CommittedApplier& operator=(const CommittedApplier&) = delete;

  // Before the first Apply: per shard, the replicated op up to which the host's tables hold
  // every write (a replay after a restart does not post those again).
  void SetCovered(std::vector<uint64_t> covered) { covered_ = std::move(covered); }
  // One committed write, in commit order (the replication thread). `token` names the client
  // request waiting for it (0: none here; a flush_all's token gets the shard index or'ed in).
  void Apply(const KvOp& op, uint64_t token);
  // Every reply of every shard, before the front end sees it. True: it was a kStalled answer
  // to one of the writes here, which will be posted again (the caller drops the reply).
  bool OnReply(const rt::Reply& reply);
  // A flush of `shard` landed: room may have come, try its waiting writes now.
  void OnRoom(size_t shard);
  // After Stop nothing is posted any more (the shards are about to go); replies still count.
  void Stop();

  // Writes of `shard` waiting here (the primary stops taking new writes for a shard that has
  // too many).
  size_t Waiting(size_t shard) const;
  ApplyStats stats() const;
  std::string StatLines() const;  // "stats wave" lines (apply.*)

 private:
  struct Write {
    uint64_t op_number;
    uint64_t request_id;
    std::vector<std::byte> payload;
    bool reposted;  // it was answered kStalled before
  };
  struct ShardState {
    std::unordered_map<uint64_t, Write> in_mailbox;  // posted, not answered, by request id
    std::map<uint64_t, Write> waiting;               // answered kStalled, by op number
    bool probe_ok = false;  // the last write posted again went in: post the rest together
  };
  size_t IndexOf(rt::ActorId actor) const;
  void RetryLoop();

  const std::vector<rt::ActorId> shards_;
  std::vector<uint64_t> covered_;
  Post post_;
  ShardOf shard_of_;
  uint64_t next_background_id_ = 1ull << 63;  // the replication thread's alone

  // post_mu_ keeps posts in order (Apply and the retry thread); it is taken before mu_, and mu_
  // is never held across a post (a refused post answers at once, through OnReply).
  std::mutex post_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ShardState> state_;
  ApplyStats stats_;
  bool room_ = false;
  bool stop_ = false;
  std::thread retry_;
};

}  // namespace wave::kv
