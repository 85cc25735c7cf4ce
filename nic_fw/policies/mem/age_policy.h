// The age policy: DAMON-like thresholds on a region's idle age. It is both the `age` policy
// (WAVE_MEM_POLICY_AGE) and the fallback of the learned one (WAVE_MEM_POLICY_SOL).
#pragma once

#include <cstdint>

#include "wave/mem_batch.h"
#include "wave_mem.h"

namespace wave::mem {

struct AgeConfig {
  uint32_t cold_age = 10;     // aggregation intervals idle before MADV_COLD (1 s at 100 ms)
  uint32_t pageout_age = 50;  // ... before MADV_PAGEOUT (5 s at 100 ms); >= cold_age
};

class AgePolicy {
 public:
  explicit AgePolicy(const AgeConfig& c) : c_(c) {}

  // WAVE_MEM_KEEP, COLD, PAGEOUT or WILLNEED for one region:
  //   paged out and accessed again        -> WILLNEED (prefetch the rest back)
  //   paged out and idle                  -> keep (already reclaimed: asking again would only
  //                                          spend the page-out budget)
  //   idle (nr_accesses 0), age >= pageout_age -> PAGEOUT
  //   idle, age >= cold_age               -> COLD
  //   otherwise                           -> keep
  uint8_t Decide(const Region& r) const {
    bool paged = (r.flags & WAVE_MEM_REGION_F_PAGED_OUT) != 0;
    if (r.nr_accesses > 0)
      return paged ? WAVE_MEM_WILLNEED : WAVE_MEM_KEEP;
    if (paged)
      return WAVE_MEM_KEEP;
    if (r.age >= c_.pageout_age)
      return WAVE_MEM_PAGEOUT;
    if (r.age >= c_.cold_age)
      return WAVE_MEM_COLD;
    return WAVE_MEM_KEEP;
  }

  const AgeConfig& config() const { return c_; }

 private:
  AgeConfig c_;
};

}  // namespace wave::mem
