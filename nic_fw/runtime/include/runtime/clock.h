// Time sources for the runtime. Statistics, thresholds and the watchdog read time only through
// a Clock, so tests and the scheduling simulation can drive logical time deterministically.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace wave::rt {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const = 0;
};

// Monotonic wall time: what the NIC cores use in production.
class SteadyClock final : public Clock {
 public:
  uint64_t now_ns() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
};

// Logical time advanced explicitly by a test or a simulator.
class ManualClock final : public Clock {
 public:
  uint64_t now_ns() const override { return now_.load(std::memory_order_acquire); }
  void set(uint64_t ns) { now_.store(ns, std::memory_order_release); }
  void advance(uint64_t ns) { now_.fetch_add(ns, std::memory_order_acq_rel); }

 private:
  std::atomic<uint64_t> now_{0};
};

}  // namespace wave::rt
