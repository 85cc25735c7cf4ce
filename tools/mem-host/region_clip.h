// DAMON's virtual-address regions span the gaps between a process's mappings (its initial
// regions cover the whole space between heap, mmap area and stack). Decisions about unmapped
// addresses can only be refused by the Enactor, and a model trained on them learns about
// nothing, so each batch is clipped to the process's mappings before it leaves the host.
#ifndef WAVE_MEM_HOST_REGION_CLIP_H_
#define WAVE_MEM_HOST_REGION_CLIP_H_

#include <span>
#include <vector>

#include "proc_maps.h"
#include "wave/mem_batch.h"

namespace wave::mem {

struct ClipCounters {
  uint64_t regions_in = 0;
  uint64_t regions_out = 0;
  uint64_t unmapped_bytes = 0;  // dropped: in no mapping, or in a special one
  uint64_t overflow = 0;        // pieces dropped to stay within WAVE_MEM_MAX_REGIONS
};

// Appends to out the parts of regions (one target's, sorted) that lie in maps' non-special
// mappings (sorted, as /proc/PID/maps lists them), page aligned, each keeping its region's
// access count, age and flags. Stops at WAVE_MEM_MAX_REGIONS regions in out.
void ClipToMappings(std::span<const Region> regions, const std::vector<Mapping>& maps,
                    std::vector<Region>* out, ClipCounters* counters);

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_REGION_CLIP_H_
