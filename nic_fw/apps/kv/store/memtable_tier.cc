// The memtable's LSM tier (memtable.h): the write-order list, freezing dirty items into flush
// batches, clean items evicted for room, tombstones, and ops parked on a key the host may hold.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kv/store/flush_batch.h"
#include "kv/store/memtable.h"

namespace wave::kv {
namespace {

constexpr uint64_t kDefaultFlushThreshold = 1 << 20;
// A batch is the reply of kFreeze, which crosses the host link in one frame when the shard
// runs on the host (the migration frames carry at most 256 KiB).
constexpr uint64_t kDefaultBatchMax = 192 << 10;
constexpr uint64_t kMaxBatchMax = 200 << 10;
// An eviction walks past at most this many items that are not clean yet.
constexpr int kEvictScanLimit = 256;

// A placeholder's parked ops: a count, then per op its request id, length and encoded op.
struct ParkedHeader {
  uint32_t count;
  uint32_t reserved;
};
struct ParkedEntry {
  uint64_t request_id;
  uint32_t len;
  uint32_t reserved;
};

// Whether a parked-op list (ParkedHeader, then ParkedEntry + encoded op each) holds a
// replicated write. A list that does not decode counts as one (the safe answer: keep it).
bool HasReplicatedWrite(std::span<const std::byte> list) {
  ParkedHeader ph{};
  if (list.size() < sizeof(ph))
    return false;
  std::memcpy(&ph, list.data(), sizeof(ph));
  size_t at = sizeof(ph);
  for (uint32_t i = 0; i < ph.count; ++i) {
    ParkedEntry e;
    if (at + sizeof(e) > list.size())
      return true;
    std::memcpy(&e, list.data() + at, sizeof(e));
    at += sizeof(e);
    KvOp parked;
    if (e.len > list.size() - at || !DecodeOp(list.subspan(at, e.len), &parked))
      return true;
    if (parked.op_number != 0)
      return true;
    at += e.len;
  }
  return false;
}

bool NeedsOldState(KvOpCode code) {
  return code != KvOpCode::kSet;
}

uint64_t ItemBytes(uint32_t key_len, uint32_t value_len) {
  return uint64_t{key_len} + value_len;
}

}  // namespace

bool Memtable::ListAppend(rt::ObjectId id, ItemHeader* item) {
  item->list_prev = header_.list_tail;
  item->list_next = rt::kNoObjectId;
  if (header_.list_tail != rt::kNoObjectId) {
    if (ctx_.store(header_.list_tail, offsetof(ItemHeader, list_next), id) != rt::Status::kOk)
      return false;
  } else {
    header_.list_head = id;
  }
  header_.list_tail = id;
  if (item->frozen_gen == 0 && header_.cursor == rt::kNoObjectId)
    header_.cursor = id;
  return true;
}

bool Memtable::ListRemove(rt::ObjectId id, const ItemHeader& item) {
  if (item.list_prev != rt::kNoObjectId) {
    if (ctx_.store(item.list_prev, offsetof(ItemHeader, list_next), item.list_next) !=
        rt::Status::kOk)
      return false;
  } else {
    header_.list_head = item.list_next;
  }
  if (item.list_next != rt::kNoObjectId) {
    if (ctx_.store(item.list_next, offsetof(ItemHeader, list_prev), item.list_prev) !=
        rt::Status::kOk)
      return false;
  } else {
    header_.list_tail = item.list_prev;
  }
  if (header_.cursor == id)
    header_.cursor = item.list_next;
  return true;
}

bool Memtable::ForgetInTier(rt::ObjectId id, const ItemHeader& item) {
  if (header_.tier_enabled == 0 || item.kind == kItemPlaceholder)
    return true;
  if (item.frozen_gen == 0)
    header_.stats.dirty_bytes -= ItemBytes(item.key_len, item.value_len);
  return ListRemove(id, item);
}

bool Memtable::WantsFlush() const {
  return header_.tier_enabled != 0 && header_.inflight_gen == 0 &&
         (header_.stats.dirty_bytes >= header_.flush_threshold || header_.replace_pending != 0 ||
          ((oom_with_dirty_ || header_.stalled_op != 0) && header_.stats.dirty_bytes > 0));
}

void Memtable::DropHostValues() {
  header_.host_live = 0;
  header_.replace_pending = 1;
  header_.floor_gen = header_.next_gen;
}

KvResult Memtable::EnableTier(const KvOp& op) {
  KvResult r;
  if (header_.tier_enabled != 0) {
    r.code = KvResultCode::kOk;  // the same shard enabled twice (a resent request)
    return r;
  }
  header_.tier_enabled = 1;
  header_.shard_index = op.flags;
  header_.acked_gen = op.delta;
  header_.next_gen = op.delta + 1;
  header_.stats.generation = op.delta;
  header_.host_live = op.delta > 0 ? 1 : 0;
  header_.flush_threshold = op.cas_unique != 0 ? op.cas_unique : kDefaultFlushThreshold;
  header_.batch_max =
      op.exptime > 0 ? std::min<uint64_t>(op.exptime, kMaxBatchMax) : kDefaultBatchMax;
  // Items written before the tier was on go on the list as dirty, in bucket order.
  std::vector<rt::ObjectId> heads(header_.bucket_count);
  if (ctx_.dmo_read(header_.buckets, 0, std::as_writable_bytes(std::span(heads))) !=
      rt::Status::kOk)
    return r;
  ItemHeader item;
  for (rt::ObjectId id : heads) {
    for (; id != rt::kNoObjectId; id = item.next) {
      if (ctx_.load(id, 0, &item) != rt::Status::kOk)
        return r;
      if (item.kind == kItemPlaceholder)
        continue;
      item.frozen_gen = 0;
      if (!ListAppend(id, &item) || ctx_.store(id, 0, item) != rt::Status::kOk)
        return r;
      header_.stats.dirty_bytes += ItemBytes(item.key_len, item.value_len);
    }
  }
  r.code = KvResultCode::kOk;
  return r;
}

bool Memtable::EvictClean(uint64_t bytes, bool* freed_any) {
  uint64_t freed = 0;
  int passed = 0;
  rt::ObjectId id = header_.list_head;
  ItemHeader item;
  std::string key;
  while (id != rt::kNoObjectId && freed < bytes && passed < kEvictScanLimit) {
    if (ctx_.load(id, 0, &item) != rt::Status::kOk)
      return false;
    const rt::ObjectId next = item.list_next;
    if (!Clean(item)) {
      ++passed;
      id = next;
      continue;
    }
    key.resize(item.key_len);
    if (ctx_.dmo_read(id, sizeof(ItemHeader), StringBytesOf(&key)) != rt::Status::kOk)
      return false;
    Found f;
    // The chain walk gives the item's predecessor; the key has exactly one entry. It must not
    // free what it meets (that could be `next`), so it reaps nothing.
    no_reap_ = true;
    const bool found = Find(key, item.hash, &f);
    no_reap_ = false;
    if (!found || f.id != id || !Unlink(f))
      return false;
    freed += sizeof(ItemHeader) + ItemBytes(item.key_len, item.value_len);
    ++header_.stats.evicted;
    *freed_any = true;
    id = next;
  }
  return true;
}

rt::Status Memtable::AllocRoom(uint64_t size, rt::ObjectId* id, bool* evicted) {
  rt::Status s = ctx_.dmo_malloc(size, id);
  // The object table counts its own overhead too, so one round may not free enough.
  for (int round = 0; s == rt::Status::kOverCap && header_.tier_enabled != 0 && round < 8;
       ++round) {
    bool freed_any = false;
    if (!EvictClean(size, &freed_any))
      return rt::Status::kInvalid;
    if (!freed_any)
      break;
    *evicted = true;
    s = ctx_.dmo_malloc(size, id);
  }
  return s;
}

bool Memtable::MaybePark(const KvOp& op, uint64_t hash, uint64_t request_id, KvResult* r) {
  if (header_.tier_enabled == 0)
    return false;
  Found f;
  const bool has_entry = Find(op.key, hash, &f);
  if (has_entry && !f.placeholder())
    return false;
  if (!has_entry && (header_.host_live == 0 || !NeedsOldState(op.code)))
    return false;
  *r = KvResult{};
  if (!has_entry) {
    // The first op on a key the host may hold: a placeholder keeps the key's place (and the
    // flush_all epoch it was asked in), and the caller looks the key up.
    ItemHeader ph{};
    ph.hash = hash;
    ph.kind = kItemPlaceholder;
    ph.key_len = static_cast<uint32_t>(op.key.size());
    ph.frozen_gen = header_.floor_gen;
    ph.stored_at = now_;
    std::vector<std::byte> bytes(sizeof(ItemHeader) + op.key.size());
    std::memcpy(bytes.data() + sizeof(ItemHeader), op.key.data(), op.key.size());
    bool evicted = false;
    rt::Status s = AllocRoom(bytes.size(), &f.id, &evicted);
    if (s == rt::Status::kOverCap)
      return LookUpWithoutParking(op, r);
    f.bucket = hash & (header_.bucket_count - 1);
    if (s != rt::Status::kOk ||
        ctx_.load(header_.buckets, f.bucket * sizeof(rt::ObjectId), &ph.next) != rt::Status::kOk)
      return true;
    std::memcpy(bytes.data(), &ph, sizeof(ph));
    if (ctx_.dmo_write(f.id, 0, bytes) != rt::Status::kOk ||
        ctx_.store(header_.buckets, f.bucket * sizeof(rt::ObjectId), f.id) != rt::Status::kOk)
      return true;
    f.item = ph;
    ++header_.stats.host_lookups;
    r->number = 1;
  }
  if (!Park(f, op, request_id)) {
    // No room for the op, or too many wait on this key already. A new placeholder goes again
    // (an eviction may have moved what is before it in its chain, so it is looked up anew).
    if (r->number == 1) {
      Found again;
      if (Find(op.key, hash, &again) && again.placeholder())
        Unlink(again);
      r->number = 0;
      return LookUpWithoutParking(op, r);
    }
    ++header_.stats.oom;
    r->code = KvResultCode::kOutOfMemory;
    return true;
  }
  r->code = KvResultCode::kParked;
  r->value = op.key;  // so the server knows which lookup its answer waits for
  return true;
}

bool Memtable::LookUpWithoutParking(const KvOp& op, KvResult* r) {
  *r = KvResult{};
  if (op.code == KvOpCode::kGet && op.op_number == 0) {
    // A plain read of a key nothing here waits on needs no place in the memtable: the server
    // answers it straight from the host's tables. A shard full of dirty items still reads.
    ++header_.stats.host_lookups;
    r->code = KvResultCode::kParked;
    r->number = 2;
    r->value = op.key;
    return true;
  }
  ++header_.stats.oom;
  r->code = KvResultCode::kOutOfMemory;
  return true;
}

bool Memtable::Park(const Found& placeholder, const KvOp& op, uint64_t request_id) {
  const std::vector<std::byte> encoded = EncodeOp(op);
  std::vector<std::byte> list(sizeof(ParkedHeader));
  ParkedHeader ph{};
  const rt::ObjectId old = placeholder.item.parked;
  if (old != rt::kNoObjectId) {
    uint64_t size;
    if (ctx_.dmo_size(old, &size) != rt::Status::kOk || size < sizeof(ParkedHeader))
      return false;
    list.resize(size);
    if (ctx_.dmo_read(old, 0, list) != rt::Status::kOk)
      return false;
    std::memcpy(&ph, list.data(), sizeof(ph));
    if (ph.count >= kMaxParkedOps)
      return false;
  }
  ParkedEntry e{request_id, static_cast<uint32_t>(encoded.size()), 0};
  const size_t at = list.size();
  list.resize(at + sizeof(e) + encoded.size());
  std::memcpy(list.data() + at, &e, sizeof(e));
  std::memcpy(list.data() + at + sizeof(e), encoded.data(), encoded.size());
  ++ph.count;
  std::memcpy(list.data(), &ph, sizeof(ph));
  rt::ObjectId id;
  bool evicted = false;
  rt::Status s = AllocRoom(list.size(), &id, &evicted);
  if (s != rt::Status::kOk || ctx_.dmo_write(id, 0, list) != rt::Status::kOk ||
      ctx_.store(placeholder.id, offsetof(ItemHeader, parked), id) != rt::Status::kOk) {
    return false;
  }
  if (old != rt::kNoObjectId && ctx_.dmo_free(old) != rt::Status::kOk)
    return false;
  ++header_.stats.parked;
  if (op.op_number != 0)
    ++header_.parked_writes;
  return true;
}

bool Memtable::KeepParked(const std::string& key, uint64_t hash, std::span<const std::byte> list) {
  // The install may have evicted items of the placeholder's chain: look it up again.
  Found f;
  if (!Find(key, hash, &f) || !f.placeholder())
    return false;
  rt::ObjectId id = rt::kNoObjectId;
  // The list's own bytes were freed just before the install: they are there to take back.
  if (!list.empty() && (ctx_.dmo_malloc(list.size(), &id) != rt::Status::kOk ||
                        ctx_.dmo_write(id, 0, list) != rt::Status::kOk))
    return false;
  return ctx_.store(f.id, offsetof(ItemHeader, parked), id) == rt::Status::kOk;
}

KvResult Memtable::Fetched(const KvOp& op, uint64_t hash) {
  KvResult r;
  Found f;
  if (header_.tier_enabled == 0 || !Find(op.key, hash, &f) || !f.placeholder()) {
    r.code = KvResultCode::kNotFound;  // an answer nobody waits for (resent, or stale)
    return r;
  }
  std::vector<std::byte> list;
  if (f.item.parked != rt::kNoObjectId) {
    uint64_t size;
    if (ctx_.dmo_size(f.item.parked, &size) != rt::Status::kOk)
      return r;
    list.resize(size);
    if (ctx_.dmo_read(f.item.parked, 0, list) != rt::Status::kOk ||
        ctx_.dmo_free(f.item.parked) != rt::Status::kOk)
      return r;
  }
  // What the host said becomes the key's entry: its value, clean (the host has it), or a clean
  // tombstone that answers the next misses without asking again. A flush_all since the
  // lookup started makes the host's value dead.
  // delta 2: the host could not be asked; the waiting ops fail rather than guess.
  const bool found = op.delta == 1 && f.item.frozen_gen == header_.floor_gen;
  KvResult installed;
  installed.code = KvResultCode::kUnavailable;
  if (op.delta != 2) {
    install_clean_ = true;
    tombstone_store_ = !found;
    cas_override_ = found ? op.cas_unique : 0;
    installed = Store(op, hash, &f, found ? op.flags : 0, found ? op.exptime : 0,
                      found ? op.value : std::string());
    install_clean_ = tombstone_store_ = false;
    cas_override_ = 0;
    if (found)
      ++header_.stats.host_hits;
  }
  if (installed.code == KvResultCode::kOutOfMemory && HasReplicatedWrite(list) &&
      (header_.stats.dirty_bytes > 0 || header_.inflight_gen != 0)) {
    // Committed writes wait on this key: failing them here would make this replica differ
    // from the others. They stay parked (and the covered op stays behind them) until a flush
    // makes room; the server sends the answer again then.
    if (!KeepParked(op.key, hash, list))
      return r;
    oom_with_dirty_ = true;
    r.code = KvResultCode::kStalled;
    return r;
  }

  std::vector<ParkedResult> results;
  ParkedHeader ph{};
  if (list.size() >= sizeof(ph))
    std::memcpy(&ph, list.data(), sizeof(ph));
  const int64_t now = now_;
  size_t at = sizeof(ph);
  for (uint32_t i = 0; i < ph.count && at + sizeof(ParkedEntry) <= list.size(); ++i) {
    ParkedEntry e;
    std::memcpy(&e, list.data() + at, sizeof(e));
    at += sizeof(e);
    ParkedResult& p = results.emplace_back();
    p.request_id = e.request_id;
    KvOp parked;
    if (e.len > list.size() - at || !DecodeOp(std::span(list.data() + at, e.len), &parked)) {
      p.result.code = KvResultCode::kBadRequest;
      break;
    }
    at += e.len;
    if (parked.op_number != 0 && header_.parked_writes > 0)
      --header_.parked_writes;
    if (installed.code == KvResultCode::kOutOfMemory && parked.code == KvOpCode::kGet &&
        parked.op_number == 0) {
      // No room to keep the host's answer, but a plain get needs only the answer itself.
      if (found) {
        p.result.code = KvResultCode::kHit;
        p.result.value = op.value;
        p.result.flags = op.flags;
        p.result.cas = op.cas_unique;
      } else {
        p.result.code = KvResultCode::kMiss;
      }
      continue;
    }
    if (installed.code != KvResultCode::kStored) {
      // No answer, or no room for it: the waiting ops fail rather than run on a wrong view.
      p.result.code = installed.code == KvResultCode::kOutOfMemory ||
                              installed.code == KvResultCode::kUnavailable
                          ? installed.code
                          : KvResultCode::kBadRequest;
      continue;
    }
    now_ = parked.now_s != 0 ? parked.now_s : now;
    op_number_ = parked.op_number;
    p.result = RunKeyOp(parked, hash);
  }
  now_ = now;
  if (installed.code != KvResultCode::kStored && Find(op.key, hash, &f) && f.placeholder())
    Unlink(f);
  r.code = KvResultCode::kOk;
  r.value = EncodeParkedResults(results);
  return r;
}

KvResult Memtable::Freeze() {
  KvResult r;
  if (header_.tier_enabled == 0 || header_.inflight_gen != 0) {
    r.code = KvResultCode::kNotStored;
    return r;
  }
  const uint64_t gen = header_.next_gen;
  std::vector<FlushEntry> entries;
  uint64_t batch_bytes = 0;
  uint64_t first_op = 0;
  rt::ObjectId id = header_.cursor;
  ItemHeader item;
  while (id != rt::kNoObjectId && batch_bytes < header_.batch_max) {
    if (ctx_.load(id, 0, &item) != rt::Status::kOk)
      return r;
    const rt::ObjectId next = item.list_next;
    if (item.frozen_gen == 0) {
      FlushEntry e;
      e.tombstone = item.kind == kItemTombstone || !Live(item);
      e.key.resize(item.key_len);
      if (!e.tombstone)
        e.value.resize(item.value_len);
      if (ctx_.dmo_read(id, sizeof(ItemHeader), StringBytesOf(&e.key)) != rt::Status::kOk ||
          (!e.tombstone && ctx_.dmo_read(id, sizeof(ItemHeader) + item.key_len,
                                         StringBytesOf(&e.value)) != rt::Status::kOk))
        return r;
      e.flags = item.flags;
      e.exptime = static_cast<uint64_t>(std::max<int64_t>(item.expires_at, 0));
      e.cas = item.cas;
      batch_bytes += FlushEntryBytes(e.key.size(), e.value.size());
      entries.push_back(std::move(e));
      if (item.op != 0 && (first_op == 0 || item.op < first_op))
        first_op = item.op;
      header_.stats.dirty_bytes -= ItemBytes(item.key_len, item.value_len);
      if (ctx_.store(id, offsetof(ItemHeader, frozen_gen), gen) != rt::Status::kOk)
        return r;
    }
    id = next;
  }
  header_.cursor = id;
  if (entries.empty() && header_.replace_pending == 0) {
    r.code = KvResultCode::kNotStored;
    return r;
  }
  // Every replicated op up to last_op is in this batch or an older one only when no dirty item
  // is left behind and no write waits parked or stalled.
  uint64_t covered = header_.stats.covered_op;
  if (header_.cursor == rt::kNoObjectId && header_.parked_writes == 0 && header_.stalled_op == 0)
    covered = header_.last_op;
  FlushBatchWriter writer({.shard = header_.shard_index,
                           .generation = gen,
                           .first_op = std::min(first_op != 0 ? first_op : covered, covered),
                           .last_op = covered,
                           .replaces_older = header_.replace_pending != 0});
  for (FlushEntry& e : entries) {
    if (!writer.Add(std::move(e)))
      return r;
  }
  Result<std::vector<std::byte>> bytes = writer.Encode();
  if (!bytes.ok())
    return r;
  header_.inflight_gen = gen;
  header_.next_gen = gen + 1;
  header_.inflight_items = entries.size();
  header_.inflight_has_entries = entries.empty() ? 0 : 1;
  header_.inflight_replaces = header_.replace_pending;
  header_.inflight_last_op = covered;
  ++header_.stats.freezes;
  r.code = KvResultCode::kOk;
  r.number = gen;
  r.value.assign(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  return r;
}

KvResult Memtable::FlushDone(const KvOp& op) {
  KvResult r;
  const uint64_t gen = op.delta;
  if (header_.tier_enabled == 0 || gen == 0 || gen != header_.inflight_gen) {
    r.code = KvResultCode::kNotFound;
    return r;
  }
  header_.inflight_gen = 0;
  if (op.flags == 1) {
    header_.acked_gen = gen;
    header_.stats.generation = gen;
    header_.stats.flushed_items += header_.inflight_items;
    if (gen >= header_.floor_gen) {
      if (header_.inflight_has_entries != 0)
        header_.host_live = 1;
      if (header_.inflight_replaces != 0)
        header_.replace_pending = 0;
    }
    header_.stats.covered_op = std::max(header_.stats.covered_op, header_.inflight_last_op);
  } else {
    ++header_.stats.flush_failures;
    if (!RewindFrozen(gen))
      return r;
  }
  r.code = KvResultCode::kOk;
  return r;
}

bool Memtable::RewindFrozen(uint64_t gen) {
  // The batch's items are dirty again; the cursor goes back to the first of them.
  rt::ObjectId first_dirty = rt::kNoObjectId;
  ItemHeader item;
  for (rt::ObjectId id = header_.list_head; id != rt::kNoObjectId; id = item.list_next) {
    if (ctx_.load(id, 0, &item) != rt::Status::kOk)
      return false;
    if (item.frozen_gen == gen) {
      item.frozen_gen = 0;
      if (ctx_.store(id, offsetof(ItemHeader, frozen_gen), item.frozen_gen) != rt::Status::kOk)
        return false;
      header_.stats.dirty_bytes += ItemBytes(item.key_len, item.value_len);
    }
    if (item.frozen_gen == 0 && first_dirty == rt::kNoObjectId)
      first_dirty = id;
  }
  header_.cursor = first_dirty;
  return true;
}

}  // namespace wave::kv
