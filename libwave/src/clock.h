// The clock the link's timed paths (prestage ages, the link model's delays) read.
#ifndef WAVE_SRC_CLOCK_H_
#define WAVE_SRC_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace wave {

// CLOCK_MONOTONIC in nanoseconds.
inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace wave

#endif  // WAVE_SRC_CLOCK_H_
