// Timing and pinning helpers for the link benchmarks.
#ifndef WAVE_BENCH_LINK_BENCH_UTIL_H_
#define WAVE_BENCH_LINK_BENCH_UTIL_H_

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "wave/affinity.h"

namespace wave::bench {

// The payload every queue carries: one cache line.
struct alignas(64) Msg64 {
  uint64_t seq;
  uint64_t words[7];
};
static_assert(sizeof(Msg64) == 64);

// TSC-based timestamps, converted to ns with a ratio measured against steady_clock.
class Tsc {
 public:
  Tsc() {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t c1 = __rdtsc();
    const auto t1 = std::chrono::steady_clock::now();
    ns_per_tick_ = std::chrono::duration<double, std::nano>(t1 - t0).count() / double(c1 - c0);
  }
  static uint64_t Now() { return __rdtsc(); }
  double ToNs(uint64_t ticks) const { return double(ticks) * ns_per_tick_; }

 private:
  double ns_per_tick_ = 1.0;
};

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * double(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

inline double Median(std::vector<double> v) {
  return Percentile(std::move(v), 0.5);
}

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_BENCH_UTIL_H_
