// The memtable: one shard of the key-value store, kept entirely in the DMOs of the actor that
// owns it, so the runtime can migrate it to the host and back like any other actor state.
//
// Layout (every piece is a DMO of the actor; ids stay valid across migration):
//   root (64 B)   magic, the header's id
//   header        bucket array id and size, the cas counter, the pending flush_all time, the
//                 shard's counters
//   buckets       bucket_count object ids, each the head of a chain of items
//   item          ItemHeader, key bytes, value bytes; one DMO per item, freed on overwrite
//   parked ops    (while a key is looked up on the host) the ops waiting for it
//
// The LSM tier (memtable_tier.cc, on once the server sends kTierEnable): every item is also on
// a list in the order it was written. kFreeze copies the oldest dirty items into a flush batch
// for the host (flush_batch.h); once the host acknowledges the batch (kFlushDone) its items
// are clean and may be evicted, oldest first, when the shard needs room. A delete leaves a
// tombstone that goes to the host too, so an older value there stays hidden. An op on a key
// the memtable does not hold, while the host may hold it, parks on a placeholder item until
// the host's answer (kFetched) brings the value back; later ops on that key park behind it, so
// every key's ops still run in arrival order.
//
// Semantics are memcached's: exptime 0 never expires, up to 30 days is relative, beyond is
// absolute Unix time, negative is already expired; expired and flushed items are freed when a
// lookup finds them. A shard that reaches its memory cap refuses stores (kOutOfMemory).
#pragma once

#include <cstdint>
#include <span>
#include <string>

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
  // `request_id` names the request in parked results (kFetched's reply).
  KvResult Execute(const KvOp& op, uint64_t request_id = 0);

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
    // The LSM tier.
    uint32_t tier_enabled;
    uint32_t shard_index;  // names the shard's tables on the host
    uint32_t inflight_replaces;
    uint32_t parked_writes;   // replicated writes parked now (the covered op waits for them)
    uint64_t floor_gen;       // host values of older generations are dead (a flush_all)
    int64_t host_dropped_at;  // the delayed flush_all already applied to the host's values
    uint64_t inflight_items;
    uint32_t host_live;        // the host may hold live values: misses must ask it
    uint32_t replace_pending;  // a flush_all happened: the next batch replaces older ones
    uint32_t inflight_has_entries;
    uint64_t flush_threshold;  // dirty bytes that call for a flush
    uint64_t batch_max;        // bytes of one batch
    uint64_t next_gen;         // the generation the next freeze gets
    uint64_t acked_gen;        // the newest generation the host holds
    uint64_t inflight_gen;     // the batch out now (0: none)
    uint64_t inflight_last_op;
    uint64_t last_op;     // the newest replicated op applied
    uint64_t stalled_op;  // a replicated write that found no room: later ones wait behind it
    rt::ObjectId list_head, list_tail;  // every item, oldest write first
    rt::ObjectId cursor;                // the first item not yet frozen (kNoObjectId: none)
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
    uint32_t kind;  // kItemValue, kItemTombstone, kItemPlaceholder
    // The tier: the write-order list, the generation the item was frozen in (0: dirty; clean
    // once <= acked_gen), the replicated op that wrote it, and a placeholder's parked ops.
    rt::ObjectId list_prev, list_next;
    uint64_t frozen_gen;
    uint64_t op;
    rt::ObjectId parked;
  };
  static constexpr uint32_t kItemValue = 0;
  static constexpr uint32_t kItemTombstone = 1;
  static constexpr uint32_t kItemPlaceholder = 2;
  // Where a lookup found an item: the item, its header, and the link that points at it.
  struct Found {
    rt::ObjectId id = rt::kNoObjectId;
    rt::ObjectId prev = rt::kNoObjectId;  // kNoObjectId: the bucket slot points at it
    uint64_t bucket = 0;
    ItemHeader item{};
    // With the tier on, Find also returns what says "absent" for sure (a tombstone, an
    // expired or flushed item: the host must not be asked) and a placeholder.
    bool dead = false;
    bool placeholder() const { return item.kind == kItemPlaceholder; }
    bool live() const { return !dead && item.kind == kItemValue; }
  };

  static std::span<std::byte> StringBytesOf(std::string* s) {
    return std::as_writable_bytes(std::span<char>(s->data(), s->size()));
  }
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
  // Gives a found item a new expiry (op.exptime); `value` is its value.
  bool Retouch(const KvOp& op, uint64_t hash, const Found& f, const std::string& value);
  bool FreeAll();
  // Frees every item the delayed flush_all in effect killed.
  bool ReapFlushed();
  bool MaybeGrow();

  // The ops on one key, after the tier had its say (Execute).
  KvResult RunKeyOp(const KvOp& op, uint64_t hash);
  KvResult Get(const KvOp& op, uint64_t hash, bool touch);
  KvResult Update(const KvOp& op, uint64_t hash);
  KvResult Delta(const KvOp& op, uint64_t hash);

  // The tier (memtable_tier.cc).
  KvResult EnableTier(const KvOp& op);
  // An op on a key that is not here while the host may hold it parks (true, *r set).
  bool MaybePark(const KvOp& op, uint64_t hash, uint64_t request_id, KvResult* r);
  bool Park(const Found& placeholder, const KvOp& op, uint64_t request_id);
  KvResult Fetched(const KvOp& op, uint64_t hash);
  KvResult Freeze();
  KvResult FlushDone(const KvOp& op);
  bool RewindFrozen(uint64_t gen);
  // A flush_all: the host's values are dead; the next batch replaces them.
  void DropHostValues();
  // Frees clean items, oldest first, until `bytes` are free or none is left (false: a DMO
  // call failed).
  bool EvictClean(uint64_t bytes, bool* freed_any);
  // dmo_malloc that, with the tier on, evicts clean items for room; *evicted if it did.
  rt::Status AllocRoom(uint64_t size, rt::ObjectId* id, bool* evicted);
  // No room to park `op` on a new placeholder: a plain get goes to the host unparked
  // (kParked, number 2), anything else is refused (kOutOfMemory). Returns true.
  bool LookUpWithoutParking(const KvOp& op, KvResult* r);
  // A kFetched whose answer found no room while committed writes wait on the key: puts the
  // parked ops back on its placeholder (the caller answers kStalled; the server resends).
  bool KeepParked(const std::string& key, uint64_t hash, std::span<const std::byte> list);
  bool ListAppend(rt::ObjectId id, ItemHeader* item);
  bool ListRemove(rt::ObjectId id, const ItemHeader& item);
  bool Clean(const ItemHeader& item) const {
    return item.frozen_gen != 0 && item.frozen_gen <= header_.acked_gen;
  }
  bool WantsFlush() const;
  // Removes an item that is being replaced or freed from the tier's list and counters.
  bool ForgetInTier(rt::ObjectId id, const ItemHeader& item);

  rt::ActorContext& ctx_;
  int64_t now_;
  uint64_t op_number_ = 0;        // of the op running now
  bool tombstone_store_ = false;  // Store writes a tombstone (the tier's delete)
  bool install_clean_ = false;    // Store installs a value the host holds (not dirty)
  uint64_t cas_override_ = 0;     // Store keeps this cas instead of a new one
  bool no_reap_ = false;          // Find leaves dead items where they are
  bool oom_with_dirty_ = false;   // a store was refused while dirty items could be flushed
  rt::ObjectId header_id_ = rt::kNoObjectId;
  Header header_{};  // loaded at the start of Execute, stored back at its end
};

}  // namespace wave::kv
