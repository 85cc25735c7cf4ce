// A simulated host for the memory agent's tests: areas of target address spaces with an
// access pattern per aggregation interval, turned into DAMON-like batches (one region per
// area, age = intervals the accessed/idle state has not changed), and the agent's decisions
// applied back (PAGEOUT flags an area paged out, WILLNEED clears it). Time is simulated:
// batch seq is collected at seq * interval_ns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "policies/mem/mem_agent.h"

namespace wave::mem::testing {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGranule = 2 * kMiB;
constexpr uint64_t kIntervalNs = 100'000'000;  // 100 ms aggregation
constexpr uint16_t kMaxAccesses = 20;

struct Area {
  uint32_t target;
  uint64_t start, end;
  std::function<bool(uint64_t seq)> accessed;
  // Simulated state.
  bool paged_out = false;
  bool last = false;
  uint32_t age = 0;
  bool seen = false;
  // What the agent decided about it: [action][source].
  uint64_t decided[WAVE_MEM_ACTION_MAX + 1][WAVE_MEM_SRC_MAX + 1] = {};
  uint64_t first_pageout_seq = 0;
};

inline std::function<bool(uint64_t)> Hot() {
  return [](uint64_t) { return true; };
}
inline std::function<bool(uint64_t)> Cold() {
  return [](uint64_t) { return false; };
}

class SimHost {
 public:
  // Areas must be added in (target, start) order without overlap.
  size_t Add(uint32_t target, uint64_t start, uint64_t bytes, std::function<bool(uint64_t)> f) {
    areas_.push_back(Area{target, start, start + bytes, std::move(f)});
    return areas_.size() - 1;
  }
  // n areas of `bytes` each from `base` in target; every `every`-th one hot, the others cold.
  void AddSkewed(uint32_t target, uint64_t base, size_t n, uint64_t bytes, size_t every) {
    for (size_t i = 0; i < n; i++)
      Add(target, base + i * bytes, bytes, i % every == 0 ? Hot() : Cold());
  }

  // The next batch.
  void Next() {
    seq_++;
    info_ = BatchInfo{seq_, seq_ * kIntervalNs, 100'000, kMaxAccesses};
    regions_.clear();
    index_.clear();
    for (size_t i = 0; i < areas_.size(); i++) {
      Area& a = areas_[i];
      if (!present_(a, seq_))
        continue;
      bool acc = a.accessed(seq_);
      a.age = (!a.seen || acc != a.last) ? 0 : a.age + 1;
      a.seen = true;
      a.last = acc;
      regions_.push_back(
          Region{a.start, a.end, a.target, a.age, static_cast<uint16_t>(acc ? kMaxAccesses : 0),
                 static_cast<uint16_t>(a.paged_out ? WAVE_MEM_REGION_F_PAGED_OUT : 0)});
      index_.push_back(i);
    }
  }

  // Applies decisions (each must name exactly one of this batch's regions or a part of one).
  void Apply(const std::vector<Decision>& ds) {
    for (const Decision& d : ds) {
      Area* a = Find(d.region);
      ASSERT_NE(a, nullptr) << d.region.target << " " << d.region.start;
      a->decided[d.action][d.source]++;
      if (d.action == WAVE_MEM_PAGEOUT) {
        if (a->first_pageout_seq == 0)
          a->first_pageout_seq = seq_;
        a->paged_out = true;
        paged_bytes_[seq_] += d.region.bytes();
      } else if (d.action == WAVE_MEM_WILLNEED) {
        a->paged_out = false;
      }
    }
  }

  // One round: next batch, the agent decides at collected + lag_ns, decisions applied.
  BatchStatus Step(MemAgent* agent, uint64_t lag_ns = 1'000'000) {
    Next();
    last_.clear();
    BatchStatus s = agent->Decide(info_, regions_, info_.collected_ns + lag_ns, &last_);
    Apply(last_);
    return s;
  }

  Area* Find(const Region& r) {
    for (size_t i : index_) {
      Area& a = areas_[i];
      if (a.target == r.target && a.start <= r.start && r.end <= a.end)
        return &a;
    }
    return nullptr;
  }

  // Which areas take part in batch seq (default: all).
  void SetPresent(std::function<bool(const Area&, uint64_t)> f) { present_ = std::move(f); }

  std::vector<Area>& areas() { return areas_; }
  const BatchInfo& info() const { return info_; }
  const std::vector<Region>& regions() const { return regions_; }
  const std::vector<Decision>& last() const { return last_; }
  const std::map<uint64_t, uint64_t>& paged_bytes() const { return paged_bytes_; }  // by seq
  uint64_t seq() const { return seq_; }

 private:
  std::vector<Area> areas_;
  std::function<bool(const Area&, uint64_t)> present_ = [](const Area&, uint64_t) { return true; };
  uint64_t seq_ = 0;
  BatchInfo info_;
  std::vector<Region> regions_;
  std::vector<size_t> index_;
  std::vector<Decision> last_;
  std::map<uint64_t, uint64_t> paged_bytes_;
};

}  // namespace wave::mem::testing
