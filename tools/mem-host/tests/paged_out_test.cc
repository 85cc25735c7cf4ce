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
