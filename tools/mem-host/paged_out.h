// The ranges the Enactor paged out, so the Collector can mark the regions that overlap them
// with WAVE_MEM_REGION_F_PAGED_OUT. Bounded: past max_ranges, the oldest record is dropped
// (and counted). A WILLNEED over a range, or the target's removal, clears it.
#ifndef WAVE_MEM_HOST_PAGED_OUT_H_
#define WAVE_MEM_HOST_PAGED_OUT_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace wave::mem {

class PagedOutSet {
 public:
  explicit PagedOutSet(size_t max_ranges = 4096) : max_(max_ranges == 0 ? 1 : max_ranges) {}

  // Records [start, end) of target as paged out (merged with overlapping or adjacent records).
  void Add(uint32_t target, uint64_t start, uint64_t end);
  // Forgets [start, end) of target (split records keep their other parts).
  void Clear(uint32_t target, uint64_t start, uint64_t end);
  void ClearTarget(uint32_t target);
  // Whether any recorded range of target overlaps [start, end).
  bool Overlaps(uint32_t target, uint64_t start, uint64_t end) const;

  // target's records, sorted by start, disjoint (for the kernel batch path's snapshot).
  std::vector<std::pair<uint64_t, uint64_t>> Ranges(uint32_t target) const;
  // Counts every Add, Clear or ClearTarget that changed the set: a snapshot taken at one
  // value is current as long as it stays.
  uint64_t changes() const;

  size_t size() const;
  uint64_t dropped() const;  // records dropped to stay within max_ranges

 private:
  using Key = std::pair<uint32_t, uint64_t>;  // (target, start)
  struct Entry {
    uint64_t end;
    uint64_t gen;  // which insertion made it (order_ entries of other generations are stale)
  };
  void InsertLocked(uint32_t target, uint64_t start, uint64_t end);

  mutable std::mutex mu_;
  std::map<Key, Entry> ranges_;
  std::deque<std::pair<Key, uint64_t>> order_;  // insertions, oldest first; may be stale
  uint64_t gen_ = 0;
  uint64_t changes_ = 0;
  size_t max_;
  uint64_t dropped_ = 0;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_PAGED_OUT_H_
