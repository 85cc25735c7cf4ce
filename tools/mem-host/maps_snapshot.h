// The mapped ranges of a target as wave.ko's kernel batch path clips regions to them
// (WAVE_IOC_MEM_MAPS, uapi/wave_mem_kpath.h): the non-special mappings, page aligned inward,
// touching ones merged, and at most a bounded number of ranges. Past the bound the smallest
// gaps are closed first, so the snapshot stays a superset of the advisable memory that leaves
// out the large unmapped stretches (the enactor still checks each decision exactly).
#ifndef WAVE_MEM_HOST_MAPS_SNAPSHOT_H_
#define WAVE_MEM_HOST_MAPS_SNAPSHOT_H_

#include <cstddef>
#include <vector>

#include "proc_maps.h"
#include "wave_mem_kpath.h"

namespace wave::mem {

// maps sorted by start as ParseMaps returns them; max_ranges >= 1.
std::vector<wave_mem_krange> MapsSnapshot(const std::vector<Mapping>& maps, size_t max_ranges);

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_MAPS_SNAPSHOT_H_
