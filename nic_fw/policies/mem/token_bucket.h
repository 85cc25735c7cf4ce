// A token bucket over bytes, on time the caller passes in (no clock of its own).
#pragma once

#include <algorithm>
#include <cstdint>

namespace wave::mem {

class TokenBucket {
 public:
  // rate_bytes_per_s 0: unlimited. The bucket holds at most burst_ns worth of the rate and
  // starts full. A request larger than the whole bucket is admitted only when the bucket is
  // full, and leaves it in debt (negative) until the rate has paid it back, so over any
  // window of T ns at most capacity + rate * T / 1e9 bytes are admitted, plus one request
  // larger than the bucket.
  TokenBucket(uint64_t rate_bytes_per_s, uint64_t burst_ns) { Reset(rate_bytes_per_s, burst_ns); }

  void Reset(uint64_t rate_bytes_per_s, uint64_t burst_ns) {
    rate_ = rate_bytes_per_s;
    burst_ns_ = std::max<uint64_t>(burst_ns, 1);
    cap_ = static_cast<int64_t>(std::min<unsigned __int128>(
        static_cast<unsigned __int128>(rate_) * burst_ns_ / kNsPerS, INT64_MAX / 2));
    tokens_ = cap_;
    rem_ = 0;
    started_ = false;
  }

  bool unlimited() const { return rate_ == 0; }
  int64_t capacity() const { return cap_; }
  int64_t tokens() const { return tokens_; }

  // Adds what the time since the last call earned. Time going backwards earns nothing.
  void Refill(uint64_t now_ns) {
    if (!started_) {
      started_ = true;
      last_ns_ = now_ns;
      return;
    }
    if (now_ns <= last_ns_)
      return;
    uint64_t dt = now_ns - last_ns_;
    last_ns_ = now_ns;
    if (tokens_ >= cap_)
      return;
    // Cap dt so the product stays small: enough to fill the bucket from its deepest debt.
    unsigned __int128 earned =
        static_cast<unsigned __int128>(rate_) * std::min<uint64_t>(dt, kMaxDtNs) + rem_;
    unsigned __int128 need = static_cast<unsigned __int128>(cap_ - tokens_);
    if (earned / kNsPerS >= need) {
      tokens_ = cap_;
      rem_ = 0;
    } else {
      tokens_ += static_cast<int64_t>(earned / kNsPerS);
      rem_ = static_cast<uint64_t>(earned % kNsPerS);
    }
  }

  // Takes bytes if the bucket has them (or is full and bytes exceed it); all or nothing.
  bool Take(uint64_t bytes) {
    if (unlimited())
      return true;
    bool fits = bytes <= static_cast<uint64_t>(std::max<int64_t>(tokens_, 0));
    bool oversized_full = tokens_ == cap_ && bytes > static_cast<uint64_t>(cap_);
    if (!fits && !oversized_full)
      return false;
    tokens_ -= static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX / 2));
    return true;
  }

 private:
  static constexpr uint64_t kNsPerS = 1'000'000'000;
  static constexpr uint64_t kMaxDtNs = 1'000'000'000ull * 3600 * 24 * 365;  // a year
  uint64_t rate_ = 0;
  uint64_t burst_ns_ = 1;
  int64_t cap_ = 0;
  int64_t tokens_ = 0;
  uint64_t rem_ = 0;  // earned fractions of a byte, in byte-ns per s
  uint64_t last_ns_ = 0;
  bool started_ = false;
};

}  // namespace wave::mem
