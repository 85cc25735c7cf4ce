// Instruction profile of the queues' fast paths: one thread fills a queue and drains it again,
// so callgrind can count the producer's and the consumer's instructions per message apart
// (each side runs in its own non-inlined function). Timing-free, so the counts are stable on a
// noisy machine; what they leave out is the cost of cache-line transfers between cores.
#ifndef WAVE_BENCH_LINK_PROFILE_H_
#define WAVE_BENCH_LINK_PROFILE_H_

#include <cstdint>

namespace wave::bench {

// Runs `messages` messages through each queue in batches of `batch`. Returns false if a queue
// lost, duplicated or reordered a message.
bool RunProfile(uint32_t batch, uint64_t messages);

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_PROFILE_H_
