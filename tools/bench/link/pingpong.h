// The physical limit of a round trip between two cores: two pinned threads bounce one cache
// line with atomic stores and loads; one sample is one full round trip.
#ifndef WAVE_BENCH_LINK_PINGPONG_H_
#define WAVE_BENCH_LINK_PINGPONG_H_

#include <vector>

#include "bench_util.h"

namespace wave::bench {

// Round-trip samples in ns.
std::vector<double> PingPong(uint32_t samples, const Tsc& tsc);

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_PINGPONG_H_
