#include "policies/mem/mem_agent.h"

#include <algorithm>

namespace wave::mem {

namespace {

constexpr uint64_t kDefaultDeadlineNs = 1'000'000'000;

// What the model's walk relies on (DecodeBatch checks it, and more): non-empty ranges sorted
// by (target, start) without overlap, nr_accesses within max_accesses.
bool WellFormed(const BatchInfo& info, std::span<const Region> regions) {
  if (info.max_accesses == 0 && !regions.empty())
    return false;
  for (size_t i = 0; i < regions.size(); i++) {
    const Region& r = regions[i];
    if (r.start >= r.end || r.nr_accesses > info.max_accesses)
      return false;
    if (i > 0) {
      const Region& p = regions[i - 1];
      if (p.target > r.target || (p.target == r.target && p.end > r.start))
        return false;
    }
  }
  return true;
}

}  // namespace

const char* FallbackReasonName(FallbackReason r) {
  switch (r) {
    case kUnsure:
      return "unsure";
    case kAccuracy:
      return "accuracy";
    case kLate:
      return "late";
    case kModelSlow:
      return "model_slow";
    default:
      return "?";
  }
}

AgentConfig ConfigFromInfo(uint16_t policy, uint32_t max_reclaim_mib_s, uint32_t deadline_us) {
  AgentConfig c;
  c.policy = policy;
  c.max_reclaim_bytes_per_s = uint64_t{max_reclaim_mib_s} << 20;
  c.deadline_ns = deadline_us == 0 ? kDefaultDeadlineNs : uint64_t{deadline_us} * 1000;
  return c;
}

MemAgent::MemAgent(const AgentConfig& c)
    : c_(c), age_(c.age), model_(c.model), bucket_(c.max_reclaim_bytes_per_s, c.reclaim_burst_ns) {
  if (c_.policy != WAVE_MEM_POLICY_SOL)
    c_.policy = WAVE_MEM_POLICY_AGE;
  if (c_.deadline_ns == 0)
    c_.deadline_ns = kDefaultDeadlineNs;
  c_.accuracy_window = std::max<uint32_t>(c_.accuracy_window, 1);
  window_.assign(c_.accuracy_window, {0, 0});
}

void MemAgent::Push(const Region& r, uint8_t action, uint8_t source, std::vector<Decision>* out) {
  out->push_back(Decision{r, action, source});
  stats_.decisions++;
  stats_.by_action[action]++;
  stats_.bytes_by_action[action] += r.bytes();
  stats_.by_source[source]++;
}

void MemAgent::Emit(const Region& r, uint8_t action, uint8_t source, std::vector<Decision>* out) {
  if (action == WAVE_MEM_KEEP)
    return;
  if (action != WAVE_MEM_PAGEOUT || bucket_.unlimited()) {
    Push(r, action, source, out);
    return;
  }
  // The reclaim budget: a PAGEOUT it has no room for is sent as COLD instead (the kernel
  // reclaims cold pages first; the region asks again once it has room).
  if (bucket_.Take(r.bytes())) {
    Push(r, WAVE_MEM_PAGEOUT, source, out);
    return;
  }
  stats_.rate_limited++;
  stats_.rate_limited_bytes += r.bytes();
  Push(r, WAVE_MEM_COLD, source, out);
}

void MemAgent::Fallback(const Region& r, FallbackReason why, std::vector<Decision>* out) {
  stats_.fallback[why]++;
  Emit(r, age_.Decide(r), WAVE_MEM_SRC_FALLBACK, out);
}

void MemAgent::UpdateAccuracy(uint64_t scored, uint64_t correct) {
  stats_.scored += scored;
  stats_.correct += correct;
  if (scored > 0) {
    auto& slot = window_[window_next_];
    window_scored_ += scored - slot.first;
    window_correct_ += correct - slot.second;
    slot = {scored, correct};
    window_next_ = (window_next_ + 1) % window_.size();
  }
  if (window_scored_ == 0)
    return;
  double recent = static_cast<double>(window_correct_) / static_cast<double>(window_scored_);
  stats_.recent_accuracy = recent;
  bool window_ok = window_scored_ >= c_.accuracy_min_scored;
  if (trusted_) {
    // Trip fast: on the window, or on the last batch alone.
    bool last_bad = scored >= c_.accuracy_min_scored &&
                    static_cast<double>(correct) < c_.accuracy_bound * static_cast<double>(scored);
    if ((window_ok && recent < c_.accuracy_bound) || last_bad) {
      trusted_ = false;
      stats_.accuracy_trips++;
    }
  } else if (window_ok && recent >= c_.accuracy_recover) {
    trusted_ = true;
    stats_.accuracy_recoveries++;
  }
  stats_.model_trusted = trusted_;
}

bool MemAgent::ModelAction(const Region& r, size_t i, uint8_t* action) const {
  auto [first, last] = model_.span(i);
  if (first == last)
    return false;  // not tracked
  auto preds = model_.predictions();
  float p = 0;
  for (uint32_t k = first; k < last; k++) {
    if (preds[k].history < c_.min_history)
      return false;
    p = std::max(p, preds[k].p);
  }
  bool paged = (r.flags & WAVE_MEM_REGION_F_PAGED_OUT) != 0;
  if (p >= c_.hot_p) {
    *action = paged ? WAVE_MEM_WILLNEED : WAVE_MEM_KEEP;
  } else if (p <= c_.pageout_p) {
    *action = paged ? WAVE_MEM_KEEP : WAVE_MEM_PAGEOUT;
  } else if (p <= c_.cold_p) {
    *action = paged ? WAVE_MEM_KEEP : WAVE_MEM_COLD;
  } else {
    return false;
  }
  return true;
}

BatchStatus MemAgent::Decide(const BatchInfo& info, std::span<const Region> regions,
                             uint64_t now_ns, std::vector<Decision>* out) {
  stats_.batches++;
  stats_.regions += regions.size();
  if (killed_) {
    stats_.killed_batches++;
    return BatchStatus::kKilled;
  }
  if (!WellFormed(info, regions)) {
    stats_.refused_batches++;
    return BatchStatus::kRefused;
  }
  if (now_ns > info.collected_ns && now_ns - info.collected_ns > c_.deadline_ns) {
    stats_.late_batches++;
    if (c_.policy == WAVE_MEM_POLICY_SOL)
      stats_.fallback[kLate] += regions.size();
    return BatchStatus::kLate;
  }
  bucket_.Refill(now_ns);

  if (c_.policy != WAVE_MEM_POLICY_SOL) {
    for (const Region& r : regions)
      Emit(r, age_.Decide(r), WAVE_MEM_SRC_FALLBACK, out);
    stats_.age_regions += regions.size();
    return BatchStatus::kDecided;
  }

  Budget budget(c_.clock, c_.model_budget_ns, c_.budget_check_every);
  size_t done = model_.Observe(info, regions, &budget);
  UpdateAccuracy(model_.batch_scored(), model_.batch_correct());
  for (size_t i = 0; i < regions.size(); i++) {
    const Region& r = regions[i];
    if (i >= done || budget.Expired()) {
      Fallback(r, kModelSlow, out);
      continue;
    }
    if (!trusted_) {
      Fallback(r, kAccuracy, out);
      continue;
    }
    uint8_t action;
    if (!ModelAction(r, i, &action)) {
      Fallback(r, kUnsure, out);
      continue;
    }
    stats_.model_regions++;
    Emit(r, action, WAVE_MEM_SRC_MODEL, out);
  }
  if (budget.expired())
    stats_.slow_batches++;
  stats_.granules_tracked = model_.granules_tracked();
  stats_.targets_tracked = model_.targets_tracked();
  stats_.targets_forgotten = model_.targets_forgotten();
  stats_.targets_evicted = model_.targets_evicted();
  stats_.granules_evicted = model_.granules_evicted();
  stats_.granules_untracked = model_.granules_untracked();
  return BatchStatus::kDecided;
}

}  // namespace wave::mem
