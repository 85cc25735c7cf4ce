#include "latency_stats.h"

#include <gtest/gtest.h>

namespace wave::rt {
namespace {

TEST(LatencyStats, ConstantInputHasNoSpread) {
  LatencyStats s(16);
  for (int i = 0; i < 100; ++i)
    s.add(1000);
  EXPECT_DOUBLE_EQ(s.mean_ns(), 1000);
  EXPECT_DOUBLE_EQ(s.tail_ns(), 1000);
}

TEST(LatencyStats, TailIsMeanPlusThreeSigma) {
  LatencyStats s(1000);  // a long window: close to the plain mean and deviation
  for (int i = 0; i < 20000; ++i)
    s.add(i % 2 ? 100 : 300);
  EXPECT_NEAR(s.mean_ns(), 200, 2);
  EXPECT_NEAR(s.stddev_ns(), 100, 2);
  EXPECT_NEAR(s.tail_ns(), 500, 8);
}

TEST(LatencyStats, WindowForgetsOldSamples) {
  LatencyStats s(8);
  for (int i = 0; i < 50; ++i)
    s.add(1'000'000);
  for (int i = 0; i < 60; ++i)
    s.add(1000);
  EXPECT_LT(s.mean_ns(), 2000);
}

}  // namespace
}  // namespace wave::rt
