// The memtable: one shard of the key-value store, kept entirely in the DMOs of the actor that
// owns it, so the runtime can migrate it to the host and back like any other actor state.
//
// Layout (every piece is a DMO of the actor; ids stay valid across migration):
//   root (64 B)   magic, the header's id
//   header        bucket array id and size, the cas counter, the pending flush_all time, the
//                 shard's counters
//   buckets       bucket_count object ids, each the head of a chain of items
//   item          ItemHeader, key bytes, value bytes; one DMO per item, freed on overwrite
//
// Semantics are memcached's: exptime 0 never expires, up to 30 days is relative, beyond is
// absolute Unix time, negative is already expired; expired and flushed items are freed when a
// lookup finds them. A shard that reaches its memory cap refuses stores (kOutOfMemory).
#pragma once

#include <cstdint>

#include "kv/store/kv_message.h"
#include "runtime/actor.h"

namespace wave::kv {

struct MemtableConfig {
  uint64_t initial_buckets = 1 << 12;  // a power of two; doubled when items exceed 1.5x
};

class Memtable {
 public:
  // Builds an empty memtable in the actor's DMOs (the actor type's init).
  static rt::Status Create(rt::ActorContext& ctx, const MemtableConfig& cfg);

  // `now_s` is the Unix time the operation runs at.
  Memtable(rt::ActorContext& ctx, int64_t now_s) : ctx_(ctx), now_(now_s) {}
  // Runs one operation; a DMO call that fails (the runtime then quarantines the actor) gives
  // kBadRequest with the failure counted.
  KvResult Execute(const KvOp& op);

 private:
  // The header object. Trivially copyable: read and written whole through the DMO calls.
  struct Header {
    uint32_t magic;
    uint32_t version;
    rt::ObjectId buckets;
    uint64_t bucket_count;
    uint64_t next_cas;
    int64_t flush_at;  // a delayed flush_all: items stored up to then die at then (0: none)
    ShardStats stats;
  };
  struct ItemHeader {
    rt::ObjectId next;
    uint64_t hash;
    uint64_t cas;
    int64_t expires_at;  // Unix seconds, 0: never
    int64_t stored_at;
    uint32_t flags;
    uint32_t key_len;
    uint32_t value_len;
    uint32_t reserved;
  };
  // Where a lookup found an item: the item, its header, and the link that points at it.
  struct Found {
    rt::ObjectId id = rt::kNoObjectId;
    rt::ObjectId prev = rt::kNoObjectId;  // kNoObjectId: the bucket slot points at it
    uint64_t bucket = 0;
    ItemHeader item{};
  };

  bool LoadHeader();
  bool StoreHeader();
  int64_t AbsoluteExpiry(int64_t exptime) const;
  bool Live(const ItemHeader& item) const;
  // Finds the live item of `key`, freeing the expired or flushed items it meets on the way.
  bool Find(const std::string& key, uint64_t hash, Found* out);
  bool ReadValue(const Found& f, std::string* value);
  // Allocates and fills an item and puts it in place of `old` (if any) at its chain's head.
  KvResult Store(const KvOp& op, uint64_t hash, const Found* old, uint32_t flags,
                 int64_t expires_at, const std::string& value);
  bool Unlink(const Found& f);
  bool FreeAll();
  bool MaybeGrow();

  KvResult Get(const KvOp& op, uint64_t hash, bool touch);
  KvResult Update(const KvOp& op, uint64_t hash);
  KvResult Delta(const KvOp& op, uint64_t hash);

  rt::ActorContext& ctx_;
  int64_t now_;
  rt::ObjectId header_id_ = rt::kNoObjectId;
  Header header_{};  // loaded at the start of Execute, stored back at its end
};

}  // namespace wave::kv
