// Turns DAMON's per-region records (one damon_aggregated tracepoint hit each, in the order
// kdamond_reset_aggregated emits them: target index 0.., each target's regions by address)
// into whole batches, one per aggregation interval. Pure logic, no BPF: the Collector feeds
// it from the ring buffer, the tests feed it directly.
//
// Boundaries: an aggregation is complete when the last target index has delivered all of
// its nr_regions records. A record that does not come after the previous one in (target
// index, start) order starts a new aggregation (the previous one is delivered as it is and
// counted as cut). A pending aggregation older than the timeout is delivered too (counted).
//
// Each batch: records of unknown target indices dropped (counted), indices mapped to target
// ids, ranges rounded out to pages and clipped so they do not overlap, nr_accesses clamped
// to max_accesses (counted), sorted by (target, start), WAVE_MEM_REGION_F_PAGED_OUT set on
// regions overlapping a recorded page-out, at most WAVE_MEM_MAX_REGIONS regions (adjacent
// regions of a target merged to fit, the rest dropped and counted).
#ifndef WAVE_MEM_HOST_BATCH_ASSEMBLER_H_
#define WAVE_MEM_HOST_BATCH_ASSEMBLER_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "mem_collect_record.h"
#include "paged_out.h"
#include "wave/mem_batch.h"

namespace wave::mem {

using BatchCallback = std::function<void(const BatchInfo&, std::span<const Region>)>;

// The target at one index of DAMON's context target list.
struct TargetSlot {
  uint32_t target = 0;         // the TargetTable id; 0: none (records dropped)
  uint64_t valid_from_ns = 0;  // records collected before this (CLOCK_MONOTONIC) are dropped
};

struct AssemblerCounters {
  uint64_t records = 0;
  uint64_t batches = 0;
  uint64_t unknown_target = 0;  // records of an index with no target (or before valid_from)
  uint64_t cut = 0;             // aggregations delivered incomplete (order restarted)
  uint64_t timed_out = 0;       // aggregations delivered incomplete (timeout)
  uint64_t clamped = 0;         // nr_accesses above max_accesses
  uint64_t bad_range = 0;       // empty or wrapping ranges dropped
  uint64_t merged = 0;          // regions merged to fit WAVE_MEM_MAX_REGIONS
  uint64_t overflow = 0;        // regions dropped to fit WAVE_MEM_MAX_REGIONS
};

class BatchAssembler {
 public:
  struct Options {
    uint32_t aggr_us = 100000;
    uint16_t max_accesses = 20;  // aggr_us / sample_us
    uint64_t timeout_ns = 50000000;
    uint64_t first_seq = 1;
  };

  BatchAssembler(const Options& o, BatchCallback cb, const PagedOutSet* paged_out = nullptr);

  // Index i of DAMON's target list holds slots[i].
  void SetTargets(std::vector<TargetSlot> slots);
  void Add(const wave_mem_collect_rec& r);
  // Delivers a pending aggregation whose last record is older than the timeout.
  void Tick(uint64_t now_ns);
  // Delivers whatever is pending.
  void Flush();

  // Whether an aggregation is pending, and when Tick delivers it (CLOCK_MONOTONIC ns).
  bool pending() const { return !pending_.empty(); }
  uint64_t deadline_ns() const { return last_ns_ + o_.timeout_ns; }
  const AssemblerCounters& counters() const { return counters_; }
  uint64_t next_seq() const { return seq_; }

 private:
  void Deliver();

  Options o_;
  BatchCallback cb_;
  const PagedOutSet* paged_out_;
  std::vector<TargetSlot> slots_;
  std::vector<wave_mem_collect_rec> pending_;
  uint64_t seq_;
  AssemblerCounters counters_;
  // Position within the pending aggregation.
  uint32_t last_idx_ = 0;
  uint64_t last_start_ = 0;
  uint32_t in_target_ = 0;  // records of last_idx_ so far
  uint64_t last_ns_ = 0;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_BATCH_ASSEMBLER_H_
