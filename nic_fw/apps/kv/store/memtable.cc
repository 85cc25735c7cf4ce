#include "kv/store/memtable.h"

#include <charconv>
#include <cstring>
#include <type_traits>
#include <vector>

namespace wave::kv {
namespace {

constexpr uint64_t kRootMagic = 0x57415645'4d454d31ull;  // "WAVEMEM1"
constexpr uint32_t kHeaderMagic = 0x4b564844;            // "KVHD"
constexpr uint32_t kLayoutVersion = 1;
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

std::span<std::byte> StringBytes(std::string* s) {
  return std::as_writable_bytes(std::span<char>(s->data(), s->size()));
}

// memcached's incr/decr accept a decimal number, possibly padded with trailing spaces (its
// decr pads shorter results in place); anything else is not a number.
bool ParseCounter(const std::string& v, uint64_t* out) {
  size_t end = v.size();
  while (end > 0 && v[end - 1] == ' ')
    --end;
  if (end == 0 || end > 20)
    return false;
  auto [p, ec] = std::from_chars(v.data(), v.data() + end, *out);
  return ec == std::errc() && p == v.data() + end;
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
    if (!Live(out->item)) {
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
      if (ctx_.dmo_read(out->id, sizeof(ItemHeader), StringBytes(&candidate)) != rt::Status::kOk)
        return false;
      if (candidate == key)
        return true;
    }
    out->prev = out->id;
    out->id = out->item.next;
  }
  return false;
}

bool Memtable::ReadValue(const Found& f, std::string* value) {
  value->resize(f.item.value_len);
  return ctx_.dmo_read(f.id, sizeof(ItemHeader) + f.item.key_len, StringBytes(value)) ==
         rt::Status::kOk;
}

bool Memtable::Unlink(const Found& f) {
  rt::Status s = f.prev == rt::kNoObjectId
                     ? ctx_.store(header_.buckets, f.bucket * sizeof(rt::ObjectId), f.item.next)
                     : ctx_.store(f.prev, offsetof(ItemHeader, next), f.item.next);
  if (s != rt::Status::kOk || ctx_.dmo_free(f.id) != rt::Status::kOk)
    return false;
  --header_.stats.items;
  header_.stats.bytes -= f.item.key_len + f.item.value_len;
  return true;
}

KvResult Memtable::Store(const KvOp& op, uint64_t hash, const Found* old, uint32_t flags,
                         int64_t expires_at, const std::string& value) {
  KvResult r;
  ItemHeader item{};
  item.hash = hash;
  item.cas = header_.next_cas++;
  item.expires_at = expires_at;
  item.stored_at = now_;
  item.flags = flags;
  item.key_len = static_cast<uint32_t>(op.key.size());
  item.value_len = static_cast<uint32_t>(value.size());
  std::vector<std::byte> bytes(sizeof(ItemHeader) + op.key.size() + value.size());
  std::memcpy(bytes.data() + sizeof(ItemHeader), op.key.data(), op.key.size());
  std::memcpy(bytes.data() + sizeof(ItemHeader) + op.key.size(), value.data(), value.size());

  rt::ObjectId id;
  rt::Status s = ctx_.dmo_malloc(bytes.size(), &id);
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
  std::memcpy(bytes.data(), &item, sizeof(item));
  if (ctx_.dmo_write(id, 0, bytes) != rt::Status::kOk ||
      ctx_.store(header_.buckets, slot_off, id) != rt::Status::kOk)
    return r;
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

bool Memtable::FreeAll() {
  std::vector<rt::ObjectId> heads(header_.bucket_count);
  if (ctx_.dmo_read(header_.buckets, 0, std::as_writable_bytes(std::span(heads))) !=
      rt::Status::kOk)
    return false;
  ItemHeader item;
  for (rt::ObjectId id : heads) {
    while (id != rt::kNoObjectId) {
      if (ctx_.load(id, 0, &item) != rt::Status::kOk || ctx_.dmo_free(id) != rt::Status::kOk)
        return false;
      ++header_.stats.flushed;
      id = item.next;
    }
  }
  header_.stats.items = 0;
  header_.stats.bytes = 0;
  header_.flush_at = 0;
  return ctx_.dmo_memset(header_.buckets, 0, 0, header_.bucket_count * sizeof(rt::ObjectId)) ==
         rt::Status::kOk;
}

KvResult Memtable::Get(const KvOp& op, uint64_t hash, bool touch) {
  KvResult r;
  Found f;
  if (!Find(op.key, hash, &f)) {
    ++header_.stats.get_misses;
    r.code = KvResultCode::kMiss;
    return r;
  }
  if (touch) {
    f.item.expires_at = AbsoluteExpiry(op.exptime);
    if (ctx_.store(f.id, offsetof(ItemHeader, expires_at), f.item.expires_at) != rt::Status::kOk)
      return r;
    ++header_.stats.touches;
  }
  if (!ReadValue(f, &r.value))
    return r;
  ++header_.stats.get_hits;
  r.code = KvResultCode::kHit;
  r.flags = f.item.flags;
  r.cas = f.item.cas;
  return r;
}

KvResult Memtable::Update(const KvOp& op, uint64_t hash) {
  KvResult r;
  Found f;
  const bool found = Find(op.key, hash, &f);
  const int64_t expires_at = AbsoluteExpiry(op.exptime);
  switch (op.code) {
    case KvOpCode::kSet:
      ++header_.stats.sets;
      return Store(op, hash, found ? &f : nullptr, op.flags, expires_at, op.value);
    case KvOpCode::kAdd:
    case KvOpCode::kReplace:
      ++header_.stats.sets;
      if (found == (op.code == KvOpCode::kAdd)) {
        r.code = KvResultCode::kNotStored;
        return r;
      }
      return Store(op, hash, found ? &f : nullptr, op.flags, expires_at, op.value);
    case KvOpCode::kAppend:
    case KvOpCode::kPrepend: {
      ++header_.stats.sets;
      if (!found) {
        r.code = KvResultCode::kNotStored;
        return r;
      }
      std::string value;
      if (!ReadValue(f, &value))
        return r;
      if (value.size() + op.value.size() > kMaxValueBytes) {
        r.code = KvResultCode::kTooLarge;
        return r;
      }
      value = op.code == KvOpCode::kAppend ? value + op.value : op.value + value;
      // The item keeps its flags and expiry; only the data changes.
      return Store(op, hash, &f, f.item.flags, f.item.expires_at, value);
    }
    case KvOpCode::kCas:
      if (!found) {
        ++header_.stats.cas_misses;
        r.code = KvResultCode::kNotFound;
        return r;
      }
      if (f.item.cas != op.cas_unique) {
        ++header_.stats.cas_badval;
        r.code = KvResultCode::kExists;
        return r;
      }
      ++header_.stats.cas_hits;
      return Store(op, hash, &f, op.flags, expires_at, op.value);
    case KvOpCode::kDelete:
      if (!found) {
        r.code = KvResultCode::kNotFound;
        return r;
      }
      if (!Unlink(f))
        return r;
      ++header_.stats.deletes;
      r.code = KvResultCode::kDeleted;
      return r;
    case KvOpCode::kTouch:
      if (!found) {
        r.code = KvResultCode::kNotFound;
        return r;
      }
      if (ctx_.store(f.id, offsetof(ItemHeader, expires_at), expires_at) != rt::Status::kOk)
        return r;
      ++header_.stats.touches;
      r.code = KvResultCode::kTouched;
      return r;
    default:
      return r;
  }
}

KvResult Memtable::Delta(const KvOp& op, uint64_t hash) {
  KvResult r;
  Found f;
  const bool incr = op.code == KvOpCode::kIncr;
  if (!Find(op.key, hash, &f)) {
    ++(incr ? header_.stats.incr_misses : header_.stats.decr_misses);
    r.code = KvResultCode::kNotFound;
    return r;
  }
  std::string value;
  uint64_t n;
  if (!ReadValue(f, &value))
    return r;
  if (!ParseCounter(value, &n)) {
    r.code = KvResultCode::kNonNumeric;
    return r;
  }
  ++(incr ? header_.stats.incr_hits : header_.stats.decr_hits);
  // incr wraps at 2^64 and decr stops at 0, as in memcached.
  n = incr ? n + op.delta : (op.delta > n ? 0 : n - op.delta);
  r = Store(op, hash, &f, f.item.flags, f.item.expires_at, std::to_string(n));
  if (r.code == KvResultCode::kStored) {
    r.code = KvResultCode::kNumber;
    r.number = n;
  }
  return r;
}

KvResult Memtable::Execute(const KvOp& op) {
  KvResult r;
  if (!LoadHeader())
    return r;  // the actor's own memory is not a memtable: nothing is touched
  const uint64_t hash = KeyHash(op.key);
  switch (op.code) {
    case KvOpCode::kGet:
      r = Get(op, hash, false);
      break;
    case KvOpCode::kGat:
      r = Get(op, hash, true);
      break;
    case KvOpCode::kIncr:
    case KvOpCode::kDecr:
      r = Delta(op, hash);
      break;
    case KvOpCode::kFlushAll:
      if (op.delay_s > 0) {
        header_.flush_at = now_ + op.delay_s;
        r.code = KvResultCode::kOk;
      } else if (FreeAll()) {
        r.code = KvResultCode::kOk;
      }
      break;
    case KvOpCode::kShardStats:
      r.code = KvResultCode::kOk;
      r.has_stats = true;
      r.stats = header_.stats;
      break;
    default:
      r = Update(op, hash);
      break;
  }
  if (r.code == KvResultCode::kBadRequest)
    ++header_.stats.bad_requests;
  if (!StoreHeader())
    r.code = KvResultCode::kBadRequest;
  return r;
}

}  // namespace wave::kv
