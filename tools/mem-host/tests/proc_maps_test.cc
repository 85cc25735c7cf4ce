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
