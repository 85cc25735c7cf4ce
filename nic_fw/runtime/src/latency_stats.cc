#include "latency_stats.h"

#include <cmath>

namespace wave::rt {

LatencyStats::LatencyStats(uint32_t window)
    : weight_(2.0 / (static_cast<double>(window == 0 ? 1 : window) + 1.0)) {}

void LatencyStats::add(double sample_ns) {
  if (count_++ == 0) {
    mean_ = sample_ns;
    var_ = 0;
    return;
  }
  // West's incremental EWMA of mean and variance: the variance update uses the deviation from
  // the old mean so that a constant input converges to zero variance.
  const double diff = sample_ns - mean_;
  const double incr = weight_ * diff;
  mean_ += incr;
  var_ = (1.0 - weight_) * (var_ + diff * incr);
}

void LatencyStats::reset() {
  mean_ = 0;
  var_ = 0;
  count_ = 0;
}

double LatencyStats::stddev_ns() const {
  return var_ > 0 ? std::sqrt(var_) : 0.0;
}

double LatencyStats::tail_ns() const {
  return mean_ + 3.0 * stddev_ns();
}

}  // namespace wave::rt
