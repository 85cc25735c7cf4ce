#include "kv/store/kv_message.h"

#include <cstring>
#include <type_traits>

namespace wave::kv {
namespace {

// A message starts with this byte, so a payload meant for another actor type is refused
// before any field is trusted.
constexpr uint8_t kOpMagic = 0xa7;
constexpr uint8_t kResultMagic = 0xa8;

class Writer {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_bytes(const std::string& s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  bool get(T* v) {
    if (in_.size() - pos_ < sizeof(T))
      return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_bytes(std::string* s, size_t max) {
    uint32_t n;
    if (!get(&n) || n > max || in_.size() - pos_ < n)
      return false;
    s->assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool skip(size_t n) {
    if (in_.size() - pos_ < n)
      return false;
    pos_ += n;
    return true;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::span<const std::byte> in_;
  size_t pos_ = 0;
};

bool KnownOp(uint8_t c) {
  return c >= static_cast<uint8_t>(KvOpCode::kGet) && c <= static_cast<uint8_t>(KvOpCode::kFetched);
}

bool KnownResult(uint8_t c) {
  return c >= static_cast<uint8_t>(KvResultCode::kHit) &&
         c <= static_cast<uint8_t>(KvResultCode::kStalled);
}

constexpr size_t kStatsFields = sizeof(ShardStats) / sizeof(uint64_t);
static_assert(sizeof(ShardStats) == kStatsFields * sizeof(uint64_t));

}  // namespace

uint64_t KeyHash(std::string_view key) {
  // FNV-1a over the bytes, then a 64-bit finaliser (murmur3's fmix64) so that the low bits
  // the bucket index uses and the high bits the shard index uses are both well mixed.
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

std::vector<std::byte> EncodeOp(const KvOp& op) {
  Writer w;
  w.put(kOpMagic);
  w.put(static_cast<uint8_t>(op.code));
  w.put(op.flags);
  w.put(op.exptime);
  w.put(op.cas_unique);
  w.put(op.delta);
  w.put(op.delay_s);
  w.put(op.now_s);
  w.put(op.op_number);
  w.put_bytes(op.key);
  w.put_bytes(op.value);
  return w.take();
}

bool DecodeOp(std::span<const std::byte> bytes, KvOp* out) {
  Reader r(bytes);
  uint8_t magic, code;
  if (!r.get(&magic) || magic != kOpMagic || !r.get(&code) || !KnownOp(code))
    return false;
  out->code = static_cast<KvOpCode>(code);
  return r.get(&out->flags) && r.get(&out->exptime) && r.get(&out->cas_unique) &&
         r.get(&out->delta) && r.get(&out->delay_s) && r.get(&out->now_s) &&
         r.get(&out->op_number) && r.get_bytes(&out->key, kMaxKeyBytes) &&
         r.get_bytes(&out->value, kMaxValueBytes) && r.at_end();
}

std::vector<std::byte> EncodeResult(const KvResult& res) {
  Writer w;
  w.put(kResultMagic);
  w.put(static_cast<uint8_t>(res.code));
  w.put(res.flags);
  w.put(res.cas);
  w.put(res.number);
  w.put_bytes(res.value);
  w.put(static_cast<uint8_t>(res.wants_flush));
  w.put(static_cast<uint8_t>(res.has_stats));
  if (res.has_stats) {
    uint64_t fields[kStatsFields];
    std::memcpy(fields, &res.stats, sizeof(fields));
    for (uint64_t f : fields)
      w.put(f);
  }
  return w.take();
}

bool DecodeResult(std::span<const std::byte> bytes, KvResult* out) {
  Reader r(bytes);
  uint8_t magic, code;
  if (!r.get(&magic) || magic != kResultMagic || !r.get(&code) || !KnownResult(code))
    return false;
  out->code = static_cast<KvResultCode>(code);
  if (!(r.get(&out->flags) && r.get(&out->cas) && r.get(&out->number) &&
        r.get_bytes(&out->value, kMaxResultBytes)))
    return false;
  uint8_t wants_flush, has_stats;
  if (!r.get(&wants_flush) || wants_flush > 1)
    return false;
  out->wants_flush = wants_flush == 1;
  if (!r.get(&has_stats) || has_stats > 1)
    return false;
  out->has_stats = has_stats == 1;
  if (out->has_stats) {
    uint64_t fields[kStatsFields];
    for (uint64_t& f : fields) {
      if (!r.get(&f))
        return false;
    }
    std::memcpy(&out->stats, fields, sizeof(fields));
  }
  return r.at_end();
}

bool PeekResult(std::span<const std::byte> bytes, ResultPeek* out) {
  Reader r(bytes);
  uint8_t magic, code, wants_flush;
  uint32_t flags, value_len;
  uint64_t cas;
  if (!r.get(&magic) || magic != kResultMagic || !r.get(&code) || !KnownResult(code) ||
      !r.get(&flags) || !r.get(&cas) || !r.get(&out->number) || !r.get(&value_len) ||
      !r.skip(value_len) || !r.get(&wants_flush) || wants_flush > 1)
    return false;
  out->code = static_cast<KvResultCode>(code);
  out->wants_flush = wants_flush == 1;
  return true;
}

std::string EncodeParkedResults(const std::vector<ParkedResult>& results) {
  Writer w;
  w.put(static_cast<uint32_t>(results.size()));
  for (const ParkedResult& p : results) {
    w.put(p.request_id);
    const std::vector<std::byte> r = EncodeResult(p.result);
    w.put_bytes(std::string(reinterpret_cast<const char*>(r.data()), r.size()));
  }
  std::vector<std::byte> bytes = w.take();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

bool DecodeParkedResults(std::string_view bytes, std::vector<ParkedResult>* out) {
  Reader r(std::as_bytes(std::span(bytes.data(), bytes.size())));
  uint32_t n;
  if (!r.get(&n) || n > kMaxParkedOps + 1)
    return false;
  out->assign(n, {});
  std::string one;
  for (ParkedResult& p : *out) {
    if (!r.get(&p.request_id) || !r.get_bytes(&one, kMaxValueBytes + 512) ||
        !DecodeResult(std::as_bytes(std::span(one.data(), one.size())), &p.result) ||
        p.result.code == KvResultCode::kParked)
      return false;
  }
  return r.at_end();
}

}  // namespace wave::kv
