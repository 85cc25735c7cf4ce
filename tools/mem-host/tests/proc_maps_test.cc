#include "proc_maps.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace wave::mem {
namespace {

constexpr char kMaps[] =
    "55d0c0000000-55d0c0002000 r--p 00000000 08:01 123 /usr/bin/x y\n"
    "55d0c0002000-55d0c0005000 r-xp 00002000 08:01 123 /usr/bin/x y\n"
    "55d0c0010000-55d0c0011000 rw-p 00000000 00:00 0 \n"
    "garbage line\n"
    "7ffd1000-7ffd3000 r--p 00000000 00:00 0                          [vvar]\n"
    "7ffd3000-7ffd5000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n";

TEST(ProcMaps, Parse) {
  std::vector<Mapping> m = ParseMaps(kMaps);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].start, 0x7ffd1000u);  // sorted by start
  EXPECT_TRUE(m[0].special);
  EXPECT_EQ(m[0].name, "[vvar]");
  EXPECT_EQ(m[2].name, "/usr/bin/x y");
  EXPECT_FALSE(m[2].special);
  EXPECT_EQ(m[4].name, "");
  EXPECT_TRUE(m[5].special);
}

TEST(ProcMaps, CheckRange) {
  std::vector<Mapping> m = ParseMaps(kMaps);
  EXPECT_EQ(CheckRange(m, 0x55d0c0000000, 0x5000), RangeCheck::kInside);  // two adjacent
  EXPECT_EQ(CheckRange(m, 0x55d0c0001000, 0x1000), RangeCheck::kInside);
  EXPECT_EQ(CheckRange(m, 0x55d0c0004000, 0x2000), RangeCheck::kHole);
  EXPECT_EQ(CheckRange(m, 0x55d0c0000000, 0x11000), RangeCheck::kHole);
  EXPECT_EQ(CheckRange(m, 0x55d0c0005000, 0x1000), RangeCheck::kOutside);
  EXPECT_EQ(CheckRange(m, 0x1000, 0x1000), RangeCheck::kOutside);
  EXPECT_EQ(CheckRange(m, 0x55d0c0010000, 0x2000), RangeCheck::kHole);  // past the last
  EXPECT_EQ(CheckRange(m, 0x7ffd1000, 0x1000), RangeCheck::kSpecial);
  EXPECT_EQ(CheckRange(m, 0x7ffd2000, 0x2000), RangeCheck::kSpecial);
  EXPECT_EQ(CheckRange(m, 0xffffffffff600000, 0x1000), RangeCheck::kSpecial);
  EXPECT_EQ(CheckRange(m, 0x55d0c0000000, 0), RangeCheck::kOutside);
  EXPECT_EQ(CheckRange({}, 0x1000, 0x1000), RangeCheck::kOutside);
}

TEST(ProcMaps, MappedPieces) {
  std::vector<Mapping> m = ParseMaps(kMaps);
  // Adjacent mappings merge; the gap after them is left out.
  std::vector<Piece> p = MappedPieces(m, 0x55d0c0000000, 0x20000, 64);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].start, 0x55d0c0000000u);
  EXPECT_EQ(p[0].end, 0x55d0c0005000u);
  EXPECT_EQ(p[1].start, 0x55d0c0010000u);
  EXPECT_EQ(p[1].end, 0x55d0c0011000u);
  // Trimmed to the range, inward to pages.
  p = MappedPieces(m, 0x55d0c0001000, 0x1000, 64);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].start, 0x55d0c0001000u);
  EXPECT_EQ(p[0].end, 0x55d0c0002000u);
  p = MappedPieces(m, 0x55d0c0001800, 0x1000, 64);
  EXPECT_TRUE(p.empty());
  // Gaps only, special mappings only, empty and wrapping ranges.
  EXPECT_TRUE(MappedPieces(m, 0x55d0c0005000, 0xb000, 64).empty());
  EXPECT_TRUE(MappedPieces(m, 0x7ffd1000, 0x4000, 64).empty());
  EXPECT_TRUE(MappedPieces(m, 0x55d0c0000000, 0, 64).empty());
  EXPECT_TRUE(MappedPieces(m, ~0ull - 0xfff, 0x2000, 64).empty());
  // The whole space: every non-special mapping, at most max_pieces.
  p = MappedPieces(m, 0, ~0ull - 0xfff, 64);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(MappedPieces(m, 0, ~0ull - 0xfff, 1).size(), 1u);
}

TEST(ProcMaps, ReadSelf) {
  Result<std::vector<Mapping>> m = ReadMaps(getpid());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_GT(m->size(), 5u);
  static int on_stack_or_data = 0;
  const uint64_t a = reinterpret_cast<uintptr_t>(&on_stack_or_data) & ~4095ull;
  EXPECT_EQ(CheckRange(*m, a, 4096), RangeCheck::kInside);
}

}  // namespace
}  // namespace wave::mem
