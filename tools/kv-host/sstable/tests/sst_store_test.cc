// The SSTable store: ingest, newest-first lookups with tombstones and expiry, restart, the
// leftovers of a crash, idempotent and stale batches, and corrupt files refused.
#include "sst_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace wave::kv {
namespace {

namespace fs = std::filesystem;

class SstStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wave-sst-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SstStore> OpenStore() {
    Result<std::unique_ptr<SstStore>> s = SstStore::Open(dir_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s.value()) : nullptr;
  }

  static std::vector<std::byte> Batch(uint32_t shard, uint64_t gen, uint64_t last_op,
                                      std::vector<FlushEntry> entries) {
    FlushBatchWriter w({shard, gen, last_op ? 1u : 0u, last_op});
    for (FlushEntry& e : entries)
      EXPECT_TRUE(w.Add(std::move(e)));
    Result<std::vector<std::byte>> b = w.Encode();
    EXPECT_TRUE(b.ok());
    return b.ok() ? b.value() : std::vector<std::byte>{};
  }

  // The shard's whole content after a flush_all (WAVE_KV_FLUSH_REPLACES_OLDER).
  static std::vector<std::byte> Replacing(uint32_t shard, uint64_t gen, uint64_t last_op,
                                          std::vector<FlushEntry> entries) {
    FlushBatchWriter w({shard, gen, last_op, last_op, true});
    for (FlushEntry& e : entries)
      EXPECT_TRUE(w.Add(std::move(e)));
    Result<std::vector<std::byte>> b = w.Encode();
    EXPECT_TRUE(b.ok());
    return b.ok() ? b.value() : std::vector<std::byte>{};
  }

  std::vector<char> ReadFile(const std::string& name) const {
    std::vector<char> bytes(fs::file_size(dir_ + "/" + name));
    std::ifstream(dir_ + "/" + name, std::ios::binary).read(bytes.data(), bytes.size());
    return bytes;
  }
  void WriteFile(const std::string& name, const std::vector<char>& bytes) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary).write(bytes.data(), bytes.size());
  }

  static std::string Get(SstStore& s, uint32_t shard, std::string key, int64_t now = 1000) {
    Result<std::optional<SstEntry>> r = s.Lookup(shard, key, now);
    if (!r.ok())
      return "error: " + r.error().message;
    return r->has_value() ? (*r)->value : "<miss>";
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_))
      out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

FlushEntry Item(std::string k, std::string v, uint64_t exptime = 0) {
  return FlushEntry{std::move(k), std::move(v), 42, exptime, 7, false};
}
FlushEntry Del(std::string k) {
  return FlushEntry{std::move(k), "", 0, 0, 8, true};
}

TEST_F(SstStoreTest, IngestThenLookupEveryField) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 10, {Item("b", "2"), Item("a", "1"), Item("c", "")})));
  Result<std::optional<SstEntry>> r = s->Lookup(0, "a", 1000);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->value, "1");
  EXPECT_EQ((*r)->flags, 42u);
  EXPECT_EQ((*r)->cas, 7u);
  EXPECT_EQ(Get(*s, 0, "c"), "");
  EXPECT_EQ(Get(*s, 0, "zz"), "<miss>");
  EXPECT_EQ(Get(*s, 1, "a"), "<miss>");  // another shard
  EXPECT_EQ(s->max_op(0), 10u);
  EXPECT_EQ(s->max_op(1), 0u);
  SstStoreStats st = s->stats();
  EXPECT_EQ(st.tables, 1u);
  EXPECT_EQ(st.entries, 3u);
  EXPECT_EQ(st.lookups, 4u);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(Files(), std::vector<std::string>{"s0-g1-1.sst"});
}

TEST_F(SstStoreTest, ManyEntriesAllFoundByBinarySearch) {
  auto s = OpenStore();
  std::vector<FlushEntry> items;
  for (int i = 0; i < 2000; ++i)
    items.push_back(Item("key" + std::to_string(i * 7919 % 2000), "v" + std::to_string(i)));
  ASSERT_TRUE(s->IngestBytes(Batch(2, 1, 0, std::move(items))));
  for (int i = 0; i < 2000; ++i)
    ASSERT_EQ(Get(*s, 2, "key" + std::to_string(i * 7919 % 2000)), "v" + std::to_string(i));
  EXPECT_EQ(Get(*s, 2, "key2000"), "<miss>");
  EXPECT_EQ(Get(*s, 2, "kez"), "<miss>");
  EXPECT_EQ(Get(*s, 2, "a"), "<miss>");
}

TEST_F(SstStoreTest, NewestWinsAndTombstoneHidesOlderValue) {
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 5, {Item("k", "old"), Item("j", "j1"), Item("x", "x1")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 9, {Del("k"), Item("j", "j2")})));
  EXPECT_EQ(Get(*s, 0, "k"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "j"), "j2");
  EXPECT_EQ(Get(*s, 0, "x"), "x1");
  ASSERT_TRUE(s->IngestBytes(Batch(0, 3, 12, {Item("k", "new")})));
  EXPECT_EQ(Get(*s, 0, "k"), "new");
  EXPECT_EQ(s->max_op(0), 12u);
}

TEST_F(SstStoreTest, ExpiredEntriesAreMissesAndHideOlderValues) {
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 0, {Item("k", "old")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 0, {Item("k", "short", 500), Item("n", "never", 0)})));
  EXPECT_EQ(Get(*s, 0, "k", 499), "short");
  EXPECT_EQ(Get(*s, 0, "k", 500), "<miss>");
  EXPECT_EQ(Get(*s, 0, "k", 10000), "<miss>");
  EXPECT_EQ(Get(*s, 0, "n", 1LL << 40), "never");
}

TEST_F(SstStoreTest, ReingestIsIdempotentAndStaleOrDifferentBatchesAreRefused) {
  auto s = OpenStore();
  std::vector<std::byte> g1 = Batch(0, 1, 3, {Item("a", "1")});
  ASSERT_TRUE(s->IngestBytes(g1));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 3, 6, {Item("a", "3")})));
  Status again = s->IngestBytes(g1);  // a resend whose acknowledgement was lost
  EXPECT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(s->stats().duplicate_batches, 1u);
  Status stale = s->IngestBytes(Batch(0, 2, 4, {Item("a", "2")}));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ESTALE);
  Status differs = s->IngestBytes(Batch(0, 3, 6, {Item("a", "other")}));
  ASSERT_FALSE(differs.ok());
  EXPECT_EQ(differs.error().code, EEXIST);
  std::vector<std::byte> bad = g1;
  bad.back() ^= std::byte{1};
  EXPECT_FALSE(s->IngestBytes(bad).ok());
  EXPECT_EQ(s->stats().refused_batches, 3u);
  EXPECT_EQ(s->stats().tables, 2u);
  EXPECT_EQ(Get(*s, 0, "a"), "3");
}

TEST_F(SstStoreTest, RestartFindsExactlyWhatWasIngested) {
  std::map<std::pair<uint32_t, std::string>, std::string> expect;
  {
    auto s = OpenStore();
    std::mt19937 rng(7);
    for (uint64_t gen = 1; gen <= 4; ++gen) {
      for (uint32_t shard = 0; shard < 3; ++shard) {
        std::vector<FlushEntry> items;
        std::set<std::string> keys;
        for (int i = 0; i < 50; ++i)
          keys.insert("k" + std::to_string(rng() % 100));
        for (const std::string& k : keys) {
          std::string v = "g" + std::to_string(gen) + "s" + std::to_string(shard) + k;
          if (rng() % 5 == 0) {
            items.push_back(Del(k));
            expect[{shard, k}] = "<miss>";
          } else {
            items.push_back(Item(k, v));
            expect[{shard, k}] = v;
          }
        }
        ASSERT_TRUE(s->IngestBytes(Batch(shard, gen, gen * 10 + shard, std::move(items))));
      }
    }
  }
  auto s = OpenStore();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().tables, 12u);
  EXPECT_EQ(s->stats().refused_files, 0u);
  for (uint32_t shard = 0; shard < 3; ++shard) {
    EXPECT_EQ(s->max_op(shard), 40u + shard);
    EXPECT_EQ(s->newest_generation(shard), 4u);
    for (int i = 0; i < 100; ++i) {
      std::string k = "k" + std::to_string(i);
      auto it = expect.find({shard, k});
      EXPECT_EQ(Get(*s, shard, k), it == expect.end() ? "<miss>" : it->second) << shard << k;
    }
  }
}

TEST_F(SstStoreTest, CrashLeftoversAreHandledAtOpen) {
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 1, {Item("a", "1")})));
    ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 2, {Item("b", "2"), Item("c", "3")})));
  }
  // A write that crashed before its rename, and a final file cut short (a disk that lied).
  std::ofstream(dir_ + "/s0-g3-3.sst.tmp") << "half a table";
  std::string g2 = dir_ + "/s0-g2-2.sst";
  fs::resize_file(g2, fs::file_size(g2) - 5);
  auto s = OpenStore();
  ASSERT_TRUE(s);
  SstStoreStats st = s->stats();
  EXPECT_EQ(st.deleted_tmp_files, 1u);
  EXPECT_EQ(st.refused_files, 1u);
  EXPECT_EQ(st.tables, 1u);
  EXPECT_FALSE(fs::exists(dir_ + "/s0-g3-3.sst.tmp"));
  EXPECT_EQ(Get(*s, 0, "a"), "1");
  EXPECT_EQ(Get(*s, 0, "b"), "<miss>");
}

TEST_F(SstStoreTest, EveryTruncationAndSeededFlipOfATableIsRefused) {
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->IngestBytes(Batch(1, 1, 1, {Item("a", "1"), Del("b"), Item("c", "xyz")})));
  }
  std::string path = dir_ + "/s1-g1-1.sst";
  std::vector<char> good(fs::file_size(path));
  std::ifstream(path, std::ios::binary).read(good.data(), good.size());
  auto write = [&](const std::vector<char>& bytes, size_t n) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), n);
  };
  for (size_t n = 0; n < good.size(); ++n) {
    write(good, n);
    EXPECT_FALSE(SstReader::Open(path).ok()) << "length " << n;
  }
  std::mt19937_64 rng(0x551);
  for (int round = 0; round < 500; ++round) {
    std::vector<char> b = good;
    b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    write(b, b.size());
    EXPECT_FALSE(SstReader::Open(path).ok()) << "round " << round;
  }
  write(good, good.size());
  Result<std::unique_ptr<SstReader>> r = SstReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->entry_count(), 3u);
}

TEST_F(SstStoreTest, WriterRefusesUnsortedEntries) {
  std::string a = "b", b = "a";
  std::vector<FlushEntryView> v{{a, "1"}, {b, "2"}};
  EXPECT_FALSE(WriteSst(dir_ + "/x.sst", SstMeta{}, v).ok());
  std::vector<FlushEntryView> dup{{b, "1"}, {b, "2"}};
  EXPECT_FALSE(WriteSst(dir_ + "/x.sst", SstMeta{}, dup).ok());
  EXPECT_TRUE(Files().empty());
}

TEST_F(SstStoreTest, CompactionKeepsNewestWinsAndDropsTombstones) {
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 3, {Item("k", "old"), Item("a", "a1"), Item("z", "z1")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 6, {Del("k"), Item("a", "a2")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 3, 9, {Item("z", "z3")})));
  std::string g1 = dir_ + "/s0-g1-1.sst";
  std::vector<char> g1_bytes(fs::file_size(g1));
  std::ifstream(g1, std::ios::binary).read(g1_bytes.data(), g1_bytes.size());

  EXPECT_FALSE(s->Compact(0, 4).ok());
  ASSERT_TRUE(s->Compact(0, 2));
  EXPECT_EQ(Files(), (std::vector<std::string>{"s0-g1-2.sst", "s0-g3-3.sst"}));
  SstStoreStats st = s->stats();
  EXPECT_EQ(st.tables, 2u);
  EXPECT_EQ(st.entries, 3u);  // a2, z1 merged (k's tombstone and old value gone), z3
  EXPECT_EQ(Get(*s, 0, "k"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "a"), "a2");
  EXPECT_EQ(Get(*s, 0, "z"), "z3");
  EXPECT_EQ(s->max_op(0), 9u);
  EXPECT_TRUE(s->IngestBytes(Batch(0, 2, 6, {Del("k"), Item("a", "a2")})).ok());  // covered
  EXPECT_EQ(s->stats().duplicate_batches, 1u);
  s.reset();

  // A compaction that crashed before it unlinked an input: that input would resurrect "k".
  std::ofstream(g1, std::ios::binary).write(g1_bytes.data(), g1_bytes.size());
  s = OpenStore();
  EXPECT_EQ(s->stats().deleted_superseded_files, 1u);
  EXPECT_EQ(s->stats().tables, 2u);
  EXPECT_FALSE(fs::exists(g1));
  EXPECT_EQ(Get(*s, 0, "k"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "a"), "a2");
  ASSERT_TRUE(s->Compact(0, 2));
  EXPECT_EQ(Files(), std::vector<std::string>{"s0-g1-3.sst"});
  EXPECT_EQ(Get(*s, 0, "z"), "z3");
  EXPECT_EQ(s->newest_generation(0), 3u);
}

TEST_F(SstStoreTest, ReplacingBatchHidesOlderTablesAndDeletesTheirFiles) {
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 4, {Item("a", "a1"), Item("b", "b1")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 8, {Item("c", "c2")})));
  ASSERT_TRUE(s->IngestBytes(Batch(1, 1, 3, {Item("a", "other shard")})));
  ASSERT_TRUE(s->IngestBytes(Replacing(0, 3, 0, {Item("b", "b3")})));
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "b"), "b3");
  EXPECT_EQ(Get(*s, 0, "c"), "<miss>");
  EXPECT_EQ(Get(*s, 1, "a"), "other shard");
  EXPECT_EQ(Files(), (std::vector<std::string>{"s0-g3-3.sst", "s1-g1-1.sst"}));
  SstStoreStats st = s->stats();
  EXPECT_EQ(st.tables, 2u);
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.replacing_batches, 1u);
  EXPECT_EQ(st.deleted_replaced_files, 2u);
  EXPECT_EQ(s->newest_generation(0), 3u);
  EXPECT_EQ(s->max_op(0), 8u);  // the replacing table stands for the ops of those it replaced
  s.reset();
  s = OpenStore();
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "b"), "b3");
  EXPECT_EQ(s->max_op(0), 8u);
}

TEST_F(SstStoreTest, EmptyReplacingBatchIsAFlushAllThatSurvivesRestart) {
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 2, {Item("a", "1"), Item("b", "2")})));
  std::vector<std::byte> flush_all = Replacing(0, 2, 3, {});
  ASSERT_EQ(flush_all.size(), sizeof(wave_kv_flush_hdr));
  ASSERT_TRUE(s->IngestBytes(flush_all));
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "b"), "<miss>");
  Status resend = s->IngestBytes(flush_all);
  EXPECT_TRUE(resend.ok()) << resend.error().message;
  Status stale = s->IngestBytes(Batch(0, 1, 2, {Item("a", "1"), Item("b", "2")}));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ESTALE);
  s.reset();
  s = OpenStore();
  EXPECT_EQ(s->stats().tables, 1u);
  EXPECT_EQ(s->stats().entries, 0u);
  EXPECT_EQ(s->newest_generation(0), 2u);
  EXPECT_EQ(s->max_op(0), 3u);
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  ASSERT_TRUE(s->IngestBytes(Batch(0, 3, 4, {Item("a", "after")})));
  EXPECT_EQ(Get(*s, 0, "a"), "after");
}

TEST_F(SstStoreTest, OpenDropsTablesAReplacingIngestCrashedBeforeDeleting) {
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 1, {Item("a", "1")})));
    ASSERT_TRUE(s->IngestBytes(Batch(0, 2, 2, {Item("b", "2")})));
  }
  std::vector<char> g1 = ReadFile("s0-g1-1.sst"), g2 = ReadFile("s0-g2-2.sst");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->IngestBytes(Replacing(0, 3, 3, {Item("c", "3")})));
  }
  // The crash: the replacing table is durable, the older ones were never unlinked.
  WriteFile("s0-g1-1.sst", g1);
  WriteFile("s0-g2-2.sst", g2);
  auto s = OpenStore();
  EXPECT_EQ(s->stats().deleted_replaced_files, 2u);
  EXPECT_EQ(Files(), std::vector<std::string>{"s0-g3-3.sst"});
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "b"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "c"), "3");
}

TEST_F(SstStoreTest, CompactionKeepsTheReplacingFlag) {
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->IngestBytes(Batch(0, 1, 1, {Item("a", "1")})));
  }
  std::vector<char> g1 = ReadFile("s0-g1-1.sst");
  auto s = OpenStore();
  ASSERT_TRUE(s->IngestBytes(Replacing(0, 2, 2, {Item("b", "2"), Del("x")})));
  ASSERT_TRUE(s->IngestBytes(Batch(0, 3, 3, {Item("c", "3")})));
  ASSERT_TRUE(s->Compact(0, 2));
  EXPECT_EQ(Files(), std::vector<std::string>{"s0-g2-3.sst"});
  s.reset();
  // A table older than the merged one, as a crash before the replacing ingest's unlink leaves.
  WriteFile("s0-g1-1.sst", g1);
  s = OpenStore();
  EXPECT_EQ(s->stats().deleted_replaced_files, 1u);
  EXPECT_EQ(Get(*s, 0, "a"), "<miss>");
  EXPECT_EQ(Get(*s, 0, "b"), "2");
  EXPECT_EQ(Get(*s, 0, "c"), "3");
}

}  // namespace
}  // namespace wave::kv
