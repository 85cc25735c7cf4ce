#include "kv/store/memtable.h"

#include <cstring>
#include <type_traits>
#include <vector>

namespace wave::kv {
namespace {

constexpr uint64_t kRootMagic = 0x57415645'4d454d31ull;  // "WAVEMEM1"
constexpr uint32_t kHeaderMagic = 0x4b564844;            // "KVHD"
constexpr uint32_t kLayoutVersion = 3;
constexpr uint64_t kMaxBuckets = 1ull << 24;
// memcached's rule: an exptime beyond 30 days is an absolute Unix time.
constexpr int64_t kRelativeExpiryLimit = 60 * 60 * 24 * 30;

struct Root {
  uint64_t magic;
  rt::ObjectId header;
};

template <typename T>
std::span<std::byte> AsBytes(T* v) {
  static_assert(std::is_trivially_copyable_v<T>);
  return std::as_writable_bytes(std::span<T, 1>(v, 1));
}

template <typename T>
std::span<const std::byte> AsConstBytes(const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  return std::as_bytes(std::span<const T, 1>(&v, 1));
}

}  // namespace

rt::Status Memtable::Create(rt::ActorContext& ctx, const MemtableConfig& cfg) {
  uint64_t buckets = cfg.initial_buckets;
  if (buckets == 0 || (buckets & (buckets - 1)) != 0 || buckets > kMaxBuckets)
    return rt::Status::kInvalid;
  Header h{};
  h.magic = kHeaderMagic;
  h.version = kLayoutVersion;
  h.bucket_count = buckets;
  h.next_cas = 1;
  rt::Status s = ctx.dmo_malloc(buckets * sizeof(rt::ObjectId), &h.buckets);
  if (s != rt::Status::kOk)
    return s;
  Root root{kRootMagic, rt::kNoObjectId};
  if ((s = ctx.dmo_malloc(sizeof(Header), &root.header)) != rt::Status::kOk ||
      (s = ctx.store(root.header, 0, h)) != rt::Status::kOk)
    return s;
  return ctx.store(ctx.root(), 0, root);
}

bool Memtable::LoadHeader() {
  Root root;
  if (ctx_.load(ctx_.root(), 0, &root) != rt::Status::kOk || root.magic != kRootMagic)
    return false;
  header_id_ = root.header;
  return ctx_.load(header_id_, 0, &header_) == rt::Status::kOk && header_.magic == kHeaderMagic &&
         header_.version == kLayoutVersion && header_.bucket_count != 0 &&
         (header_.bucket_count & (header_.bucket_count - 1)) == 0;
}

bool Memtable::StoreHeader() {
  return ctx_.store(header_id_, 0, header_) == rt::Status::kOk;
}

int64_t Memtable::AbsoluteExpiry(int64_t exptime) const {
  if (exptime == 0)
    return 0;
  if (exptime < 0)
    return 1;  // long past: the item is born expired, as in memcached
  if (exptime > kRelativeExpiryLimit)
    return exptime;
  return now_ + exptime;
}

bool Memtable::Live(const ItemHeader& item) const {
  if (item.kind == kItemPlaceholder)
    return true;
  if (item.expires_at != 0 && item.expires_at <= now_)
    return false;
  return !(header_.flush_at != 0 && now_ >= header_.flush_at && item.stored_at <= header_.flush_at);
}

bool Memtable::Find(const std::string& key, uint64_t hash, Found* out) {
  out->bucket = hash & (header_.bucket_count - 1);
  out->prev = rt::kNoObjectId;
  if (ctx_.load(header_.buckets, out->bucket * sizeof(rt::ObjectId), &out->id) != rt::Status::kOk)
    return false;
  std::string candidate;
  while (out->id != rt::kNoObjectId) {
    if (ctx_.load(out->id, 0, &out->item) != rt::Status::kOk)
      return false;
    // With the tier on, an expired item stays until the host has it (it hides an older value
    // there); one a flush_all killed may go, because the host's values died with it.
    const bool flushed_dead = header_.flush_at != 0 && now_ >= header_.flush_at &&
                              out->item.stored_at <= header_.flush_at &&
                              out->item.kind != kItemPlaceholder;
    if (!Live(out->item) && (header_.tier_enabled == 0 || flushed_dead) && !no_reap_) {
      // Freed where it is found, like memcached's lazy expiry; the walk goes on from the
      // same predecessor.
      rt::ObjectId next = out->item.next;
      bool flushed = out->item.expires_at == 0 || out->item.expires_at > now_;
      if (!Unlink(*out))
        return false;
      ++(flushed ? header_.stats.flushed : header_.stats.expired);
      out->id = next;
      continue;
    }
    if (out->item.hash == hash && out->item.key_len == key.size()) {
      candidate.resize(key.size());
      if (ctx_.dmo_read(out->id, sizeof(ItemHeader), StringBytesOf(&candidate)) != rt::Status::kOk)
        return false;
      if (candidate == key) {
        out->dead = out->item.kind == kItemTombstone || !Live(out->item);
        return true;
      }
    }
    out->prev = out->id;
    out->id = out->item.next;
  }
  return false;
}

bool Memtable::ReadValue(const Found& f, std::string* value) {
  value->resize(f.item.value_len);
  return ctx_.dmo_read(f.id, sizeof(ItemHeader) + f.item.key_len, StringBytesOf(value)) ==
         rt::Status::kOk;
}

bool Memtable::Unlink(const Found& f) {
  rt::Status s = f.prev == rt::kNoObjectId
                     ? ctx_.store(header_.buckets, f.bucket * sizeof(rt::ObjectId), f.item.next)
                     : ctx_.store(f.prev, offsetof(ItemHeader, next), f.item.next);
  if (s != rt::Status::kOk || !ForgetInTier(f.id, f.item) || ctx_.dmo_free(f.id) != rt::Status::kOk)
    return false;
  if (f.item.kind == kItemPlaceholder)
    return true;  // never counted as an item
  if (f.item.kind == kItemTombstone)
    --header_.stats.tombstones;
  --header_.stats.items;
  header_.stats.bytes -= f.item.key_len + f.item.value_len;
  return true;
}

KvResult Memtable::Store(const KvOp& op, uint64_t hash, const Found* old, uint32_t flags,
                         int64_t expires_at, const std::string& value) {
  KvResult r;
  ItemHeader item{};
  item.hash = hash;
  item.cas = cas_override_ != 0 ? cas_override_ : header_.next_cas++;
  item.frozen_gen = install_clean_ ? header_.acked_gen : 0;
  item.kind = tombstone_store_ ? kItemTombstone : kItemValue;
  item.op = op_number_;
  item.expires_at = expires_at;
  item.stored_at = now_;
  item.flags = flags;
  item.key_len = static_cast<uint32_t>(op.key.size());
  item.value_len = static_cast<uint32_t>(value.size());
  std::vector<std::byte> bytes(sizeof(ItemHeader) + op.key.size() + value.size());
  std::memcpy(bytes.data() + sizeof(ItemHeader), op.key.data(), op.key.size());
  std::memcpy(bytes.data() + sizeof(ItemHeader) + op.key.size(), value.data(), value.size());

  rt::ObjectId id;
  bool evicted = false;
  rt::Status s = AllocRoom(bytes.size(), &id, &evicted);
  Found refound;
  // An eviction may have freed `old` or the item before it in its chain: look it up again.
  if (evicted)
    old = Find(op.key, hash, &refound) ? &refound : nullptr;
  if (s == rt::Status::kOverCap) {
    ++header_.stats.oom;
    r.code = KvResultCode::kOutOfMemory;
    return r;
  }
  if (s != rt::Status::kOk)
    return r;
  // The old item goes only once the new one has its memory, so a refused store changes nothing.
  if (old != nullptr && !Unlink(*old))
    return r;
  const uint64_t bucket = hash & (header_.bucket_count - 1);
  const uint64_t slot_off = bucket * sizeof(rt::ObjectId);
  if (ctx_.load(header_.buckets, slot_off, &item.next) != rt::Status::kOk)
    return r;
  if (header_.tier_enabled != 0 && !ListAppend(id, &item))
    return r;
  std::memcpy(bytes.data(), &item, sizeof(item));
  if (ctx_.dmo_write(id, 0, bytes) != rt::Status::kOk ||
      ctx_.store(header_.buckets, slot_off, id) != rt::Status::kOk)
    return r;
  if (item.kind == kItemTombstone)
    ++header_.stats.tombstones;
  if (header_.tier_enabled != 0 && item.frozen_gen == 0)
    header_.stats.dirty_bytes += item.key_len + item.value_len;
  ++header_.stats.items;
  header_.stats.bytes += item.key_len + item.value_len;
  if (!MaybeGrow())
    return r;
  r.code = KvResultCode::kStored;
  r.cas = item.cas;
  return r;
}

bool Memtable::MaybeGrow() {
  const uint64_t n = header_.bucket_count;
  if (header_.stats.items <= n + n / 2 || n >= kMaxBuckets)
    return true;
  std::vector<rt::ObjectId> old_heads(n);
  if (ctx_.dmo_read(header_.buckets, 0, std::as_writable_bytes(std::span(old_heads))) !=
      rt::Status::kOk)
    return false;
  rt::ObjectId grown;
  rt::Status s = ctx_.dmo_malloc(2 * n * sizeof(rt::ObjectId), &grown);
  if (s == rt::Status::kOverCap)
    return true;  // longer chains, still correct
  if (s != rt::Status::kOk)
    return false;
  std::vector<rt::ObjectId> heads(2 * n, rt::kNoObjectId);
  ItemHeader item;
  for (rt::ObjectId id : old_heads) {
    while (id != rt::kNoObjectId) {
      if (ctx_.load(id, 0, &item) != rt::Status::kOk)
        return false;
      rt::ObjectId& head = heads[item.hash & (2 * n - 1)];
      if (ctx_.store(id, offsetof(ItemHeader, next), head) != rt::Status::kOk)
        return false;
      head = id;
      id = item.next;
    }
  }
  if (ctx_.dmo_write(grown, 0, std::as_bytes(std::span(heads))) != rt::Status::kOk ||
      ctx_.dmo_free(header_.buckets) != rt::Status::kOk)
    return false;
  header_.buckets = grown;
  header_.bucket_count = 2 * n;
  return true;
}

bool Memtable::ReapFlushed() {
  for (uint64_t b = 0; b < header_.bucket_count; ++b) {
    Found f;
    f.bucket = b;
    f.prev = rt::kNoObjectId;
    if (ctx_.load(header_.buckets, b * sizeof(rt::ObjectId), &f.id) != rt::Status::kOk)
      return false;
    while (f.id != rt::kNoObjectId) {
      if (ctx_.load(f.id, 0, &f.item) != rt::Status::kOk)
        return false;
      const rt::ObjectId next = f.item.next;
      if (f.item.kind != kItemPlaceholder && f.item.stored_at <= header_.flush_at) {
        if (!Unlink(f))
          return false;
        ++header_.stats.flushed;
      } else {
        f.prev = f.id;
      }
      f.id = next;
    }
  }
  return true;
}

bool Memtable::FreeAll() {
  // Placeholders stay: the ops parked on them are answered when the host's answer comes.
  std::vector<rt::ObjectId> heads(header_.bucket_count);
  if (ctx_.dmo_read(header_.buckets, 0, std::as_writable_bytes(std::span(heads))) !=
      rt::Status::kOk)
    return false;
  ItemHeader item;
  for (rt::ObjectId& head : heads) {
    rt::ObjectId kept = rt::kNoObjectId;
    for (rt::ObjectId id = head; id != rt::kNoObjectId; id = item.next) {
      if (ctx_.load(id, 0, &item) != rt::Status::kOk)
        return false;
      if (item.kind == kItemPlaceholder) {
        if (ctx_.store(id, offsetof(ItemHeader, next), kept) != rt::Status::kOk)
          return false;
        kept = id;
        continue;
      }
      if (ctx_.dmo_free(id) != rt::Status::kOk)
        return false;
      ++header_.stats.flushed;
    }
    head = kept;
  }
  header_.stats.items = 0;
  header_.stats.bytes = 0;
  header_.stats.tombstones = 0;
  header_.stats.dirty_bytes = 0;
  header_.flush_at = 0;
  header_.list_head = header_.list_tail = header_.cursor = rt::kNoObjectId;
  return ctx_.dmo_write(header_.buckets, 0, std::as_bytes(std::span(heads))) == rt::Status::kOk;
}

KvResult Memtable::Get(const KvOp& op, uint64_t hash, bool touch) {
  KvResult r;
  Found f;
  if (!Find(op.key, hash, &f) || !f.live()) {
    ++header_.stats.get_misses;
    r.code = KvResultCode::kMiss;
    return r;
  }
  if (!ReadValue(f, &r.value))
    return r;
  if (touch) {
    if (!Retouch(op, hash, f, r.value))
      return r;
    ++header_.stats.touches;
  }
  ++header_.stats.get_hits;
  r.code = KvResultCode::kHit;
  r.flags = f.item.flags;
  r.cas = f.item.cas;
  return r;
}

bool Memtable::Retouch(const KvOp& op, uint64_t hash, const Found& f, const std::string& value) {
  const int64_t expires_at = AbsoluteExpiry(op.exptime);
  if (header_.tier_enabled == 0 || f.item.frozen_gen == 0)
    return ctx_.store(f.id, offsetof(ItemHeader, expires_at), expires_at) == rt::Status::kOk;
  // A frozen item's bytes may be on their way to the host already: the new expiry is a new
  // write (same cas, as memcached's touch keeps it), so it is flushed again.
  cas_override_ = f.item.cas;
  KvResult r = Store(op, hash, &f, f.item.flags, expires_at, value);
  cas_override_ = 0;
  return r.code == KvResultCode::kStored;
}

KvResult Memtable::RunKeyOp(const KvOp& op, uint64_t hash) {
  switch (op.code) {
    case KvOpCode::kGet:
      return Get(op, hash, false);
    case KvOpCode::kGat:
      return Get(op, hash, true);
    case KvOpCode::kIncr:
    case KvOpCode::kDecr:
      return Delta(op, hash);
    default:
      return Update(op, hash);
  }
}

KvResult Memtable::Execute(const KvOp& op, uint64_t request_id) {
  KvResult r;
  if (!LoadHeader())
    return r;  // the actor's own memory is not a memtable: nothing is touched
  if (op.op_number != 0 && header_.stalled_op != 0 && op.op_number > header_.stalled_op) {
    // Replicated writes apply in op order: this one waits until the stalled one went in.
    r.code = KvResultCode::kStalled;
    ++header_.stats.stalls;
    r.wants_flush = WantsFlush();
    if (!StoreHeader())
      r.code = KvResultCode::kBadRequest;
    return r;
  }
  op_number_ = op.op_number;
  if (header_.tier_enabled != 0 && header_.flush_at != 0 && now_ >= header_.flush_at &&
      header_.host_dropped_at != header_.flush_at) {
    header_.host_dropped_at = header_.flush_at;
    DropHostValues();
  }
  const uint64_t hash = KeyHash(op.key);
  switch (op.code) {
    case KvOpCode::kFlushAll:
      if (op.delay_s > 0) {
        // A delayed flush that already took effect stays in effect: its victims go now,
        // before the new time replaces the old (memcached would bring back the ones it had
        // not reaped yet).
        if (header_.flush_at != 0 && now_ >= header_.flush_at && !ReapFlushed())
          break;
        header_.flush_at = now_ + op.delay_s;
        r.code = KvResultCode::kOk;
      } else if (FreeAll()) {
        if (header_.tier_enabled != 0)
          DropHostValues();
        r.code = KvResultCode::kOk;
      }
      break;
    case KvOpCode::kShardStats:
      r.code = KvResultCode::kOk;
      r.has_stats = true;
      r.stats = header_.stats;
      break;
    case KvOpCode::kTierEnable:
      r = EnableTier(op);
      break;
    case KvOpCode::kFreeze:
      r = Freeze();
      break;
    case KvOpCode::kFlushDone:
      r = FlushDone(op);
      break;
    case KvOpCode::kFetched:
      r = Fetched(op, hash);
      break;
    default:
      if (!MaybePark(op, hash, request_id, &r))
        r = RunKeyOp(op, hash);
      break;
  }
  if (r.code == KvResultCode::kBadRequest)
    ++header_.stats.bad_requests;
  if (r.code == KvResultCode::kOutOfMemory && header_.stats.dirty_bytes > 0)
    oom_with_dirty_ = true;
  if (r.code == KvResultCode::kOutOfMemory && op.op_number != 0 && header_.tier_enabled != 0 &&
      (header_.stats.dirty_bytes > 0 || header_.inflight_gen != 0)) {
    // Room comes once a flush lands and its items can be evicted. Refusing the write would
    // make this replica differ from those that had room: it waits instead (nothing of it was
    // stored; the server posts it again).
    header_.stalled_op = op.op_number;
    ++header_.stats.stalls;
    r = KvResult{};
    r.code = KvResultCode::kStalled;
  } else if (op.op_number != 0) {
    if (op.op_number >= header_.stalled_op)
      header_.stalled_op = 0;
    if (op.op_number > header_.last_op)
      header_.last_op = op.op_number;
  }
  r.wants_flush = WantsFlush();
  if (!StoreHeader())
    r.code = KvResultCode::kBadRequest;
  return r;
}

}  // namespace wave::kv
