// The age policy's thresholds and the token bucket.
#include <gtest/gtest.h>

#include "policies/mem/age_policy.h"
#include "policies/mem/token_bucket.h"

namespace wave::mem {
namespace {

Region R(uint32_t age, uint16_t nr, uint16_t flags = 0) {
  return Region{0x200000, 0x400000, 1, age, nr, flags};
}

TEST(AgePolicy, Thresholds) {
  AgePolicy p(AgeConfig{3, 7});
  EXPECT_EQ(p.Decide(R(0, 0)), WAVE_MEM_KEEP);
  EXPECT_EQ(p.Decide(R(2, 0)), WAVE_MEM_KEEP);
  EXPECT_EQ(p.Decide(R(3, 0)), WAVE_MEM_COLD);
  EXPECT_EQ(p.Decide(R(6, 0)), WAVE_MEM_COLD);
  EXPECT_EQ(p.Decide(R(7, 0)), WAVE_MEM_PAGEOUT);
  EXPECT_EQ(p.Decide(R(1000, 0)), WAVE_MEM_PAGEOUT);
  // Accessed: never reclaimed, whatever its age (a hot region's age grows too).
  EXPECT_EQ(p.Decide(R(1000, 1)), WAVE_MEM_KEEP);
  EXPECT_EQ(p.Decide(R(0, 20)), WAVE_MEM_KEEP);
}

TEST(AgePolicy, PagedOut) {
  AgePolicy p(AgeConfig{3, 7});
  // Accessed again after a page-out: prefetch the rest back.
  EXPECT_EQ(p.Decide(R(0, 1, WAVE_MEM_REGION_F_PAGED_OUT)), WAVE_MEM_WILLNEED);
  EXPECT_EQ(p.Decide(R(50, 20, WAVE_MEM_REGION_F_PAGED_OUT)), WAVE_MEM_WILLNEED);
  // Still idle: already reclaimed, nothing to ask.
  EXPECT_EQ(p.Decide(R(0, 0, WAVE_MEM_REGION_F_PAGED_OUT)), WAVE_MEM_KEEP);
  EXPECT_EQ(p.Decide(R(5, 0, WAVE_MEM_REGION_F_PAGED_OUT)), WAVE_MEM_KEEP);
  EXPECT_EQ(p.Decide(R(100, 0, WAVE_MEM_REGION_F_PAGED_OUT)), WAVE_MEM_KEEP);
}

TEST(TokenBucket, Unlimited) {
  TokenBucket b(0, 100'000'000);
  EXPECT_TRUE(b.unlimited());
  b.Refill(5);
  EXPECT_TRUE(b.Take(uint64_t{1} << 50));
  EXPECT_TRUE(b.Take(uint64_t{1} << 50));
}

TEST(TokenBucket, StartsFullRefillsAtTheRateAndCaps) {
  // 10 MB/s, 100 ms burst: 1 MB capacity.
  TokenBucket b(10'000'000, 100'000'000);
  EXPECT_EQ(b.capacity(), 1'000'000);
  b.Refill(1'000);
  EXPECT_TRUE(b.Take(600'000));
  EXPECT_FALSE(b.Take(400'001));  // all or nothing
  EXPECT_TRUE(b.Take(400'000));
  EXPECT_EQ(b.tokens(), 0);
  b.Refill(1'000 + 10'000'000);  // 10 ms: 100 kB
  EXPECT_EQ(b.tokens(), 100'000);
  // Fractions of a byte are kept: 1 ns earns 0.01 bytes; 250 of them 2.5 bytes.
  for (int i = 1; i <= 250; i++)
    b.Refill(1'000 + 10'000'000 + i);
  EXPECT_EQ(b.tokens(), 100'002);
  b.Refill(10'000'000'000);  // long idle: full, not more
  EXPECT_EQ(b.tokens(), 1'000'000);
  // Time going backwards earns nothing.
  EXPECT_TRUE(b.Take(1'000'000));
  b.Refill(5);
  EXPECT_EQ(b.tokens(), 0);
}

TEST(TokenBucket, OversizedRequestOnlyWhenFullThenDebt) {
  TokenBucket b(10'000'000, 100'000'000);  // capacity 1 MB
  b.Refill(0);
  EXPECT_TRUE(b.Take(1));
  EXPECT_FALSE(b.Take(3'000'000));  // not full
  b.Refill(1'000'000'000);
  EXPECT_TRUE(b.Take(3'000'000));  // full: admitted, 2 MB in debt
  EXPECT_EQ(b.tokens(), -2'000'000);
  EXPECT_FALSE(b.Take(1));
  b.Refill(1'000'000'000 + 200'000'000);  // 200 ms repays the debt, nothing more
  EXPECT_EQ(b.tokens(), 0);
  EXPECT_FALSE(b.Take(1));
  b.Refill(1'000'000'000 + 300'000'000);
  EXPECT_EQ(b.tokens(), 1'000'000);
}

}  // namespace
}  // namespace wave::mem
