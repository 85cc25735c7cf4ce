#include "zipf.h"

#include <gtest/gtest.h>

#include <vector>

namespace wave::memwl {
namespace {

TEST(Zipf, DrawsFollowTheTabulatedMass) {
  const Zipf z(1000, 0.99);
  Rng rng(42);
  std::vector<uint64_t> hits(1000);
  constexpr int kDraws = 400000;
  for (int i = 0; i < kDraws; i++)
    hits[z.Rank(rng.Uniform())]++;
  // The 10 hottest ranks: their share matches the distribution within 1 %.
  uint64_t top = 0;
  for (int r = 0; r < 10; r++)
    top += hits[r];
  EXPECT_NEAR(static_cast<double>(top) / kDraws, z.Mass(10), 0.01);
  // Skewed: rank 0 is drawn far more often than rank 500.
  EXPECT_GT(hits[0], 50 * hits[500]);
}

TEST(Zipf, EdgesStayInRange) {
  const Zipf z(5, 1.2);
  EXPECT_EQ(z.Rank(0.0), 0u);
  EXPECT_EQ(z.Rank(0.999999999), 4u);
  EXPECT_DOUBLE_EQ(z.Mass(5), 1.0);
}

TEST(Rng, IsReproducible) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; i++) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
  }
}

}  // namespace
}  // namespace wave::memwl
