// Zipf-distributed ranks in [0, n): rank r is drawn with probability proportional to
// 1 / (r + 1)^s. The cumulative distribution is tabulated once (8 bytes a rank) and sampled by
// binary search, so a draw costs log2(n) comparisons and is exact.
#pragma once

#include <cstdint>
#include <vector>

namespace wave::memwl {

class Zipf {
 public:
  Zipf(uint64_t n, double s);
  // u uniform in [0, 1).
  uint64_t Rank(double u) const;
  uint64_t size() const { return cdf_.size(); }
  // The probability of ranks [0, k).
  double Mass(uint64_t k) const { return k == 0 ? 0.0 : cdf_[k - 1]; }

 private:
  std::vector<double> cdf_;
};

// A small, fast, seeded generator (splitmix64): reproducible runs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : x_(seed) {}
  uint64_t Next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t x_;
};

}  // namespace wave::memwl
