// Per-actor latency statistics as iPipe keeps them: an exponentially weighted mean and
// variance over a window of recent samples, and the tail estimated as mean + 3 sigma.
#pragma once

#include <cstdint>

namespace wave::rt {

class LatencyStats {
 public:
  // `window` is the number of recent samples that dominate the averages: the EWMA weight is
  // 2 / (window + 1), the usual equivalence with a simple moving average of that length.
  explicit LatencyStats(uint32_t window = 64);

  void add(double sample_ns);
  void reset();

  double mean_ns() const { return mean_; }
  double stddev_ns() const;
  // mu + 3 sigma: the tail estimate compared against tail_threshold.
  double tail_ns() const;
  uint64_t count() const { return count_; }

 private:
  double weight_;
  double mean_ = 0;
  double var_ = 0;
  uint64_t count_ = 0;
};

}  // namespace wave::rt
