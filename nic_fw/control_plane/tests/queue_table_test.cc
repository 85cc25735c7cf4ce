#include "control_plane/queue_table.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "base/shared_word.h"

namespace wave::nic {
namespace {

constexpr uint64_t kBar = 1 << 20;

QueueDesc Good() {
  QueueDesc d;
  d.state = WAVE_QSTATE_ACTIVE;
  d.offset = 0x2000;
  d.size = 0x1000;
  d.dir = WAVE_DIR_HOST_TO_NIC;
  d.cache_mode = WAVE_CACHE_WC;
  d.kind = WAVE_QKIND_MESSAGE;
  d.vector = 1;
  return d;
}

TEST(CheckDesc, AcceptsAGoodDesc) {
  EXPECT_EQ(CheckDesc(Good(), kBar, 8), DescError::kOk);
  QueueDesc d = Good();
  d.offset = kBar - 0x1000;  // the last page
  EXPECT_EQ(CheckDesc(d, kBar, 8), DescError::kOk);
  d.dir = WAVE_DIR_NIC_TO_HOST;
  d.cache_mode = WAVE_CACHE_WB;
  d.kind = WAVE_QKIND_DMA;
  d.vector = 7;
  EXPECT_EQ(CheckDesc(d, kBar, 8), DescError::kOk);
}

TEST(CheckDesc, RejectsEachBadField) {
  struct Case {
    void (*mutate)(QueueDesc&);
    DescError want;
  };
  const Case cases[] = {
      {[](QueueDesc& d) { d.state = 2; }, DescError::kBadState},
      {[](QueueDesc& d) { d.offset = 0x2001; }, DescError::kMisaligned},
      {[](QueueDesc& d) { d.size = 0x1800; }, DescError::kMisaligned},
      {[](QueueDesc& d) { d.size = 0; }, DescError::kMisaligned},
      {[](QueueDesc& d) { d.offset = 0; }, DescError::kOutsideArea},
      {[](QueueDesc& d) { d.offset = WAVE_BAR_DOORBELL_OFF; }, DescError::kOutsideArea},
      {[](QueueDesc& d) { d.offset = kBar; }, DescError::kOutsideArea},
      {[](QueueDesc& d) { d.size = kBar; }, DescError::kOutsideArea},
      {[](QueueDesc& d) { d.size = 2 * kBar; }, DescError::kOutsideArea},
      {[](QueueDesc& d) { d.offset = ~0xfffull; }, DescError::kOutsideArea},
      {[](QueueDesc& d) {
         d.offset = ~0xfffull;
         d.size = 0x2000;  // offset + size wraps to a small number
       },
       DescError::kOutsideArea},
      {[](QueueDesc& d) { d.dir = 0; }, DescError::kBadDir},
      {[](QueueDesc& d) { d.dir = 3; }, DescError::kBadDir},
      {[](QueueDesc& d) { d.kind = WAVE_QKIND_MAX + 1; }, DescError::kBadKind},
      {[](QueueDesc& d) { d.cache_mode = WAVE_CACHE_DEFAULT; }, DescError::kBadCacheMode},
      {[](QueueDesc& d) { d.cache_mode = WAVE_CACHE_WB + 1; }, DescError::kBadCacheMode},
      {[](QueueDesc& d) { d.vector = 8; }, DescError::kBadVector},
      {[](QueueDesc& d) { d.vector = 0xffff; }, DescError::kBadVector},
  };
  for (const Case& c : cases) {
    QueueDesc d = Good();
    c.mutate(d);
    EXPECT_EQ(CheckDesc(d, kBar, 8), c.want) << DescErrorName(c.want);
  }
  QueueDesc d = Good();
  d.vector = 4;
  EXPECT_EQ(CheckDesc(d, kBar, 4), DescError::kBadVector);  // fewer vectors wired
}

class QueueTableTest : public ::testing::Test {
 protected:
  QueueTableTest() : bar_(kBar / 8) {}  // uint64_t words: aligned like a mapping
  std::span<std::byte> bar() {
    return {reinterpret_cast<std::byte*>(bar_.data()), bar_.size() * 8};
  }
  wave_control_page* cp() { return reinterpret_cast<wave_control_page*>(bar_.data()); }
  void Put(uint32_t id, const QueueDesc& d) {
    wave_queue_desc& w = cp()->queues[id];
    StoreLe(w.generation, d.generation);
    StoreLe(w.offset, d.offset);
    StoreLe(w.size, d.size);
    StoreLe(w.dir, d.dir);
    StoreLe(w.cache_mode, d.cache_mode);
    StoreLe(w.kind, d.kind);
    StoreLe(w.vector, d.vector);
    StoreLe(w.state, d.state);
  }

  std::vector<uint64_t> bar_;
};

TEST_F(QueueTableTest, EmptyTableHasNoQueues) {
  QueueTable t;
  ScanResult r = t.Scan(bar(), 8);
  EXPECT_EQ(r.active, 0u);
  EXPECT_EQ(r.bad, 0u);
  EXPECT_TRUE(t.active().empty());
  EXPECT_EQ(t.Find(0), nullptr);
}

TEST_F(QueueTableTest, KeepsGoodQueuesWithTheirRegion) {
  QueueDesc a = Good();
  QueueDesc b = Good();
  b.offset = 0x3000;
  b.size = 0x4000;
  b.dir = WAVE_DIR_NIC_TO_HOST;
  Put(2, a);
  Put(31, b);
  StoreLe(cp()->queue_table_gen, 9u);
  QueueTable t;
  ScanResult r = t.Scan(bar(), 8);
  EXPECT_EQ(r.active, 2u);
  EXPECT_EQ(r.bad, 0u);
  EXPECT_EQ(t.generation(), 9u);
  const Queue* q = t.Find(31);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->region.data(), bar().data() + 0x3000);
  EXPECT_EQ(q->region.size(), 0x4000u);
  EXPECT_EQ(q->desc.dir, WAVE_DIR_NIC_TO_HOST);
  EXPECT_EQ(t.Find(32), nullptr);
}

TEST_F(QueueTableTest, OverlappingQueuesAreBothRejected) {
  QueueDesc a = Good();
  a.size = 0x3000;  // 0x2000..0x5000
  QueueDesc b = Good();
  b.offset = 0x4000;  // 0x4000..0x5000
  QueueDesc c = Good();
  c.offset = 0x5000;  // adjacent to a, fine
  Put(0, a);
  Put(1, b);
  Put(2, c);
  QueueTable t;
  ScanResult r = t.Scan(bar(), 8);
  EXPECT_EQ(r.active, 1u);
  EXPECT_EQ(r.bad, 2u);
  EXPECT_EQ(t.last_error(0), DescError::kOverlap);
  EXPECT_EQ(t.last_error(1), DescError::kOverlap);
  EXPECT_NE(t.Find(2), nullptr);
}

TEST_F(QueueTableTest, ABadDescDoesNotShadowAGoodOne) {
  // A desc rejected for its own fields is not trusted enough to knock out a good queue.
  QueueDesc bad = Good();
  bad.size = 0x10000;
  bad.dir = 9;
  QueueDesc good = Good();
  good.offset = 0x6000;
  Put(0, bad);
  Put(1, good);
  QueueTable t;
  ScanResult r = t.Scan(bar(), 8);
  EXPECT_EQ(r.active, 1u);
  EXPECT_EQ(r.bad, 1u);
  EXPECT_EQ(t.last_error(0), DescError::kBadDir);
  EXPECT_NE(t.Find(1), nullptr);
}

TEST_F(QueueTableTest, RescanReplacesTheView) {
  Put(0, Good());
  QueueTable t;
  EXPECT_EQ(t.Scan(bar(), 8).active, 1u);
  StoreLe(cp()->queues[0].state, WAVE_QSTATE_FREE);
  EXPECT_EQ(t.Scan(bar(), 8).active, 0u);
  EXPECT_EQ(t.Find(0), nullptr);
}

TEST_F(QueueTableTest, TooSmallBarScansNothing) {
  Put(0, Good());
  QueueTable t;
  EXPECT_EQ(t.Scan(bar().first(WAVE_BAR_MIN_SIZE - 1), 8).active, 0u);
}

}  // namespace
}  // namespace wave::nic
