#include "region_clip.h"

#include <algorithm>

namespace wave::mem {

void ClipToMappings(std::span<const Region> regions, const std::vector<Mapping>& maps,
                    std::vector<Region>* out, ClipCounters* counters) {
  constexpr uint64_t kPageMask = WAVE_MEM_PAGE_SIZE - 1;
  size_t m = 0;
  for (const Region& r : regions) {
    counters->regions_in++;
    uint64_t kept = 0;
    // Mappings ending before the region are done with (regions are sorted too).
    while (m < maps.size() && maps[m].end <= r.start)
      m++;
    for (size_t i = m; i < maps.size() && maps[i].start < r.end; i++) {
      if (maps[i].special)
        continue;
      Region piece = r;
      piece.start = (std::max(r.start, maps[i].start) + kPageMask) & ~kPageMask;
      piece.end = std::min(r.end, maps[i].end) & ~kPageMask;
      if (piece.end <= piece.start)
        continue;
      if (out->size() >= WAVE_MEM_MAX_REGIONS) {
        counters->overflow++;
        continue;
      }
      kept += piece.bytes();
      out->push_back(piece);
      counters->regions_out++;
    }
    counters->unmapped_bytes += r.bytes() - std::min(kept, r.bytes());
  }
}

}  // namespace wave::mem
