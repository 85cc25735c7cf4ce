// The memtable's memcached semantics, on a DMO table of its own (no runtime threads).
#include "kv/store/memtable.h"

#include <gtest/gtest.h>

#include <string>

#include "dmo_table.h"

namespace wave::kv {
namespace {

constexpr rt::ActorId kActor = 7;

class MemtableTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(64 << 20, 16); }

  void Reset(uint64_t cap, uint64_t buckets) {
    table_ = std::make_unique<rt::DmoTable>();
    ASSERT_EQ(table_->create_space(kActor, cap), rt::Status::kOk);
    ASSERT_EQ(table_->dmo_malloc(kActor, 64, &root_), rt::Status::kOk);
    rt::ActorContext ctx(kActor, root_, *table_, false);
    ASSERT_EQ(Memtable::Create(ctx, {.initial_buckets = buckets}), rt::Status::kOk);
  }

  KvResult Run(KvOp op) {
    rt::ActorContext ctx(kActor, root_, *table_, false);
    return Memtable(ctx, now_).Execute(op);
  }
  KvResult Set(const std::string& k, const std::string& v, uint32_t flags = 0,
               int64_t exptime = 0) {
    return Run({.code = KvOpCode::kSet, .flags = flags, .exptime = exptime, .key = k, .value = v});
  }
  KvResult Get(const std::string& k) { return Run({.code = KvOpCode::kGet, .key = k}); }
  ShardStats Stats() { return Run({.code = KvOpCode::kShardStats}).stats; }

  std::unique_ptr<rt::DmoTable> table_;
  rt::ObjectId root_ = rt::kNoObjectId;
  int64_t now_ = 1'700'000'000;
};

TEST_F(MemtableTest, SetThenGetReturnsValueFlagsAndCas) {
  std::string binary("a\r\nb\0c", 6);
  KvResult s = Set("k", binary, 42);
  ASSERT_EQ(s.code, KvResultCode::kStored);
  KvResult g = Get("k");
  ASSERT_EQ(g.code, KvResultCode::kHit);
  EXPECT_EQ(g.value, binary);
  EXPECT_EQ(g.flags, 42u);
  EXPECT_EQ(g.cas, s.cas);
  EXPECT_EQ(Get("other").code, KvResultCode::kMiss);
  // An overwrite gets a new cas and replaces the value; the item count stays one.
  KvResult s2 = Set("k", "v2");
  EXPECT_NE(s2.cas, s.cas);
  EXPECT_EQ(Get("k").value, "v2");
  EXPECT_EQ(Stats().items, 1u);
  EXPECT_EQ(Stats().bytes, 3u);
}

TEST_F(MemtableTest, AddAndReplaceDependOnPresence) {
  EXPECT_EQ(Run({.code = KvOpCode::kReplace, .key = "k", .value = "x"}).code,
            KvResultCode::kNotStored);
  EXPECT_EQ(Run({.code = KvOpCode::kAdd, .key = "k", .value = "a"}).code, KvResultCode::kStored);
  EXPECT_EQ(Run({.code = KvOpCode::kAdd, .key = "k", .value = "b"}).code, KvResultCode::kNotStored);
  EXPECT_EQ(Get("k").value, "a");
  EXPECT_EQ(Run({.code = KvOpCode::kReplace, .key = "k", .value = "r"}).code,
            KvResultCode::kStored);
  EXPECT_EQ(Get("k").value, "r");
}

TEST_F(MemtableTest, AppendAndPrependKeepFlags) {
  EXPECT_EQ(Run({.code = KvOpCode::kAppend, .key = "k", .value = "x"}).code,
            KvResultCode::kNotStored);
  Set("k", "mid", 9);
  EXPECT_EQ(Run({.code = KvOpCode::kAppend, .flags = 1, .key = "k", .value = "-end"}).code,
            KvResultCode::kStored);
  EXPECT_EQ(Run({.code = KvOpCode::kPrepend, .flags = 2, .key = "k", .value = "start-"}).code,
            KvResultCode::kStored);
  KvResult g = Get("k");
  EXPECT_EQ(g.value, "start-mid-end");
  EXPECT_EQ(g.flags, 9u);
}

TEST_F(MemtableTest, AppendBeyondTheItemLimitIsRefused) {
  Set("k", std::string(kMaxValueBytes - 1, 'a'));
  EXPECT_EQ(Run({.code = KvOpCode::kAppend, .key = "k", .value = "bc"}).code,
            KvResultCode::kTooLarge);
  EXPECT_EQ(Get("k").value.size(), kMaxValueBytes - 1);
}

TEST_F(MemtableTest, CasComparesTheUniqueValue) {
  EXPECT_EQ(Run({.code = KvOpCode::kCas, .cas_unique = 1, .key = "k", .value = "x"}).code,
            KvResultCode::kNotFound);
  uint64_t cas = Set("k", "v").cas;
  EXPECT_EQ(Run({.code = KvOpCode::kCas, .cas_unique = cas + 1, .key = "k", .value = "x"}).code,
            KvResultCode::kExists);
  EXPECT_EQ(Get("k").value, "v");
  EXPECT_EQ(Run({.code = KvOpCode::kCas, .cas_unique = cas, .key = "k", .value = "y"}).code,
            KvResultCode::kStored);
  EXPECT_EQ(Get("k").value, "y");
  // The same cas a second time loses: the store changed it.
  EXPECT_EQ(Run({.code = KvOpCode::kCas, .cas_unique = cas, .key = "k", .value = "z"}).code,
            KvResultCode::kExists);
  ShardStats st = Stats();
  EXPECT_EQ(st.cas_hits, 1u);
  EXPECT_EQ(st.cas_badval, 2u);
  EXPECT_EQ(st.cas_misses, 1u);
}

TEST_F(MemtableTest, DeleteRemovesTheItem) {
  EXPECT_EQ(Run({.code = KvOpCode::kDelete, .key = "k"}).code, KvResultCode::kNotFound);
  Set("k", "v");
  EXPECT_EQ(Run({.code = KvOpCode::kDelete, .key = "k"}).code, KvResultCode::kDeleted);
  EXPECT_EQ(Get("k").code, KvResultCode::kMiss);
  EXPECT_EQ(Stats().items, 0u);
  EXPECT_EQ(table_->usage(kActor).objects, 3u);  // root, header, buckets: the item is freed
}

TEST_F(MemtableTest, IncrWrapsDecrStopsAtZeroAndTextIsRefused) {
  EXPECT_EQ(Run({.code = KvOpCode::kIncr, .delta = 1, .key = "n"}).code, KvResultCode::kNotFound);
  Set("n", "18446744073709551615", 5);
  KvResult r = Run({.code = KvOpCode::kIncr, .delta = 2, .key = "n"});
  ASSERT_EQ(r.code, KvResultCode::kNumber);
  EXPECT_EQ(r.number, 1u);
  r = Run({.code = KvOpCode::kDecr, .delta = 10, .key = "n"});
  EXPECT_EQ(r.number, 0u);
  EXPECT_EQ(Get("n").value, "0");
  EXPECT_EQ(Get("n").flags, 5u);
  Set("n", "99");
  EXPECT_EQ(Run({.code = KvOpCode::kIncr, .delta = 1, .key = "n"}).number, 100u);
  EXPECT_EQ(Get("n").value, "100");
  Set("t", "12a");
  EXPECT_EQ(Run({.code = KvOpCode::kIncr, .delta = 1, .key = "t"}).code, KvResultCode::kNonNumeric);
  Set("t", "123456789012345678901");  // 21 digits: beyond 64 bits
  EXPECT_EQ(Run({.code = KvOpCode::kDecr, .delta = 1, .key = "t"}).code, KvResultCode::kNonNumeric);
}

TEST_F(MemtableTest, RelativeAbsoluteAndNegativeExpiry) {
  Set("rel", "v", 0, 10);
  Set("abs", "v", 0, now_ + 20);
  Set("neg", "v", 0, -1);
  Set("never", "v");
  EXPECT_EQ(Get("neg").code, KvResultCode::kMiss);
  now_ += 9;
  EXPECT_EQ(Get("rel").code, KvResultCode::kHit);
  now_ += 1;
  EXPECT_EQ(Get("rel").code, KvResultCode::kMiss);
  EXPECT_EQ(Get("abs").code, KvResultCode::kHit);
  now_ += 10;
  EXPECT_EQ(Get("abs").code, KvResultCode::kMiss);
  EXPECT_EQ(Get("never").code, KvResultCode::kHit);
  EXPECT_EQ(Stats().expired, 3u);
  EXPECT_EQ(Stats().items, 1u);
}

TEST_F(MemtableTest, TouchAndGatMoveTheExpiry) {
  Set("k", "v", 0, 5);
  EXPECT_EQ(Run({.code = KvOpCode::kTouch, .exptime = 100, .key = "k"}).code,
            KvResultCode::kTouched);
  EXPECT_EQ(Run({.code = KvOpCode::kTouch, .exptime = 100, .key = "x"}).code,
            KvResultCode::kNotFound);
  now_ += 50;
  EXPECT_EQ(Get("k").code, KvResultCode::kHit);
  KvResult g = Run({.code = KvOpCode::kGat, .exptime = 1, .key = "k"});
  EXPECT_EQ(g.code, KvResultCode::kHit);
  EXPECT_EQ(g.value, "v");
  now_ += 1;
  EXPECT_EQ(Get("k").code, KvResultCode::kMiss);
}

TEST_F(MemtableTest, FlushAllNowAndLater) {
  for (int i = 0; i < 100; ++i)
    Set("k" + std::to_string(i), "v");
  EXPECT_EQ(Run({.code = KvOpCode::kFlushAll}).code, KvResultCode::kOk);
  EXPECT_EQ(Stats().items, 0u);
  EXPECT_EQ(Get("k1").code, KvResultCode::kMiss);
  Set("a", "v");
  EXPECT_EQ(Run({.code = KvOpCode::kFlushAll, .delay_s = 10}).code, KvResultCode::kOk);
  EXPECT_EQ(Get("a").code, KvResultCode::kHit);
  now_ += 10;
  EXPECT_EQ(Get("a").code, KvResultCode::kMiss);
  now_ += 1;
  Set("b", "v");  // stored after the flush time: lives
  EXPECT_EQ(Get("b").code, KvResultCode::kHit);
}

TEST_F(MemtableTest, GrowsItsBucketsAndKeepsEveryKey) {
  constexpr int kKeys = 20000;
  for (int i = 0; i < kKeys; ++i)
    ASSERT_EQ(Set("key:" + std::to_string(i), std::to_string(i * 7)).code, KvResultCode::kStored);
  for (int i = 0; i < kKeys; ++i) {
    KvResult g = Get("key:" + std::to_string(i));
    ASSERT_EQ(g.code, KvResultCode::kHit) << i;
    ASSERT_EQ(g.value, std::to_string(i * 7));
  }
  EXPECT_EQ(Stats().items, static_cast<uint64_t>(kKeys));
}

TEST_F(MemtableTest, MemoryCapRefusesStoresAndKeepsOldValues) {
  Reset(64 << 10, 16);
  ASSERT_EQ(Set("k", "old").code, KvResultCode::kStored);
  int stored = 0;
  KvResult r;
  while ((r = Set("f" + std::to_string(stored), std::string(1000, 'x'))).code ==
         KvResultCode::kStored)
    ++stored;
  EXPECT_EQ(r.code, KvResultCode::kOutOfMemory);
  EXPECT_GT(stored, 10);
  EXPECT_EQ(Set("k", std::string(4000, 'n')).code, KvResultCode::kOutOfMemory);
  EXPECT_EQ(Get("k").value, "old");
  EXPECT_GE(Stats().oom, 2u);
  for (int i = 0; i < stored; ++i)
    ASSERT_EQ(Get("f" + std::to_string(i)).value.size(), 1000u);
}

TEST_F(MemtableTest, ForeignMemoryIsNotTakenForAMemtable) {
  // The root of an actor that never ran Create: nothing is read past the bad magic.
  rt::ObjectId other_root;
  ASSERT_EQ(table_->dmo_malloc(kActor, 64, &other_root), rt::Status::kOk);
  rt::ActorContext ctx(kActor, other_root, *table_, false);
  EXPECT_EQ(Memtable(ctx, now_).Execute({.code = KvOpCode::kGet, .key = "k"}).code,
            KvResultCode::kBadRequest);
}

}  // namespace
}  // namespace wave::kv
