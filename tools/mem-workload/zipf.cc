#include "zipf.h"

#include <algorithm>
#include <cmath>

namespace wave::memwl {

Zipf::Zipf(uint64_t n, double s) : cdf_(n) {
  double sum = 0;
  for (uint64_t r = 0; r < n; r++) {
    sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
    cdf_[r] = sum;
  }
  for (double& c : cdf_)
    c /= sum;
  if (n != 0)
    cdf_[n - 1] = 1.0;
}

uint64_t Zipf::Rank(double u) const {
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end())
    --it;
  return static_cast<uint64_t>(it - cdf_.begin());
}

}  // namespace wave::memwl
