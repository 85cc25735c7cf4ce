// The priority table reader trusts nothing in the mapping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "policies/sched/shinjuku/prio_table.h"

namespace wave::agents {
namespace {

struct Mem {
  explicit Mem(uint32_t entries) : words((64 + 16 * entries) / 8) {}
  void* data() { return words.data(); }
  size_t size() const { return words.size() * 8; }
  wave_prio_table_hdr* hdr() { return reinterpret_cast<wave_prio_table_hdr*>(words.data()); }
  wave_prio_entry* entry(uint32_t k) { return reinterpret_cast<wave_prio_entry*>(hdr() + 1) + k; }
  std::vector<uint64_t> words;
};

std::map<uint32_t, uint32_t> read_all(PrioTableReader& r) {
  std::map<uint32_t, uint32_t> out;
  r.scan([&](uint32_t tid, uint32_t qos) { out[tid] = qos; });
  return out;
}

TEST(PrioTable, WriteAndRead) {
  Mem m(8);
  ASSERT_TRUE(PrioTableWriter::format(m.data(), m.size(), 8));
  PrioTableWriter w(m.data(), m.size());
  PrioTableReader r(m.data(), m.size());
  EXPECT_TRUE(r.valid());
  uint64_t g0 = r.gen();
  ASSERT_TRUE(w.set(0, 100, 1));
  ASSERT_TRUE(w.set(5, 200, 7));
  EXPECT_EQ(r.gen(), g0 + 2);
  EXPECT_EQ(read_all(r), (std::map<uint32_t, uint32_t>{{100, 1}, {200, 7}}));
  ASSERT_TRUE(w.clear(0));
  EXPECT_EQ(read_all(r), (std::map<uint32_t, uint32_t>{{200, 7}}));
  EXPECT_FALSE(w.set(8, 1, 1));                       // no such entry
  EXPECT_FALSE(w.set(1, 1, WAVE_SCHED_QOS_CLASSES));  // no such class
}

TEST(PrioTable, InvalidHeadersAreRefused) {
  Mem m(8);
  ASSERT_TRUE(PrioTableWriter::format(m.data(), m.size(), 8));
  EXPECT_FALSE(PrioTableWriter::format(m.data(), m.size(), 9));  // does not fit
  auto refused = [&](auto mutate) {
    Mem c = m;
    mutate(c);
    PrioTableReader r(c.data(), c.size());
    bool scanned = r.scan([](uint32_t, uint32_t) {});
    return !r.valid() && !scanned && r.stats().bad_header == 1;
  };
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->magic = 0; }));
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->version = 2; }));
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->entry_size = 32; }));
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->nr_classes = 9; }));
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->nr_entries = 9; }));  // past the mapping
  EXPECT_TRUE(refused([](Mem& c) { c.hdr()->nr_entries = 0xffffffffu; }));
  PrioTableReader tiny(m.data(), 63);
  EXPECT_FALSE(tiny.valid());
  PrioTableReader null(nullptr, 4096);
  EXPECT_FALSE(null.valid());
  EXPECT_EQ(null.gen(), 0u);
}

TEST(PrioTable, BadAndTornEntriesAreSkipped) {
  Mem m(4);
  ASSERT_TRUE(PrioTableWriter::format(m.data(), m.size(), 4));
  PrioTableWriter w(m.data(), m.size());
  ASSERT_TRUE(w.set(0, 1, 2));
  ASSERT_TRUE(w.set(1, 2, 3));
  ASSERT_TRUE(w.set(2, 3, 4));
  m.entry(0)->qos = 99;  // out of range
  m.entry(1)->flags = 1;
  m.entry(2)->seq = 5;  // a writer holds it
  PrioTableReader r(m.data(), m.size());
  EXPECT_TRUE(read_all(r).empty());
  EXPECT_EQ(r.stats().bad_entries, 2u);
  EXPECT_EQ(r.stats().torn, 1u);
  EXPECT_FALSE(w.set(2, 3, 1));  // held by another writer
}

TEST(PrioTable, ConcurrentWriterNeverYieldsAMixedEntry) {
  Mem m(2);
  ASSERT_TRUE(PrioTableWriter::format(m.data(), m.size(), 2));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    PrioTableWriter w(m.data(), m.size());
    // tid and class always change together: tid = 1000 + class.
    for (uint32_t k = 0; !stop.load(std::memory_order_relaxed); k++) {
      uint32_t qos = k % WAVE_SCHED_QOS_CLASSES;
      w.set(0, 1000 + qos, qos);
      // Leave the entry stable now and then, as a real application does.
      if (k % 64 == 0)
        std::this_thread::yield();
    }
  });
  PrioTableReader r(m.data(), m.size());
  while (r.gen() == 0)
    std::this_thread::yield();  // the writer started
  uint64_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int i = 0; (i < 20000 || seen < 100) && std::chrono::steady_clock::now() < deadline; i++) {
    r.scan([&](uint32_t tid, uint32_t qos) {
      EXPECT_EQ(tid, 1000 + qos);
      seen++;
    });
  }
  stop = true;
  writer.join();
  EXPECT_GT(seen, 0u);
}

}  // namespace
}  // namespace wave::agents
