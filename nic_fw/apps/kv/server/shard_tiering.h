// The server's half of the memtables' LSM tier (store/memtable.h): it sits between the shards
// and the front end on the reply path. When a shard's reply says it wants a flush, it asks
// the shard for a frozen batch, hands the batch to the host storage and tells the shard how
// that went; when a shard parks an op on a key it lacks, it looks the key up on the host and
// brings the answer back, then passes the parked ops' results on as ordinary replies. Parked
// replies themselves never reach the front end.
//
// Nothing waits forever: an op parked on a key whose lookup cannot complete (the host storage
// failed, the shard went away) is answered as failed here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kv/storage/host_storage.h"
#include "kv/store/kv_message.h"
#include "runtime/message.h"
#include "runtime/status.h"

namespace wave::kv {

struct TieringConfig {
  uint64_t flush_threshold = 1 << 20;  // dirty bytes of a shard that call for a flush
  uint64_t batch_max = 192 << 10;      // bytes of one batch
};

struct TieringStats {
  uint64_t freezes = 0;         // batches the shards froze
  uint64_t flushed = 0;         // of them, held by the host
  uint64_t flush_failures = 0;  // the host storage refused or did not answer
  uint64_t flushed_bytes = 0;
  uint64_t lookups = 0;         // keys looked up on the host for parked ops
  uint64_t direct_lookups = 0;  // of them, gets answered from the host without parking
  uint64_t lookup_failures = 0;
  uint64_t parked_answered = 0;  // parked ops whose results were passed on
  uint64_t parked_failed = 0;    // parked ops answered as failed here
  uint64_t refetches = 0;        // host answers sent again (no room for them the first time)
};

class ShardTiering {
 public:
  using Post = std::function<rt::Status(rt::Message&&)>;
  // `storage` outlives this object; `downstream` gets every reply meant for the front end.
  ShardTiering(HostStorage& storage, std::vector<rt::ActorId> shards, Post post,
               rt::ReplySink downstream, TieringConfig cfg);
  ~ShardTiering();
  ShardTiering(const ShardTiering&) = delete;
  ShardTiering& operator=(const ShardTiering&) = delete;

  // Before clients, with the shards' replies already routed to OnReply: asks the host what it
  // holds for each shard and turns each shard's tier on. Per shard, the replicated op up to
  // which the host's tables already hold every write (a replay may skip up to it).
  Result<std::vector<uint64_t>> Start();

  // Every reply of every shard comes here.
  void OnReply(rt::Reply&& reply);
  // Before Start: told, on the shards' reply threads, each time a shard's flush finished
  // (its items may be evicted now, so a write that found no room may find some).
  void SetFlushListener(std::function<void(size_t shard)> listener) {
    flush_listener_ = std::move(listener);
  }

  TieringStats stats() const;
  // "stats wave" lines (tier.*).
  std::string StatLines() const;

 private:
  struct Shared;  // what the storage's callbacks may still reach after this object is gone
  enum class Kind : uint8_t { kEnable, kFreeze, kFlushDone, kFetched };
  struct Outstanding {
    Kind kind;
    size_t shard;
    std::string key;                      // kFetched
    std::shared_ptr<const KvOp> fetched;  // kFetched: the answer, to send again if stalled
  };
  size_t ShardIndex(rt::ActorId actor) const;
  void RequestFreeze(size_t shard);
  void OnFrozen(size_t shard, const rt::Reply& reply);
  void OnParked(size_t shard, uint64_t request_id, std::string key, bool first);
  // A get the shard had no room to park: answered from the host's answer alone.
  void AnswerFromHost(size_t shard, uint64_t request_id, std::string key);
  void OnFetchedReply(const Outstanding& o, const rt::Reply& reply);
  // Answers every op still parked on `key` of `shard` as failed.
  void FailParked(size_t shard, const std::string& key);
  uint64_t PostTierOp(size_t shard, Kind kind, KvOp&& op, std::string key = {});

  HostStorage& storage_;
  std::vector<rt::ActorId> shards_;
  Post post_;
  rt::ReplySink downstream_;
  TieringConfig cfg_;
  std::shared_ptr<Shared> shared_;

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Outstanding> outstanding_;  // tier ops posted, by request id
  // Ops parked per shard and key, in the order they parked (answered by one kFetched).
  std::vector<std::map<std::string, std::vector<uint64_t>>> parked_;
  // Ops answered from a kFetched reply before their own parked reply was seen (two runtime
  // cores may deliver one shard's consecutive replies in either order).
  std::set<uint64_t> early_answered_;
  std::vector<uint8_t> freezing_;
  std::vector<uint64_t> retry_after_ns_;  // a shard whose flush failed waits before the next
  std::vector<uint64_t> backoff_ns_;
  // Answers a shard had no room for while committed writes waited on their keys; sent again
  // when the shard's next flush finishes.
  std::vector<std::vector<KvOp>> refetch_;
  TieringStats stats_;
  std::function<void(size_t shard)> flush_listener_;
  // Start's wait for the shards' acknowledgements.
  std::function<void(uint64_t request_id, bool ok)> on_enabled_;
};

}  // namespace wave::kv
