// The mappings snapshot wave.ko clips to (maps_snapshot.h) and the clipping helpers of
// uapi/wave_mem_kpath.h that wave.ko runs, checked against the user path's ClipToMappings.
#include "maps_snapshot.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "paged_out.h"
#include "region_clip.h"

// Designated initializers leave Mapping::name empty on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace wave::mem {
namespace {

constexpr uint64_t P = WAVE_MEM_PAGE_SIZE;

TEST(MapsSnapshot, LeavesOutSpecialMergesTouchingAlignsInward) {
  const std::vector<Mapping> maps = {
      {.start = 10 * P, .end = 20 * P},
      {.start = 20 * P, .end = 30 * P, .name = "/lib/x.so"},
      {.start = 40 * P + 100, .end = 41 * P},  // nothing left after alignment
      {.start = 50 * P, .end = 60 * P},
      {.start = 70 * P, .end = 71 * P, .special = true, .name = "[vdso]"},
  };
  const auto r = MapsSnapshot(maps, WAVE_MEM_KMAPS_MAX_RANGES);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].start, 10 * P);
  EXPECT_EQ(r[0].end, 30 * P);
  EXPECT_EQ(r[1].start, 50 * P);
  EXPECT_EQ(r[1].end, 60 * P);
  EXPECT_EQ(wave_mem_kmaps_check(r.data(), static_cast<uint32_t>(r.size())), 0);
}

TEST(MapsSnapshot, PastTheBoundClosesTheSmallestGapsFirst) {
  // Gaps of 5, 1, 9, 1 pages between five one-page mappings; keep 3 ranges.
  const std::vector<Mapping> maps = {{.start = 0 * P, .end = 1 * P},
                                     {.start = 6 * P, .end = 7 * P},
                                     {.start = 8 * P, .end = 9 * P},
                                     {.start = 18 * P, .end = 19 * P},
                                     {.start = 20 * P, .end = 21 * P}};
  const auto r = MapsSnapshot(maps, 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].start, 0u);
  EXPECT_EQ(r[0].end, 1 * P);
  EXPECT_EQ(r[1].start, 6 * P);
  EXPECT_EQ(r[1].end, 9 * P);
  EXPECT_EQ(r[2].start, 18 * P);
  EXPECT_EQ(r[2].end, 21 * P);
  // Ties: equal gaps are closed in address order, exactly as many as needed.
  std::vector<Mapping> even;
  for (uint64_t i = 0; i < 10; i++)
    even.push_back({.start = 2 * i * P, .end = (2 * i + 1) * P});
  const auto e = MapsSnapshot(even, 4);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].end, 13 * P);  // the first six gaps closed
  EXPECT_EQ(e[3].end, 19 * P);
  EXPECT_EQ(wave_mem_kmaps_check(e.data(), 4), 0);
}

TEST(MapsSnapshot, CheckRefusesMalformedSnapshots) {
  const wave_mem_krange ok[] = {{P, 2 * P}, {3 * P, 4 * P}};
  EXPECT_EQ(wave_mem_kmaps_check(ok, 2), 0);
  EXPECT_EQ(wave_mem_kmaps_check(ok, 0), 0);
  const wave_mem_krange touching[] = {{P, 2 * P}, {2 * P, 4 * P}};
  EXPECT_EQ(wave_mem_kmaps_check(touching, 2), 0);
  const wave_mem_krange overlap[] = {{P, 3 * P}, {2 * P, 4 * P}};
  EXPECT_NE(wave_mem_kmaps_check(overlap, 2), 0);
  const wave_mem_krange unsorted[] = {{3 * P, 4 * P}, {P, 2 * P}};
  EXPECT_NE(wave_mem_kmaps_check(unsorted, 2), 0);
  const wave_mem_krange empty[] = {{P, P}};
  EXPECT_NE(wave_mem_kmaps_check(empty, 1), 0);
  const wave_mem_krange unaligned[] = {{P, 2 * P + 1}};
  EXPECT_NE(wave_mem_kmaps_check(unaligned, 1), 0);
  EXPECT_NE(wave_mem_kmaps_check(ok, WAVE_MEM_KMAPS_MAX_RANGES + 1), 0);
}

// wave.ko's loop (wave_mem_add_locked) over the uapi helpers, as user-space code.
std::vector<Region> KernelClip(const std::vector<Region>& in,
                               const std::vector<wave_mem_krange>& r) {
  std::vector<Region> out;
  const uint32_t n = static_cast<uint32_t>(r.size());
  for (const Region& g : in)
    for (uint32_t i = wave_mem_clip_first(r.data(), n, g.start); i < n && r[i].start < g.end; i++) {
      Region p = g;
      p.start = std::max<uint64_t>(g.start, r[i].start);
      p.end = std::min<uint64_t>(g.end, r[i].end);
      out.push_back(p);
    }
  return out;
}

TEST(MapsSnapshot, KernelClipMatchesTheUserPathWithinTheBound) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; round++) {
    std::vector<Mapping> maps;
    uint64_t at = (rng() % 16) * P;
    const int nmaps = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < nmaps; i++) {
      const uint64_t len = (1 + rng() % 8) * P;
      maps.push_back({.start = at, .end = at + len, .special = rng() % 10 == 0});
      at += len + (rng() % 3) * P;  // sometimes touching
    }
    std::vector<Region> regions;
    uint64_t s = 0;
    while (s < at + 8 * P) {
      const uint64_t len = (1 + rng() % 20) * P;
      regions.push_back({.start = s, .end = s + len, .target = 1, .nr_accesses = 3});
      s += len + (rng() % 2) * P;
    }
    const auto snap = MapsSnapshot(maps, WAVE_MEM_KMAPS_MAX_RANGES);
    ASSERT_EQ(wave_mem_kmaps_check(snap.data(), static_cast<uint32_t>(snap.size())), 0);
    std::vector<Region> user;
    ClipCounters c;
    ClipToMappings(regions, maps, &user, &c);
    const std::vector<Region> kern = KernelClip(regions, snap);
    // Same bytes covered: the user path cuts at touching mappings, the snapshot merged them.
    uint64_t ub = 0, kb = 0;
    for (const Region& u : user)
      ub += u.bytes();
    for (const Region& k : kern)
      kb += k.bytes();
    EXPECT_EQ(ub, kb) << round;
    for (size_t i = 1; i < kern.size(); i++)
      EXPECT_LE(kern[i - 1].end, kern[i].start);
    // Every kernel piece lies in the user path's pieces' union: in a mapping.
    for (const Region& k : kern)
      EXPECT_EQ(CheckRange(maps, k.start, k.bytes()), RangeCheck::kInside) << round;
  }
}

// wave.ko flags a region piece paged out when it overlaps any paged-out range: the same
// answer as the user path's PagedOutSet::Overlaps.
TEST(MapsSnapshot, RangesOverlapMatchesPagedOutSet) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; round++) {
    PagedOutSet set;
    for (int i = 0; i < 20; i++) {
      const uint64_t s = rng() % 400;
      set.Add(1, s * P, (s + 1 + rng() % 8) * P);
    }
    std::vector<wave_mem_krange> r;
    for (const auto& [s, e] : set.Ranges(1))
      r.push_back({s, e});
    ASSERT_EQ(wave_mem_kmaps_check(r.data(), static_cast<uint32_t>(r.size())), 0);
    for (int q = 0; q < 100; q++) {
      const uint64_t s = rng() % 420;
      const uint64_t e = s + 1 + rng() % 16;
      EXPECT_EQ(
          wave_mem_ranges_overlap(r.data(), static_cast<uint32_t>(r.size()), s * P, e * P) != 0,
          set.Overlaps(1, s * P, e * P))
          << s << ".." << e;
    }
  }
  EXPECT_FALSE(wave_mem_ranges_overlap(nullptr, 0, 0, P));
}

TEST(MapsSnapshot, ClipFirstBisects) {
  const wave_mem_krange r[] = {{P, 2 * P}, {4 * P, 6 * P}, {8 * P, 9 * P}};
  EXPECT_EQ(wave_mem_clip_first(r, 3, 0), 0u);
  EXPECT_EQ(wave_mem_clip_first(r, 3, P), 0u);
  EXPECT_EQ(wave_mem_clip_first(r, 3, 2 * P), 1u);
  EXPECT_EQ(wave_mem_clip_first(r, 3, 5 * P), 1u);
  EXPECT_EQ(wave_mem_clip_first(r, 3, 6 * P), 2u);
  EXPECT_EQ(wave_mem_clip_first(r, 3, 9 * P), 3u);
  EXPECT_EQ(wave_mem_clip_first(r, 0, 0), 0u);
}

}  // namespace
}  // namespace wave::mem
