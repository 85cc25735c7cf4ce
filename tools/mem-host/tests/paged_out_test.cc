#include "paged_out.h"

#include <gtest/gtest.h>

namespace wave::mem {
namespace {

TEST(PagedOutSet, AddMergeOverlapClear) {
  PagedOutSet s;
  s.Add(1, 0x1000, 0x3000);
  s.Add(1, 0x3000, 0x5000);  // adjacent: merged
  s.Add(2, 0x1000, 0x2000);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.Overlaps(1, 0x4000, 0x9000));
  EXPECT_TRUE(s.Overlaps(1, 0x0, 0x1001));
  EXPECT_FALSE(s.Overlaps(1, 0x5000, 0x6000));
  EXPECT_FALSE(s.Overlaps(1, 0x0, 0x1000));
  EXPECT_FALSE(s.Overlaps(3, 0x1000, 0x2000));
  s.Clear(1, 0x2000, 0x3000);  // splits
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.Overlaps(1, 0x2000, 0x3000));
  EXPECT_TRUE(s.Overlaps(1, 0x1000, 0x2000));
  EXPECT_TRUE(s.Overlaps(1, 0x3000, 0x3001));
  s.ClearTarget(1);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.Overlaps(2, 0x1000, 0x2000));
}

// Ranges is what the kernel path's snapshot is made of; changes tells when to push it again.
TEST(PagedOutSet, RangesAreSortedPerTargetAndChangesCountEveryEdit) {
  PagedOutSet s;
  const uint64_t c0 = s.changes();
  s.Add(1, 0x8000, 0x9000);
  s.Add(1, 0x1000, 0x3000);
  s.Add(2, 0x1000, 0x2000);
  s.Add(1, 0x3000, 0x4000);  // merges with 0x1000..0x3000
  EXPECT_EQ(s.changes(), c0 + 4);
  const auto r = s.Ranges(1);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<uint64_t, uint64_t>{0x1000, 0x4000}));
  EXPECT_EQ(r[1], (std::pair<uint64_t, uint64_t>{0x8000, 0x9000}));
  EXPECT_TRUE(s.Ranges(3).empty());
  const uint64_t c1 = s.changes();
  s.Clear(1, 0x5000, 0x6000);  // touches nothing
  EXPECT_EQ(s.changes(), c1);
  s.Clear(1, 0x2000, 0x3000);
  EXPECT_GT(s.changes(), c1);
  const uint64_t c2 = s.changes();
  s.ClearTarget(2);
  EXPECT_GT(s.changes(), c2);
  EXPECT_TRUE(s.Ranges(2).empty());
}

TEST(PagedOutSet, BoundedDropsOldest) {
  PagedOutSet s(4);
  for (uint64_t i = 0; i < 10; i++)
    s.Add(1, i * 0x10000, i * 0x10000 + 0x1000);
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.dropped(), 6u);
  EXPECT_FALSE(s.Overlaps(1, 0, 0x1000));
  EXPECT_TRUE(s.Overlaps(1, 9 * 0x10000, 9 * 0x10000 + 1));
  for (uint64_t i = 0; i < 100000; i++) {
    s.Add(2, 0x1000, 0x2000);  // the same range again and again: merged, never grows
    s.Clear(2, 0x1000, 0x2000);
  }
  EXPECT_LE(s.size(), 4u);
}

}  // namespace
}  // namespace wave::mem
