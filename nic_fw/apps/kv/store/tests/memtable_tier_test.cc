// The memtable's LSM tier against the host's real SSTable store (tools/kv-host/sstable): a
// small shard that flushes, evicts and reads back must answer exactly as a shard big enough
// to hold everything.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dmo_table.h"
#include "kv/store/flush_batch.h"
#include "kv/store/memtable.h"
#include "sst_store.h"

namespace wave::kv {
namespace {

constexpr rt::ActorId kActor = 9;
constexpr uint32_t kShard = 3;

// One memtable in a DMO table of its own.
class Shard {
 public:
  Shard(uint64_t cap, int64_t* now) : now_(now) {
    EXPECT_EQ(table_.create_space(kActor, cap), rt::Status::kOk);
    EXPECT_EQ(table_.dmo_malloc(kActor, 64, &root_), rt::Status::kOk);
    rt::ActorContext ctx(kActor, root_, table_, false);
    EXPECT_EQ(Memtable::Create(ctx, {.initial_buckets = 16}), rt::Status::kOk);
  }
  KvResult Run(const KvOp& op, uint64_t request_id = 0) {
    rt::ActorContext ctx(kActor, root_, table_, false);
    return Memtable(ctx, *now_).Execute(op, request_id);
  }
  ShardStats Stats() { return Run({.code = KvOpCode::kShardStats}).stats; }
  // The shard's objects by size, for a failure message.
  std::string Objects() {
    std::map<uint64_t, int> sizes;
    uint64_t total = 0;
    table_.for_each_object(kActor, [&](rt::ObjectId, std::span<const std::byte> b) {
      ++sizes[b.size()];
      total += b.size();
    });
    std::string out = "objects " + std::to_string(total) + " bytes:";
    for (auto [size, n] : sizes)
      out += " " + std::to_string(size) + "x" + std::to_string(n);
    return out;
  }

 private:
  rt::DmoTable table_;
  rt::ObjectId root_ = rt::kNoObjectId;
  int64_t* now_;
};

// The tiered shard and what the store's server does for it: freeze when asked, hand the batch
// to the host's SstStore, acknowledge; look parked keys up and bring the answer back.
class TieredShard {
 public:
  TieredShard(uint64_t cap, int64_t* now) : shard_(cap, now), now_(now) {
    char tmpl[] = "/tmp/wave-tier-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = SstStore::Open(dir_);
    EXPECT_TRUE(store.ok());
    host_ = std::move(*store);
    KvOp enable{
        .code = KvOpCode::kTierEnable, .flags = kShard, .exptime = 16 << 10, .cas_unique = 8 << 10};
    EXPECT_EQ(shard_.Run(enable).code, KvResultCode::kOk);
  }
  ~TieredShard() { std::filesystem::remove_all(dir_); }

  // Runs an op; a parked op's result comes back once `Resolve` answers its key.
  KvResult Run(const KvOp& op, uint64_t request_id) {
    KvResult r = shard_.Run(op, request_id);
    if (r.wants_flush && auto_flush_)
      Flush();
    if (r.code == KvResultCode::kParked && r.number == 1)
      pending_.push_back(op.key);
    return r;
  }
  void Flush() {
    KvResult f = shard_.Run({.code = KvOpCode::kFreeze});
    if (f.code != KvResultCode::kOk)
      return;
    bool ok = !fail_next_flush_;
    fail_next_flush_ = false;
    if (ok) {
      Status s = host_->IngestBytes(std::as_bytes(std::span(f.value.data(), f.value.size())));
      EXPECT_TRUE(s.ok()) << s.error().message;
      ok = s.ok();
    }
    ++flushes_;
    EXPECT_EQ(
        shard_.Run({.code = KvOpCode::kFlushDone, .flags = ok ? 1u : 0u, .delta = f.number}).code,
        KvResultCode::kOk);
  }
  // Answers the oldest pending lookup; the parked results, in the order the shard ran them.
  std::vector<ParkedResult> Resolve() {
    const std::string key = pending_.front();
    pending_.erase(pending_.begin());
    KvResult r = Fetch(key);
    EXPECT_EQ(r.code, KvResultCode::kOk);
    std::vector<ParkedResult> results;
    EXPECT_TRUE(DecodeParkedResults(r.value, &results));
    if (r.wants_flush)
      Flush();
    return results;
  }
  // Brings the host's answer for `key` to the shard (the kFetched op); its raw result.
  KvResult Fetch(const std::string& key) {
    auto found = host_->Lookup(kShard, key, *now_);
    EXPECT_TRUE(found.ok());
    KvOp fetched{.code = KvOpCode::kFetched, .key = key};
    if (found.ok() && found->has_value()) {
      fetched.delta = 1;
      fetched.value = (*found)->value;
      fetched.flags = (*found)->flags;
      fetched.exptime = static_cast<int64_t>((*found)->exptime);
      fetched.cas_unique = (*found)->cas;
    }
    return shard_.Run(fetched);
  }
  bool has_pending() const { return !pending_.empty(); }
  size_t pending() const { return pending_.size(); }
  void FailNextFlush() { fail_next_flush_ = true; }
  // Off: the shard's requests for a flush are ignored until the test calls Flush (or Freeze).
  void AutoFlush(bool on) { auto_flush_ = on; }
  KvResult Freeze() { return shard_.Run({.code = KvOpCode::kFreeze}); }
  void FlushDone(uint64_t gen, bool ok) {
    EXPECT_EQ(shard_.Run({.code = KvOpCode::kFlushDone, .flags = ok ? 1u : 0u, .delta = gen}).code,
              KvResultCode::kOk);
  }
  SstStore& host() { return *host_; }
  ShardStats Stats() { return shard_.Stats(); }
  std::string Objects() { return shard_.Objects(); }

 private:
  Shard shard_;
  int64_t* now_;
  std::string dir_;
  std::unique_ptr<SstStore> host_;
  std::vector<std::string> pending_;
  bool fail_next_flush_ = false;
  bool auto_flush_ = true;
  int flushes_ = 0;
};

// What a client compares: everything but cas, whose numbering differs between the two shards.
void ExpectSameAnswer(const KvResult& want, const KvResult& got, const std::string& what) {
  EXPECT_EQ(static_cast<int>(got.code), static_cast<int>(want.code)) << what;
  EXPECT_EQ(got.value, want.value) << what;
  EXPECT_EQ(got.flags, want.flags) << what;
  EXPECT_EQ(got.number, want.number) << what;
}

void RunDifferential(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  int64_t now = 1'700'000'000;
  Shard reference(256 << 20, &now);
  TieredShard tiered(48 << 10, &now);
  std::mt19937_64 rng(seed);
  struct Asked {
    KvOp op;
    KvResult want;
    std::string what;
  };
  std::map<uint64_t, Asked> waiting;  // parked on the tiered shard, by request id
  // Each side's last cas per key, as two clients would remember them.
  std::map<std::string, uint64_t> cas_ref, cas_tier;
  // Each key's history, printed with the first disagreement.
  std::map<std::string, std::string> history;
  bool printed = false;
  auto check = [&](const Asked& a, const KvResult& got) {
    ExpectSameAnswer(a.want, got, a.what);
    if (!printed && (got.code != a.want.code || got.value != a.want.value)) {
      printed = true;
      const ShardStats st = tiered.Stats();
      ADD_FAILURE() << "history of " << a.op.key << ":\n"
                    << history[a.op.key] << "shard: items " << st.items << " bytes " << st.bytes
                    << " dirty " << st.dirty_bytes << " tombstones " << st.tombstones << " evicted "
                    << st.evicted << " freezes " << st.freezes << " generation " << st.generation
                    << "\n"
                    << tiered.Objects();
    }
    if (got.code == KvResultCode::kHit)
      cas_tier[a.op.key] = got.cas;
  };
  const KvOpCode codes[] = {
      KvOpCode::kSet,    KvOpCode::kSet,     KvOpCode::kSet,   KvOpCode::kGet,
      KvOpCode::kGet,    KvOpCode::kGet,     KvOpCode::kAdd,   KvOpCode::kReplace,
      KvOpCode::kAppend, KvOpCode::kPrepend, KvOpCode::kCas,   KvOpCode::kDelete,
      KvOpCode::kIncr,   KvOpCode::kDecr,    KvOpCode::kTouch, KvOpCode::kGat};
  for (uint64_t id = 1; id <= 20000; ++id) {
    KvOp op;
    const uint64_t pick = rng() % 2000;
    if (pick < 2 && !tiered.has_pending()) {
      op.code = KvOpCode::kFlushAll;
      op.delay_s = rng() % 2 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 3);
    } else {
      op.code = codes[rng() % std::size(codes)];
      op.key = "key:" + std::to_string(rng() % 400);
      if (op.code == KvOpCode::kIncr || op.code == KvOpCode::kDecr) {
        op.delta = rng() % 50;
      } else if (op.code != KvOpCode::kGet && op.code != KvOpCode::kDelete) {
        op.value = rng() % 4 == 0 ? std::to_string(rng() % 1000)
                                  : std::string(20 + rng() % 400, static_cast<char>('a' + id % 26));
        op.flags = static_cast<uint32_t>(rng() % 7);
        op.exptime = rng() % 10 == 0 ? 1 + static_cast<int64_t>(rng() % 4) : 0;
      }
    }
    KvOp ref_op = op, tier_op = op;
    if (op.code == KvOpCode::kCas) {
      // A client sends a cas only with a cas it has read: the key's parked reads answer first.
      while (std::any_of(waiting.begin(), waiting.end(),
                         [&](const auto& w) { return w.second.op.key == op.key; })) {
        for (const ParkedResult& p : tiered.Resolve()) {
          auto it = waiting.find(p.request_id);
          ASSERT_NE(it, waiting.end());
          check(it->second, p.result);
          waiting.erase(it);
        }
      }
      ref_op.cas_unique = rng() % 3 == 0 ? 12345 : cas_ref[op.key];
      tier_op.cas_unique = ref_op.cas_unique == 12345 ? 12345 : cas_tier[op.key];
    }
    const KvResult want = reference.Run(ref_op);
    {
      std::string& h = op.key.empty() ? history["*"] : history[op.key];
      h += "op " + std::to_string(id) + " t=" + std::to_string(now) + " code " +
           std::to_string(static_cast<int>(op.code)) + " exp " + std::to_string(op.exptime) +
           " delay " + std::to_string(op.delay_s) + " -> " +
           std::to_string(static_cast<int>(want.code)) + "\n";
      if (op.key.empty())
        for (auto& [k, v] : history)
          if (k != "*")
            v += "  flush_all op " + std::to_string(id) + " delay " + std::to_string(op.delay_s) +
                 "\n";
    }
    if (want.code == KvResultCode::kHit)
      cas_ref[op.key] = want.cas;
    Asked asked{tier_op, want,
                "op " + std::to_string(id) + " code " + std::to_string(static_cast<int>(op.code)) +
                    " " + op.key};
    if (rng() % 50 == 0)
      tiered.FailNextFlush();
    const KvResult got = tiered.Run(tier_op, id);
    if (got.code == KvResultCode::kParked)
      waiting.emplace(id, asked);
    else
      check(asked, got);
    // Lookups come back late, so later ops on the same key park behind the first; a few
    // at most are out at a time, as with a host that answers within a bounded time.
    while (tiered.has_pending() && (rng() % 3 == 0 || tiered.pending() > 4)) {
      for (const ParkedResult& p : tiered.Resolve()) {
        auto it = waiting.find(p.request_id);
        ASSERT_NE(it, waiting.end()) << p.request_id;
        check(it->second, p.result);
        waiting.erase(it);
      }
    }
    if (rng() % 200 == 0 && !tiered.has_pending())
      ++now;  // expiry moves on for both
  }
  while (tiered.has_pending()) {
    for (const ParkedResult& p : tiered.Resolve()) {
      auto it = waiting.find(p.request_id);
      ASSERT_NE(it, waiting.end());
      check(it->second, p.result);
      waiting.erase(it);
    }
  }
  EXPECT_TRUE(waiting.empty());
  // Every key reads back the same at the end.
  for (int k = 0; k < 400; ++k) {
    KvOp get{.code = KvOpCode::kGet, .key = "key:" + std::to_string(k)};
    KvResult want = reference.Run(get);
    KvResult got = tiered.Run(get, 1'000'000 + k);
    if (got.code == KvResultCode::kParked) {
      std::vector<ParkedResult> results = tiered.Resolve();
      ASSERT_EQ(results.size(), 1u);
      got = results[0].result;
    }
    ExpectSameAnswer(want, got, get.key);
  }
  // The tier's paths all ran: the shard froze, evicted, asked the host and parked behind it.
  const ShardStats s = tiered.Stats();
  EXPECT_GT(s.freezes, 20u);
  EXPECT_GT(s.evicted, 100u);
  EXPECT_GT(s.host_lookups, 100u);
  EXPECT_GT(s.host_hits, 50u);
  EXPECT_GT(s.parked, s.host_lookups);
  EXPECT_GT(s.flush_failures, 0u);
  EXPECT_GT(s.tombstones + s.deletes, 0u);
}

TEST(MemtableTier, AnswersAsAShardThatHoldsEverything) {
  for (uint64_t seed : {20261207ull, 1ull, 2ull, 3ull, 4ull, 5ull})
    RunDifferential(seed);
}

TEST(MemtableTier, OpsParkedOnAKeyRunInArrivalOrder) {
  int64_t now = 1'700'000'000;
  TieredShard t(64 << 10, &now);
  ASSERT_EQ(t.Run({.code = KvOpCode::kSet, .key = "n", .value = "1"}, 1).code,
            KvResultCode::kStored);
  // Other keys push "n" out to the host.
  for (int i = 0; t.Stats().evicted == 0 ||
                  t.Run({.code = KvOpCode::kGet, .key = "n"}, 2).code != KvResultCode::kParked;
       ++i) {
    ASSERT_LT(i, 5000);
    t.Run(
        {.code = KvOpCode::kSet, .key = "fill" + std::to_string(i), .value = std::string(500, 'x')},
        3);
  }
  // "n" is parked now (request 2, a get); three more ops wait behind it.
  EXPECT_EQ(t.Run({.code = KvOpCode::kIncr, .delta = 5, .key = "n"}, 10).code,
            KvResultCode::kParked);
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "n"}, 11).code, KvResultCode::kParked);
  EXPECT_EQ(t.Run({.code = KvOpCode::kSet, .key = "n", .value = "9"}, 12).code,
            KvResultCode::kParked);
  std::vector<ParkedResult> r = t.Resolve();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].request_id, 2u);
  EXPECT_EQ(r[0].result.value, "1");
  EXPECT_EQ(r[1].request_id, 10u);
  EXPECT_EQ(r[1].result.number, 6u);
  EXPECT_EQ(r[2].request_id, 11u);
  EXPECT_EQ(r[2].result.value, "6");
  EXPECT_EQ(r[3].request_id, 12u);
  EXPECT_EQ(r[3].result.code, KvResultCode::kStored);
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "n"}, 13).value, "9");
}

TEST(MemtableTier, RefusesMoreParkedOpsThanItKeeps) {
  int64_t now = 1'700'000'000;
  TieredShard t(64 << 10, &now);
  t.Run({.code = KvOpCode::kSet, .key = "k", .value = "v"}, 1);
  for (int i = 0; t.Stats().evicted == 0 || t.Stats().dirty_bytes != 0; ++i) {
    ASSERT_LT(i, 5000);
    t.Run({.code = KvOpCode::kSet, .key = "f" + std::to_string(i), .value = std::string(500, 'y')},
          2);
    t.Flush();
  }
  uint64_t parked = 0;
  for (uint64_t id = 100; id < 100 + kMaxParkedOps + 3; ++id) {
    KvResult r = t.Run({.code = KvOpCode::kGet, .key = "k"}, id);
    if (r.code == KvResultCode::kHit)
      GTEST_SKIP() << "k was not evicted";
    if (r.code == KvResultCode::kParked)
      ++parked;
    else
      EXPECT_EQ(r.code, KvResultCode::kOutOfMemory);
  }
  EXPECT_EQ(parked, kMaxParkedOps);
  std::vector<ParkedResult> r = t.Resolve();
  ASSERT_EQ(r.size(), kMaxParkedOps);
  for (const ParkedResult& p : r)
    EXPECT_EQ(p.result.value, "v");
}

// A replica must apply every committed write: one that finds no room (the dirty items are
// not on the host yet) waits, and so does every later one, until a flush makes room; none is
// refused, none runs out of op order, and no batch claims an op that has not gone in.
TEST(MemtableTier, ReplicatedWritesWaitForRoomInOpOrder) {
  int64_t now = 1'700'000'000;
  TieredShard t(48 << 10, &now);
  t.AutoFlush(false);
  auto set = [&](uint64_t op_number, const std::string& key, const std::string& value) {
    return t.Run({.code = KvOpCode::kSet, .op_number = op_number, .key = key, .value = value}, 0);
  };
  // Something on the host first, so that misses ask it.
  ASSERT_EQ(set(1, "early", "on-the-host").code, KvResultCode::kStored);
  KvResult first = t.Freeze();
  ASSERT_EQ(first.code, KvResultCode::kOk);
  ASSERT_TRUE(
      t.host().IngestBytes(std::as_bytes(std::span(first.value.data(), first.value.size()))).ok());
  t.FlushDone(first.number, true);

  uint64_t op = 2;
  KvResult r;
  for (; (r = set(op, "k" + std::to_string(op), std::string(400, 'a' + op % 26))).code ==
         KvResultCode::kStored;
       ++op)
    ASSERT_LT(op, 1000u);
  ASSERT_EQ(r.code, KvResultCode::kStalled) << "a committed write was refused";
  const uint64_t stalled = op;
  // Later writes wait behind it, whatever their key; reads still run.
  EXPECT_EQ(set(stalled + 1, "k2", "newer").code, KvResultCode::kStalled);
  EXPECT_EQ(set(stalled + 2, "other", "x").code, KvResultCode::kStalled);
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "k2"}, 0).value, std::string(400, 'a' + 2));
  // Plain (unreplicated) stores fill what is left; then a get of a key only the host has
  // finds no room to wait in and is handed to the server to answer from the host alone.
  for (int i = 0; t.Run({.code = KvOpCode::kSet, .key = "t" + std::to_string(i)}, 0).code ==
                  KvResultCode::kStored;
       ++i)
    ASSERT_LT(i, 1000);
  KvResult miss = t.Run({.code = KvOpCode::kGet, .key = "early"}, 77);
  EXPECT_EQ(miss.code, KvResultCode::kParked);
  EXPECT_EQ(miss.number, 2u);
  EXPECT_EQ(miss.value, "early");
  EXPECT_FALSE(t.has_pending());

  // The batch frozen now covers only the ops before the stalled one.
  KvResult batch = t.Freeze();
  ASSERT_EQ(batch.code, KvResultCode::kOk);
  auto decoded = DecodeFlushBatch(std::as_bytes(std::span(batch.value.data(), batch.value.size())));
  ASSERT_TRUE(decoded.ok());
  EXPECT_LT(decoded->info.last_op, stalled);
  ASSERT_TRUE(
      t.host().IngestBytes(std::as_bytes(std::span(batch.value.data(), batch.value.size()))).ok());
  t.FlushDone(batch.number, true);
  EXPECT_LT(t.Stats().covered_op, stalled);
  EXPECT_GE(t.Stats().stalls, 3u);

  // Posted again in op order, they go in now (the flushed items make room).
  EXPECT_EQ(set(stalled, "k" + std::to_string(stalled), "went-in").code, KvResultCode::kStored);
  EXPECT_EQ(set(stalled + 1, "k2", "newer").code, KvResultCode::kStored);
  EXPECT_EQ(set(stalled + 2, "other", "x").code, KvResultCode::kStored);
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "k2"}, 0).value, "newer");
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "k" + std::to_string(stalled)}, 0).value,
            "went-in");
  // Once every dirty item is on the host, the batches cover every write up to the last one.
  for (int i = 0; t.Stats().dirty_bytes != 0; ++i) {
    ASSERT_LT(i, 50);
    t.Flush();
  }
  EXPECT_EQ(t.Stats().covered_op, stalled + 2);
}

// A committed write parked on a key must not fail because the host's value finds no room:
// the answer is refused (kStalled), the write stays parked, and goes in once a flush made room.
TEST(MemtableTier, AParkedCommittedWriteWaitsForRoomForTheHostsValue) {
  int64_t now = 1'700'000'000;
  TieredShard t(48 << 10, &now);
  const std::string big(4000, 'b');
  ASSERT_EQ(t.Run({.code = KvOpCode::kSet, .op_number = 1, .key = "n", .value = big}, 1).code,
            KvResultCode::kStored);
  // Others push "n" out to the host (flushed, then evicted as clean).
  uint64_t op = 2;
  for (; t.Stats().evicted == 0 || t.Stats().dirty_bytes != 0; ++op) {
    ASSERT_LT(op, 2000u);
    t.Run({.code = KvOpCode::kSet,
           .op_number = op,
           .key = "f" + std::to_string(op),
           .value = std::string(300, 'f')},
          2);
    t.Flush();
  }
  t.AutoFlush(false);
  KvResult parked =
      t.Run({.code = KvOpCode::kAppend, .op_number = op, .key = "n", .value = "+tail"}, 100);
  if (parked.code != KvResultCode::kParked)
    GTEST_SKIP() << "n was not evicted";
  const uint64_t parked_op = op++;
  // Dirty writes fill the shard: nothing is clean, so nothing can be evicted for the answer.
  for (int i = 0; t.Run({.code = KvOpCode::kSet,
                  .key = "d" + std::to_string(i),
                  .value = std::string(300, 'd')},
                        3)
                      .code == KvResultCode::kStored;
       ++i)
    ASSERT_LT(i, 2000);
  KvResult first = t.Fetch("n");
  EXPECT_EQ(first.code, KvResultCode::kStalled);
  EXPECT_TRUE(first.wants_flush);
  // The parked write holds the covered op back.
  for (int i = 0; t.Stats().dirty_bytes != 0; ++i) {
    ASSERT_LT(i, 50);
    t.Flush();
  }
  EXPECT_LT(t.Stats().covered_op, parked_op);
  // After the flush there is room: the answer goes in and the write runs on the host's value.
  KvResult second = t.Fetch("n");
  ASSERT_EQ(second.code, KvResultCode::kOk);
  std::vector<ParkedResult> results;
  ASSERT_TRUE(DecodeParkedResults(second.value, &results));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].request_id, 100u);
  EXPECT_EQ(results[0].result.code, KvResultCode::kStored);
  EXPECT_EQ(t.Run({.code = KvOpCode::kGet, .key = "n"}, 0).value, big + "+tail");
}

}  // namespace
}  // namespace wave::kv
