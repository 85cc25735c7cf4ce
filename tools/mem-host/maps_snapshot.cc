#include "maps_snapshot.h"

#include <algorithm>
#include <cstdint>

namespace wave::mem {

std::vector<wave_mem_krange> MapsSnapshot(const std::vector<Mapping>& maps, size_t max_ranges) {
  constexpr uint64_t kPageMask = WAVE_MEM_PAGE_SIZE - 1;
  std::vector<wave_mem_krange> r;
  for (const Mapping& m : maps) {
    if (m.special)
      continue;
    const uint64_t s = (m.start + kPageMask) & ~kPageMask;
    const uint64_t e = m.end & ~kPageMask;
    if (e <= s || (!r.empty() && s < r.back().end))
      continue;  // empty after alignment, or out of order: not as the kernel lists them
    if (!r.empty() && s == r.back().end)
      r.back().end = e;
    else
      r.push_back({s, e});
  }
  if (max_ranges == 0 || r.size() <= max_ranges)
    return r;
  // Close the (size - max_ranges) smallest gaps: those below the threshold gap, then as many
  // equal to it as are still needed, in address order.
  std::vector<uint64_t> gaps;
  gaps.reserve(r.size() - 1);
  for (size_t i = 1; i < r.size(); i++)
    gaps.push_back(r[i].start - r[i - 1].end);
  size_t to_close = r.size() - max_ranges;
  std::vector<uint64_t> sorted = gaps;
  std::nth_element(sorted.begin(), sorted.begin() + (to_close - 1), sorted.end());
  const uint64_t threshold = sorted[to_close - 1];
  size_t below = 0;
  for (uint64_t g : gaps)
    below += g < threshold;
  size_t equal_left = to_close - below;
  std::vector<wave_mem_krange> out;
  out.reserve(max_ranges);
  out.push_back(r[0]);
  for (size_t i = 1; i < r.size(); i++) {
    const uint64_t g = gaps[i - 1];
    bool close = g < threshold;
    if (!close && g == threshold && equal_left > 0) {
      close = true;
      equal_left--;
    }
    if (close)
      out.back().end = r[i].end;
    else
      out.push_back(r[i]);
  }
  return out;
}

}  // namespace wave::mem
