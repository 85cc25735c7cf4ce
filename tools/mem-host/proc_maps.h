// A process's mappings as /proc/PID/maps lists them, and the range checks the Enactor makes.
#ifndef WAVE_MEM_HOST_PROC_MAPS_H_
#define WAVE_MEM_HOST_PROC_MAPS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wave/result.h"

namespace wave::mem {

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;      // exclusive
  bool special = false;  // [vvar], [vvar_vclock], [vdso], [vsyscall]: never advised
  std::string name;      // path or [pseudo], empty for anonymous
};

// Parses the text of /proc/PID/maps. Lines that do not parse are skipped; mappings come out
// sorted by start as the kernel lists them.
std::vector<Mapping> ParseMaps(std::string_view text);

// Reads and parses /proc/PID/maps.
Result<std::vector<Mapping>> ReadMaps(pid_t pid);

enum class RangeCheck : uint8_t {
  kInside,   // [start, start+len) is covered by mappings without a gap, none special
  kOutside,  // start is in no mapping
  kHole,     // start is mapped but the range runs into a gap (or past the last mapping)
  kSpecial,  // the range touches a special mapping
};

// maps sorted by start, as ParseMaps returns them.
RangeCheck CheckRange(const std::vector<Mapping>& maps, uint64_t start, uint64_t len);

// The parts of [start, start+len) that lie in non-special mappings, page aligned (inward),
// sorted, adjacent mappings merged; at most max_pieces (the rest is left out). For decisions
// about regions that were not clipped to the mappings before they left the host (the kernel
// batch path): the Enactor advises these pieces and nothing else.
struct Piece {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
};
std::vector<Piece> MappedPieces(const std::vector<Mapping>& maps, uint64_t start, uint64_t len,
                                size_t max_pieces);

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_PROC_MAPS_H_
