// The messages between the NIC's network sessions and the memtable actors: one operation on
// one key in, one result out. They travel as Message/Reply payloads, so they cross the host
// link unchanged when an actor migrates; every field is decoded and checked before use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wave::kv {

// Message::kind of a memtable request (the payload is an EncodeOp()).
inline constexpr uint32_t kKvOpKind = 0x4b56;

enum class KvOpCode : uint8_t {
  kGet = 1,
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  kDelete,
  kIncr,
  kDecr,
  kTouch,
  kGat,        // get and touch
  kFlushAll,   // every item of the shard (delay_s: when)
  kShardStats  // the shard's counters, in KvResult::stats
};

struct KvOp {
  KvOpCode code = KvOpCode::kGet;
  uint32_t flags = 0;
  int64_t exptime = 0;  // as the client sent it (memcached's relative/absolute rule applies)
  uint64_t cas_unique = 0;
  uint64_t delta = 0;   // incr/decr
  int64_t delay_s = 0;  // flush_all
  // The Unix time the op runs at (0: the shard's clock). A replicated write carries its
  // primary's time, so every replica resolves relative expiry times alike.
  int64_t now_s = 0;
  std::string key;
  std::string value;
};

enum class KvResultCode : uint8_t {
  kHit = 1,  // get/gat: value, flags, cas are set
  kMiss,
  kStored,
  kNotStored,
  kExists,
  kNotFound,
  kDeleted,
  kTouched,
  kOk,
  kNumber,       // incr/decr: number is set
  kNonNumeric,   // incr/decr on a value that is not a decimal number
  kOutOfMemory,  // the shard's memory cap is reached
  kTooLarge,     // append/prepend would make the value longer than kMaxValueBytes
  kBadRequest,   // the op did not decode
};

struct ShardStats {
  uint64_t items = 0;
  uint64_t bytes = 0;  // key + value bytes of live items
  uint64_t get_hits = 0;
  uint64_t get_misses = 0;
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t cas_hits = 0;
  uint64_t cas_badval = 0;
  uint64_t cas_misses = 0;
  uint64_t incr_hits = 0;
  uint64_t incr_misses = 0;
  uint64_t decr_hits = 0;
  uint64_t decr_misses = 0;
  uint64_t touches = 0;
  uint64_t expired = 0;  // items found expired and freed
  uint64_t flushed = 0;  // items freed by flush_all
  uint64_t oom = 0;      // stores refused for the memory cap
  uint64_t bad_requests = 0;
};

struct KvResult {
  KvResultCode code = KvResultCode::kBadRequest;
  uint32_t flags = 0;
  uint64_t cas = 0;
  uint64_t number = 0;
  std::string value;
  bool has_stats = false;  // kShardStats replies carry the shard's counters
  ShardStats stats;
};

// Largest key and value a message may carry (memcached's defaults: 250-byte keys, 1 MiB items).
inline constexpr size_t kMaxKeyBytes = 250;
inline constexpr size_t kMaxValueBytes = 1 << 20;

// The key hash the memtable indexes by and the sessions shard by (the same function on both
// sides, so a key's shard is its bucket's owner).
uint64_t KeyHash(std::string_view key);

std::vector<std::byte> EncodeOp(const KvOp& op);
// False when the bytes are not a well-formed op (unknown code, lengths out of range, trailing
// or missing bytes).
bool DecodeOp(std::span<const std::byte> bytes, KvOp* out);

std::vector<std::byte> EncodeResult(const KvResult& r);
bool DecodeResult(std::span<const std::byte> bytes, KvResult* out);

}  // namespace wave::kv
