#include "pingpong.h"

#include <atomic>
#include <thread>

namespace wave::bench {

std::vector<double> PingPong(uint32_t samples, const Tsc& tsc) {
  alignas(128) static std::atomic<uint64_t> line{0};
  line.store(0);
  const uint64_t total = samples + samples / 10;
  std::thread pong([&] {
    wave::PinCurrentThreadTo(1);
    for (uint64_t i = 0; i < total; i++) {
      while (line.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      line.store(2 * i + 2, std::memory_order_release);
    }
  });
  wave::PinCurrentThreadTo(0);
  std::vector<double> out;
  out.reserve(samples);
  for (uint64_t i = 0; i < total; i++) {
    const uint64_t t0 = Tsc::Now();
    line.store(2 * i + 1, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != 2 * i + 2) {
    }
    const uint64_t t1 = Tsc::Now();
    if (i >= samples / 10)
      out.push_back(tsc.ToNs(t1 - t0));
  }
  pong.join();
  return out;
}

}  // namespace wave::bench
