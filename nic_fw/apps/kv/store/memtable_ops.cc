// The memtable's write operations (memtable.h): memcached's storage commands, delete, touch,
// incr and decr.
#include <charconv>
#include <string>

#include "kv/store/memtable.h"

namespace wave::kv {
namespace {

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

KvResult Memtable::Update(const KvOp& op, uint64_t hash) {
  KvResult r;
  Found f;
  const bool has_entry = Find(op.key, hash, &f);
  const bool found = has_entry && f.live();
  const Found* old = has_entry ? &f : nullptr;  // a dead entry is replaced too
  const int64_t expires_at = AbsoluteExpiry(op.exptime);
  switch (op.code) {
    case KvOpCode::kSet:
      ++header_.stats.sets;
      return Store(op, hash, old, op.flags, expires_at, op.value);
    case KvOpCode::kAdd:
    case KvOpCode::kReplace:
      ++header_.stats.sets;
      if (found == (op.code == KvOpCode::kAdd)) {
        r.code = KvResultCode::kNotStored;
        return r;
      }
      return Store(op, hash, old, op.flags, expires_at, op.value);
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
      if (header_.tier_enabled != 0) {
        // The host may hold an older value: a tombstone hides it, and goes there too.
        tombstone_store_ = true;
        r = Store(op, hash, &f, 0, 0, std::string());
        tombstone_store_ = false;
        if (r.code != KvResultCode::kStored)
          return r;
        r = KvResult{};
      } else if (!Unlink(f)) {
        return r;
      }
      ++header_.stats.deletes;
      r.code = KvResultCode::kDeleted;
      return r;
    case KvOpCode::kTouch:
      if (!found) {
        r.code = KvResultCode::kNotFound;
        return r;
      }
      {
        std::string value;
        if (!ReadValue(f, &value) || !Retouch(op, hash, f, value))
          return r;
      }
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
  if (!Find(op.key, hash, &f) || !f.live()) {
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

}  // namespace wave::kv
