// One-way throughput and round-trip latency of a queue (see queues.h), with the producer and
// the consumer pinned to different cores.
#ifndef WAVE_BENCH_LINK_QUEUE_BENCH_H_
#define WAVE_BENCH_LINK_QUEUE_BENCH_H_

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace wave::bench {

struct QueueResult {
  double msgs_per_s = 0;
  double rtt_p50_ns = 0;
  double rtt_p99_ns = 0;
  bool ok = true;  // every message arrived in order
};

// Sends count messages one way in batches of `batch`; the consumer pops up to `batch` at a
// time and checks the sequence numbers.
template <typename Q>
double Throughput(Q& q, uint32_t batch, uint64_t count, bool* ok) {
  std::atomic<bool> go{false};
  std::atomic<bool> good{true};
  std::thread consumer([&] {
    wave::PinCurrentThreadTo(1);
    Msg64 buf[64];
    uint64_t next = 0;
    while (!go.load(std::memory_order_acquire)) {
    }
    while (next < count) {
      const uint32_t n = q.Pop(buf, batch);
      for (uint32_t i = 0; i < n; i++) {
        if (buf[i].seq != next)
          good.store(false, std::memory_order_relaxed);
        next++;
      }
    }
  });
  wave::PinCurrentThreadTo(0);
  Msg64 msgs[64] = {};
  uint64_t next = 0;
  const auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  while (next < count) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch, count - next));
    for (uint32_t i = 0; i < n; i++)
      msgs[i].seq = next + i;
    next += q.Push(msgs, n);
  }
  consumer.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!good.load())
    *ok = false;
  return double(count) / s;
}

// A burst of `batch` messages goes out, an echo thread sends each back, and the time until the
// whole burst is back is one round-trip sample.
template <typename Q>
void RoundTrip(Q& q, uint32_t batch, uint32_t samples, const Tsc& tsc, std::vector<double>* out,
               bool* ok) {
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    wave::PinCurrentThreadTo(1);
    Msg64 buf[64];
    while (!stop.load(std::memory_order_relaxed)) {
      const uint32_t n = q.Pop(buf, 64);
      uint32_t sent = 0;
      while (sent < n)
        sent += q.PushBack(buf + sent, n - sent);
    }
  });
  wave::PinCurrentThreadTo(0);
  Msg64 msgs[64] = {};
  Msg64 back[64];
  uint64_t seq = 0;
  out->clear();
  out->reserve(samples);
  for (uint32_t s = 0; s < samples + samples / 10; s++) {  // the first 10 % warm up
    for (uint32_t i = 0; i < batch; i++)
      msgs[i].seq = seq + i;
    const uint64_t t0 = Tsc::Now();
    uint32_t sent = 0;
    while (sent < batch)
      sent += q.Push(msgs + sent, batch - sent);
    uint32_t got = 0;
    while (got < batch) {
      const uint32_t n = q.PopBack(back, batch - got);
      for (uint32_t i = 0; i < n; i++) {
        if (back[i].seq != seq + got + i)
          *ok = false;
      }
      got += n;
    }
    const uint64_t t1 = Tsc::Now();
    seq += batch;
    if (s >= samples / 10)
      out->push_back(tsc.ToNs(t1 - t0));
  }
  stop.store(true);
  echo.join();
}

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_QUEUE_BENCH_H_
