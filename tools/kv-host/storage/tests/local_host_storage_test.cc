// LocalHostStorage: calls run in order on its worker, never inline; flush and lookup with
// tombstones and expiry, resends and stale generations, recovery, compaction, and stopping.
#include "local_host_storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

namespace wave::kv {
namespace {

namespace fs = std::filesystem;
constexpr auto kGenerous = std::chrono::seconds(30);

FlushEntry Item(std::string k, std::string v, uint64_t exptime = 0) {
  return FlushEntry{std::move(k), std::move(v), 5, exptime, 9, false};
}
FlushEntry Del(std::string k) {
  return FlushEntry{std::move(k), "", 0, 0, 10, true};
}

std::vector<std::byte> Batch(uint32_t shard, uint64_t gen, uint64_t last_op,
                             std::vector<FlushEntry> entries, bool replaces = false) {
  FlushBatchWriter w({shard, gen, last_op ? 1u : 0u, last_op, replaces});
  for (FlushEntry& e : entries)
    EXPECT_TRUE(w.Add(std::move(e)));
  Result<std::vector<std::byte>> b = w.Encode();
  EXPECT_TRUE(b.ok());
  return b.ok() ? b.value() : std::vector<std::byte>{};
}

class LocalHostStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wave-khs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<LocalHostStorage> Open(size_t compact_above = 8) {
    auto s = LocalHostStorage::Open(dir_, {.compact_above_tables = compact_above});
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s.value()) : nullptr;
  }

  // Flushes and waits; the error code (0: OK).
  static int FlushSync(HostStorage& h, std::vector<std::byte> batch) {
    std::promise<int> p;
    h.Flush(std::move(batch), [&](Status s) { p.set_value(s ? 0 : s.error().code); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(kGenerous), std::future_status::ready);
    return f.get();
  }
  static std::string LookupSync(HostStorage& h, uint32_t shard, std::string key,
                                int64_t now = 1000) {
    std::promise<std::string> p;
    h.Lookup(shard, std::move(key), now, [&](Result<std::optional<StoredValue>> r) {
      if (!r)
        p.set_value("error " + std::to_string(r.error().code));
      else
        p.set_value(r->has_value() ? (*r)->value : "<miss>");
    });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(kGenerous), std::future_status::ready);
    return f.get();
  }

  std::string dir_;
};

TEST_F(LocalHostStorageTest, FlushThenLookupWithoutWaitingSeesTheFlush) {
  auto h = Open();
  std::promise<void> flushed;
  h->Flush(Batch(1, 1, 3, {Item("k", "v1"), Item("j", "jv")}), [&](Status s) {
    EXPECT_TRUE(s.ok()) << s.error().message;
    flushed.set_value();
  });
  // Not waited for: the worker runs calls in order, so the lookup sees the batch.
  std::promise<StoredValue> found;
  h->Lookup(1, "k", 1000, [&](Result<std::optional<StoredValue>> r) {
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->has_value());
    found.set_value(**r);
  });
  auto f = found.get_future();
  ASSERT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  StoredValue v = f.get();
  EXPECT_EQ(v.value, "v1");
  EXPECT_EQ(v.flags, 5u);
  EXPECT_EQ(v.cas, 9u);
  flushed.get_future().wait();
  EXPECT_EQ(LookupSync(*h, 1, "nope"), "<miss>");
  EXPECT_EQ(LookupSync(*h, 2, "k"), "<miss>");
}

TEST_F(LocalHostStorageTest, TombstonesAndExpiryHideOlderValues) {
  auto h = Open();
  ASSERT_EQ(FlushSync(*h, Batch(0, 1, 0, {Item("d", "old"), Item("e", "old")})), 0);
  ASSERT_EQ(FlushSync(*h, Batch(0, 2, 0, {Del("d"), Item("e", "new", 500)})), 0);
  EXPECT_EQ(LookupSync(*h, 0, "d"), "<miss>");
  EXPECT_EQ(LookupSync(*h, 0, "e", 499), "new");
  EXPECT_EQ(LookupSync(*h, 0, "e", 500), "<miss>");
}

TEST_F(LocalHostStorageTest, ResendIsOkStaleAndGarbageAreRefused) {
  auto h = Open();
  std::vector<std::byte> g2 = Batch(0, 2, 4, {Item("a", "2")});
  ASSERT_EQ(FlushSync(*h, g2), 0);
  EXPECT_EQ(FlushSync(*h, g2), 0);  // its acknowledgement was lost
  EXPECT_EQ(FlushSync(*h, Batch(0, 1, 2, {Item("a", "1")})), ESTALE);
  std::vector<std::byte> garbage = g2;
  garbage[70] ^= std::byte{0x40};
  EXPECT_NE(FlushSync(*h, garbage), 0);
  EXPECT_NE(FlushSync(*h, {}), 0);
  EXPECT_EQ(LookupSync(*h, 0, "a"), "2");
  EXPECT_EQ(h->stats().flushes, 2u);
  EXPECT_EQ(h->stats().flush_errors, 3u);
}

TEST_F(LocalHostStorageTest, RecoverReportsNewestGenerationAndMaxOpAcrossRestart) {
  {
    auto h = Open();
    Result<ShardRecovery> none = h->Recover(4);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->newest_generation, 0u);
    EXPECT_EQ(none->max_op, 0u);
    h->Flush(Batch(4, 1, 7, {Item("a", "1")}), [](Status) {});
    h->Flush(Batch(4, 2, 11, {Item("b", "2")}), [](Status) {});
    Result<ShardRecovery> r = h->Recover(4);  // after the flushes made before it
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->newest_generation, 2u);
    EXPECT_EQ(r->max_op, 11u);
  }
  auto h = Open();
  Result<ShardRecovery> r = h->Recover(4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->newest_generation, 2u);
  EXPECT_EQ(r->max_op, 11u);
  EXPECT_EQ(LookupSync(*h, 4, "a"), "1");
}

TEST_F(LocalHostStorageTest, CompactsAShardHoldingMoreThanTheLimit) {
  auto h = Open(3);
  for (uint64_t gen = 1; gen <= 4; ++gen)
    ASSERT_EQ(FlushSync(*h, Batch(0, gen, gen, {Item("k" + std::to_string(gen), "v")})), 0);
  ASSERT_TRUE(h->Recover(0).ok());  // the compaction after the 4th flush ran before this
  EXPECT_EQ(h->stats().compactions, 1u);
  EXPECT_EQ(h->store_stats().tables, 1u);
  for (uint64_t gen = 1; gen <= 4; ++gen)
    EXPECT_EQ(LookupSync(*h, 0, "k" + std::to_string(gen)), "v");
}

TEST_F(LocalHostStorageTest, CallbacksNeverRunInline) {
  auto h = Open();
  const std::thread::id caller = std::this_thread::get_id();
  std::promise<std::thread::id> flush_thread, lookup_thread;
  h->Flush(Batch(0, 1, 0, {Item("a", "1")}),
           [&](Status) { flush_thread.set_value(std::this_thread::get_id()); });
  h->Lookup(0, "a", 0, [&](Result<std::optional<StoredValue>>) {
    lookup_thread.set_value(std::this_thread::get_id());
  });
  EXPECT_NE(flush_thread.get_future().get(), caller);
  EXPECT_NE(lookup_thread.get_future().get(), caller);
  h->Stop();
  std::promise<std::thread::id> after_stop;
  h->Lookup(0, "a", 0, [&](Result<std::optional<StoredValue>> r) {
    EXPECT_FALSE(r.ok());
    after_stop.set_value(std::this_thread::get_id());
  });
  EXPECT_NE(after_stop.get_future().get(), caller);
}

TEST_F(LocalHostStorageTest, DestructorCompletesEveryPendingCall) {
  std::atomic<int> ok{0}, cancelled{0}, other{0};
  {
    auto h = Open();
    // The first callback holds the worker until every other call is queued behind it.
    std::promise<void> release, started;
    std::shared_future<void> released = release.get_future().share();
    h->Flush(Batch(0, 1, 0, {Item("a", "1")}), [&, released](Status s) {
      started.set_value();
      released.wait();
      (s ? ok : other)++;
    });
    started.get_future().wait();
    for (int i = 0; i < 50; ++i) {
      h->Lookup(0, "a", 0, [&](Result<std::optional<StoredValue>> r) {
        (r ? ok : r.error().code == ECANCELED ? cancelled : other)++;
      });
    }
    h->Stop();
    release.set_value();
    EXPECT_FALSE(h->Recover(0).ok());
  }
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(cancelled.load(), 50);
  EXPECT_EQ(other.load(), 0);
}

}  // namespace
}  // namespace wave::kv
