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
  kGat,         // get and touch
  kFlushAll,    // every item of the shard (delay_s: when)
  kShardStats,  // the shard's counters, in KvResult::stats
  // The LSM tier (memtable_tier.cc), sent by the store's server, never by clients:
  kTierEnable,  // the shard flushes to host storage: delta = the host's newest generation,
                // cas_unique = dirty bytes that call for a flush, exptime = batch byte cap
  kFreeze,      // freeze dirty items into a flush batch: value = the batch, number = generation
  kFlushDone,   // delta = a frozen generation, flags = 1 if the host holds it, 0 if it failed
  kFetched,     // the host's answer for a parked key: delta = 1 found (value, flags, exptime
                // absolute, cas_unique = its cas) or 0 absent; value of the result = the
                // parked ops' results (EncodeParkedResults)
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
  // The replication op number of a committed write (0: not replicated); a flushed batch
  // records the ops it covers so the log up to them may go.
  uint64_t op_number = 0;
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
  // The key may be on the host: the op waits in the shard for the host's answer (kFetched),
  // and its result comes in that op's reply. number = 1: the caller must look the key up.
  // number = 2: a get that found no room to wait; the caller looks the key (value) up and
  // answers it itself, from the host's answer alone.
  kParked,
  kUnavailable,  // the host storage could not be reached for a key the memtable lacks
  // A replicated write the shard could not take yet (no room until a flush lands), or one
  // behind such a write: nothing changed, and the server posts it again later, in op order.
  // A committed write is never refused for this replica's own memory state: the replicas
  // must all apply it. To kFetched: the host's answer found no room while committed writes
  // wait on the key; they stay parked, and the server sends the answer again after a flush.
  kStalled,
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
  // The LSM tier.
  uint64_t dirty_bytes = 0;     // key + value bytes not yet frozen into a batch
  uint64_t tombstones = 0;      // deletes kept until the host has them
  uint64_t freezes = 0;         // batches frozen
  uint64_t flushed_items = 0;   // items the host acknowledged
  uint64_t flush_failures = 0;  // batches the host did not take (their items stay dirty)
  uint64_t evicted = 0;         // clean items dropped to make room (the host has them)
  uint64_t host_lookups = 0;    // misses sent to the host
  uint64_t host_hits = 0;       // of them, found there and brought back
  uint64_t parked = 0;          // ops that waited for a host lookup
  uint64_t generation = 0;      // the newest generation the host acknowledged
  uint64_t covered_op = 0;      // every replicated op up to it is in the host's tables
  uint64_t stalls = 0;          // replicated writes answered kStalled (each retry counts)
};

struct KvResult {
  KvResultCode code = KvResultCode::kBadRequest;
  uint32_t flags = 0;
  uint64_t cas = 0;
  uint64_t number = 0;
  std::string value;
  bool has_stats = false;  // kShardStats replies carry the shard's counters
  ShardStats stats;
  // The shard holds enough dirty bytes (or a flush_all) for a flush: the server sends kFreeze.
  bool wants_flush = false;
};

// One parked op's result, as the reply to kFetched carries them.
struct ParkedResult {
  uint64_t request_id = 0;
  KvResult result;
};

// Largest key and value a message may carry (memcached's defaults: 250-byte keys, 1 MiB items).
inline constexpr size_t kMaxKeyBytes = 250;
inline constexpr size_t kMaxValueBytes = 1 << 20;
// Ops that may wait on one key for the host (more are refused with kOutOfMemory), and so the
// largest result a reply carries (a flush batch or the parked results).
inline constexpr size_t kMaxParkedOps = 16;
inline constexpr size_t kMaxResultBytes = (kMaxParkedOps + 1) * (kMaxValueBytes + 512);

// The key hash the memtable indexes by and the sessions shard by (the same function on both
// sides, so a key's shard is its bucket's owner).
uint64_t KeyHash(std::string_view key);

std::vector<std::byte> EncodeOp(const KvOp& op);
// False when the bytes are not a well-formed op (unknown code, lengths out of range, trailing
// or missing bytes).
bool DecodeOp(std::span<const std::byte> bytes, KvOp* out);

std::vector<std::byte> EncodeResult(const KvResult& r);
bool DecodeResult(std::span<const std::byte> bytes, KvResult* out);
// The fields a reply filter needs, without copying the value out (false: not a result).
struct ResultPeek {
  KvResultCode code = KvResultCode::kBadRequest;
  uint64_t number = 0;
  bool wants_flush = false;
};
bool PeekResult(std::span<const std::byte> bytes, ResultPeek* out);
std::string EncodeParkedResults(const std::vector<ParkedResult>& results);
bool DecodeParkedResults(std::string_view bytes, std::vector<ParkedResult>* out);

}  // namespace wave::kv
