// The Enactor applies the NIC's memory decisions (uapi/wave_mem.h, struct wave_mem_decision)
// to the tracked processes with process_madvise(2), after checking everything about them:
// nothing the NIC sends can make it advise another process, a range outside the process's
// mappings, or a special mapping, nor crash it.
//
// Checks, in order (the first that fails is the outcome, counted under its reason):
//   1. action known (COLD, PAGEOUT, WILLNEED)                        kBadAction
//   2. ValidDecision: source, reserved, page-aligned non-empty range  kMalformed
//   3. target known in the TargetTable                                 kUnknownTarget
//   4. the process alive and the same (start time)                     kExited / kPidReused
//   5. the range inside its mappings (/proc/PID/maps)                  kOutside / kHole /
//                                                                      kSpecial / kMapsError
//   6. process_madvise(pidfd, {start, len}, 1, advice, 0)              kOk / kSyscallError
// Clipping (SetClipToMappings, the kernel batch path, whose batches are not clipped before
// they leave the host): step 5 becomes "the parts of the range in non-special mappings"
// (MappedPieces, at most kMaxPieces), which are advised in one process_madvise call; a range
// with no such part is kOutside. The bytes left out are counted (clipped_bytes).
// Maps cache: per target, read again for each new batch_seq and once more on a miss (a
// range the cached maps do not cover), so a refusal is always made on maps read for this
// decision's batch and after a miss on fresh maps. The liveness check is repeated after
// reading the maps, so maps read from a pid that was reused meanwhile are never used.
#ifndef WAVE_MEM_HOST_ENACTOR_H_
#define WAVE_MEM_HOST_ENACTOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "paged_out.h"
#include "proc_maps.h"
#include "target_table.h"
#include "wave_mem.h"

namespace wave::mem {

enum class Outcome : uint8_t {
  kOk,             // advised
  kBadAction,      // action not COLD, PAGEOUT or WILLNEED
  kMalformed,      // fails ValidDecision (source, reserved, range unaligned, empty or wrapping)
  kUnknownTarget,  // no such target id
  kExited,         // the process exited
  kPidReused,      // the pid names another process now (start time differs)
  kOutside,        // start is in no mapping
  kHole,           // the range crosses a gap between mappings or runs past the last
  kSpecial,        // the range touches [vvar], [vvar_vclock], [vdso] or [vsyscall]
  kMapsError,      // /proc/PID/maps could not be read
  kSyscallError,   // process_madvise failed (errno in last_errno())
  kCountOfOutcomes
};

const char* OutcomeName(Outcome o);

struct EnactorCounters {
  std::array<uint64_t, static_cast<size_t>(Outcome::kCountOfOutcomes)> outcomes{};
  uint64_t bytes_cold = 0;      // advised with MADV_COLD
  uint64_t bytes_pageout = 0;   // advised with MADV_PAGEOUT
  uint64_t bytes_willneed = 0;  // advised with MADV_WILLNEED
  uint64_t maps_reads = 0;      // /proc/PID/maps read (cache misses and new batches)
  uint64_t clipped = 0;         // clipping on: decisions advised only in part (unmapped rest)
  uint64_t clipped_bytes = 0;   // clipping on: bytes of advised decisions left out

  uint64_t count(Outcome o) const { return outcomes[static_cast<size_t>(o)]; }
};

class Enactor {
 public:
  // paged_out may be null (nothing recorded). Both must outlive the Enactor.
  Enactor(const TargetTable* targets, PagedOutSet* paged_out);

  static constexpr size_t kMaxPieces = 64;

  // Thread safe (one decision at a time).
  Outcome Enact(const wave_mem_decision& d);
  void SetClipToMappings(bool on) { clip_ = on; }
  bool clip_to_mappings() const { return clip_; }

  EnactorCounters counters() const;
  int last_errno() const { return last_errno_.load(std::memory_order_relaxed); }
  // Drops the cached maps of target (call when it is removed; stale entries are harmless,
  // they are only used for their own batch).
  void Forget(uint32_t target);

 private:
  struct MapsCache {
    uint64_t batch_seq = 0;
    std::vector<Mapping> maps;
  };
  Outcome Check(const wave_mem_decision& d, const Target& t, uint64_t start, uint64_t len);
  Outcome RefreshMaps(const Target& t, uint64_t batch_seq, MapsCache* c);
  Outcome CurrentMaps(const wave_mem_decision& d, const Target& t, MapsCache** c, bool* read_now);
  // Runs found(maps) on the target's current maps; when it finds nothing in maps cached earlier
  // in the batch, reads them again (the process may have mapped more since) and runs it again.
  template <typename Found>
  Outcome LookUpInMaps(const wave_mem_decision& d, const Target& t, Found&& found);
  Outcome CheckClipped(const wave_mem_decision& d, const Target& t, uint64_t start, uint64_t len,
                       std::vector<Piece>* pieces);

  const TargetTable* targets_;
  PagedOutSet* paged_out_;
  mutable std::mutex mu_;
  std::map<uint32_t, MapsCache> maps_;
  EnactorCounters counters_;
  std::atomic<int> last_errno_{0};
  bool clip_ = false;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_ENACTOR_H_
