#include "region_clip.h"

#include <gtest/gtest.h>

namespace wave::mem {
namespace {

constexpr uint64_t P = WAVE_MEM_PAGE_SIZE;

std::vector<Mapping> Maps() {
  return {{.start = 10 * P, .end = 20 * P, .name = ""},
          {.start = 20 * P, .end = 30 * P, .special = false, .name = "/lib/x.so"},
          {.start = 50 * P, .end = 60 * P, .name = ""},
          {.start = 70 * P, .end = 71 * P, .special = true, .name = "[vdso]"}};
}

TEST(RegionClip, OnlyMappedPartsLeaveAndKeepTheirCounts) {
  const std::vector<Region> in = {
      {.start = 0, .end = 15 * P, .target = 1, .age = 4, .nr_accesses = 2},
      {.start = 15 * P, .end = 80 * P, .target = 1, .age = 9, .nr_accesses = 0, .flags = 1},
  };
  std::vector<Region> out;
  ClipCounters c;
  ClipToMappings(in, Maps(), &out, &c);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].start, 10 * P);
  EXPECT_EQ(out[0].end, 15 * P);
  EXPECT_EQ(out[0].nr_accesses, 2);
  EXPECT_EQ(out[1].start, 15 * P);
  EXPECT_EQ(out[1].end, 20 * P);
  EXPECT_EQ(out[2].start, 20 * P);
  EXPECT_EQ(out[2].end, 30 * P);
  EXPECT_EQ(out[3].start, 50 * P);
  EXPECT_EQ(out[3].end, 60 * P);
  for (size_t i = 1; i < 4; i++) {
    EXPECT_EQ(out[i].age, 9u);
    EXPECT_EQ(out[i].flags, 1);
  }
  // 10 pages before the first mapping, 20 + 10 + 1 (the vdso) + 9 pages of gaps after.
  EXPECT_EQ(c.unmapped_bytes, (10 + 20 + 10 + 10) * P);
  EXPECT_EQ(c.regions_in, 2u);
  EXPECT_EQ(c.regions_out, 4u);
}

TEST(RegionClip, ARegionInNoMappingDisappears) {
  const std::vector<Region> in = {{.start = 35 * P, .end = 45 * P, .target = 1}};
  std::vector<Region> out;
  ClipCounters c;
  ClipToMappings(in, Maps(), &out, &c);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.unmapped_bytes, 10 * P);
}

TEST(RegionClip, TheBatchLimitHolds) {
  std::vector<Mapping> maps;
  for (uint64_t i = 0; i < WAVE_MEM_MAX_REGIONS + 10; i++)
    maps.push_back({.start = 2 * i * P, .end = (2 * i + 1) * P, .name = ""});
  const std::vector<Region> in = {
      {.start = 0, .end = 2 * (WAVE_MEM_MAX_REGIONS + 10) * P, .target = 1}};
  std::vector<Region> out;
  ClipCounters c;
  ClipToMappings(in, maps, &out, &c);
  EXPECT_EQ(out.size(), WAVE_MEM_MAX_REGIONS);
  EXPECT_EQ(c.overflow, 10u);
}

}  // namespace
}  // namespace wave::mem
