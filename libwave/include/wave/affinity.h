// Thread placement for the busy-polling ends of a link (the tests' and benchmarks' producer
// and consumer threads): each end spins on its own core, so the two must not share one.
#ifndef WAVE_AFFINITY_H_
#define WAVE_AFFINITY_H_

#include <pthread.h>
#include <sched.h>

#include <thread>

namespace wave {

// Pins the calling thread to `cpu`. Returns false, changing nothing, when the machine has no
// such CPU or the kernel refuses.
inline bool PinCurrentThreadTo(int cpu) {
  if (cpu < 0 || cpu >= static_cast<int>(std::thread::hardware_concurrency()))
    return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

}  // namespace wave

#endif  // WAVE_AFFINITY_H_
