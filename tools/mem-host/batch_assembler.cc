#include "batch_assembler.h"

#include <algorithm>

namespace wave::mem {
namespace {

constexpr uint64_t kPageMask = WAVE_MEM_PAGE_SIZE - 1;

// Merges adjacent regions of a target pairwise (size-weighted accesses and age) until at
// most max remain or nothing is adjacent; returns the number of merges.
uint64_t MergeToFit(std::vector<Region>* regions, size_t max) {
  uint64_t merges = 0;
  while (regions->size() > max) {
    std::vector<Region> out;
    out.reserve(regions->size());
    size_t excess = regions->size() - max;
    bool just_merged = false;  // each region takes part in one merge per pass
    for (const Region& r : *regions) {
      if (excess > 0 && !just_merged && !out.empty() && out.back().target == r.target &&
          out.back().end == r.start) {
        Region& l = out.back();
        const unsigned __int128 lb = l.bytes(), rb = r.bytes();
        l.nr_accesses =
            static_cast<uint16_t>((l.nr_accesses * lb + r.nr_accesses * rb) / (lb + rb));
        l.age = static_cast<uint32_t>((l.age * lb + r.age * rb) / (lb + rb));
        l.flags |= r.flags;
        l.end = r.end;
        merges++;
        excess--;
        just_merged = true;
        continue;
      }
      just_merged = false;
      out.push_back(r);
    }
    if (out.size() == regions->size())
      break;
    regions->swap(out);
  }
  return merges;
}

}  // namespace

BatchAssembler::BatchAssembler(const Options& o, BatchCallback cb, const PagedOutSet* paged_out)
    : o_(o), cb_(std::move(cb)), paged_out_(paged_out), seq_(o.first_seq) {
  if (o_.max_accesses == 0)
    o_.max_accesses = 1;
}

void BatchAssembler::SetTargets(std::vector<TargetSlot> slots) {
  slots_ = std::move(slots);
}

void BatchAssembler::Add(const wave_mem_collect_rec& r) {
  counters_.records++;
  if (!pending_.empty()) {
    const bool after =
        r.target_idx > last_idx_ || (r.target_idx == last_idx_ && r.start >= last_start_);
    if (!after) {
      counters_.cut++;
      Deliver();
    }
  }
  if (pending_.empty() || r.target_idx != last_idx_)
    in_target_ = 0;
  last_idx_ = r.target_idx;
  last_start_ = r.end > r.start ? r.end : r.start;
  last_ns_ = r.ktime_ns;
  in_target_++;
  pending_.push_back(r);
  if (!slots_.empty() && r.target_idx + 1 >= slots_.size() && in_target_ >= r.nr_regions)
    Deliver();
}

void BatchAssembler::Tick(uint64_t now_ns) {
  if (!pending_.empty() && now_ns >= last_ns_ + o_.timeout_ns) {
    counters_.timed_out++;
    Deliver();
  }
}

void BatchAssembler::Flush() {
  if (!pending_.empty())
    Deliver();
}

void BatchAssembler::Deliver() {
  std::vector<Region> regions;
  regions.reserve(pending_.size());
  uint64_t collected = 0;
  for (const wave_mem_collect_rec& rec : pending_) {
    collected = std::max<uint64_t>(collected, rec.ktime_ns);
    if (rec.target_idx >= slots_.size() || slots_[rec.target_idx].target == 0 ||
        rec.ktime_ns < slots_[rec.target_idx].valid_from_ns) {
      counters_.unknown_target++;
      continue;
    }
    Region g;
    g.start = rec.start & ~kPageMask;
    g.end = rec.end + kPageMask < rec.end ? 0 : (rec.end + kPageMask) & ~kPageMask;
    if (g.end <= g.start) {
      counters_.bad_range++;
      continue;
    }
    g.target = slots_[rec.target_idx].target;
    g.age = rec.age;
    if (rec.nr_accesses > o_.max_accesses) {
      counters_.clamped++;
      g.nr_accesses = o_.max_accesses;
    } else {
      g.nr_accesses = static_cast<uint16_t>(rec.nr_accesses);
    }
    regions.push_back(g);
  }
  pending_.clear();
  in_target_ = 0;
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) {
    return a.target != b.target ? a.target < b.target : a.start < b.start;
  });
  // Rounding out to pages may make neighbours overlap: clip each to start at the previous
  // one's end (of the same target), dropping what is left empty.
  std::vector<Region> clean;
  clean.reserve(regions.size());
  for (Region r : regions) {
    if (!clean.empty() && clean.back().target == r.target && r.start < clean.back().end) {
      r.start = clean.back().end;
      if (r.end <= r.start) {
        counters_.bad_range++;
        continue;
      }
    }
    clean.push_back(r);
  }
  if (clean.size() > WAVE_MEM_MAX_REGIONS) {
    counters_.merged += MergeToFit(&clean, WAVE_MEM_MAX_REGIONS);
    if (clean.size() > WAVE_MEM_MAX_REGIONS) {
      counters_.overflow += clean.size() - WAVE_MEM_MAX_REGIONS;
      clean.resize(WAVE_MEM_MAX_REGIONS);
    }
  }
  if (paged_out_) {
    for (Region& r : clean) {
      if (paged_out_->Overlaps(r.target, r.start, r.end))
        r.flags |= WAVE_MEM_REGION_F_PAGED_OUT;
    }
  }
  if (clean.empty())
    return;
  BatchInfo info;
  info.seq = seq_++;
  info.collected_ns = collected;
  info.aggr_us = o_.aggr_us;
  info.max_accesses = o_.max_accesses;
  counters_.batches++;
  if (cb_)
    cb_(info, clean);
}

}  // namespace wave::mem
