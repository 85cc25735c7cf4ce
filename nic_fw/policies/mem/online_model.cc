#include "policies/mem/online_model.h"

#include <time.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "wave_mem.h"

namespace wave::mem {

uint64_t MonotonicClock::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

Budget::Budget(Clock* clock, uint64_t budget_ns, uint32_t every)
    : clock_(clock), budget_ns_(budget_ns), every_(std::max<uint32_t>(every, 1)), count_(0) {
  if (clock_ != nullptr)
    start_ = clock_->NowNs();
}

OnlineModel::OnlineModel(const ModelConfig& c) : c_(c) {
  c_.granule_shift = std::clamp<uint32_t>(c_.granule_shift, 12, 40);
  c_.max_granules = std::max<uint32_t>(c_.max_granules, 1);
  c_.max_targets = std::max<uint32_t>(c_.max_targets, 1);
  c_.ewma_alpha = std::clamp(c_.ewma_alpha, 0.0f, 1.0f);
}

void OnlineModel::ResetGranules() {
  targets_.clear();
  total_ = 0;
}

OnlineModel::Weights OnlineModel::Features(const Granule& g) const {
  Weights x;
  x[0] = 1.0f;
  x[1] = g.ewma;
  x[2] = g.last_frac;
  for (int k = 0; k < 4; k++)
    x[3 + k] = static_cast<float>((g.bits >> k) & 1);
  x[7] = static_cast<float>(std::min(std::bit_width(g.age), 16)) / 16.0f;
  x[8] = static_cast<float>(g.size_log) / 32.0f;
  x[9] = static_cast<float>(g.paged);
  return x;
}

float OnlineModel::Predict(const Weights& x) const {
  float z = 0;
  for (size_t k = 0; k < kFeatures; k++)
    z += w_[k] * x[k];
  z = std::clamp(z, -30.0f, 30.0f);
  return 1.0f / (1.0f + std::exp(-z));
}

void OnlineModel::Train(const Weights& x, bool label) {
  float err = Predict(x) - (label ? 1.0f : 0.0f);
  for (size_t k = 0; k < kFeatures; k++)
    w_[k] -= c_.learning_rate * (err * x[k] + c_.l2 * w_[k]);
}

OnlineModel::Prediction OnlineModel::Apply(Granule* g, const Obs& o, uint64_t seq, bool fresh) {
  bool accessed = o.frac > 0;
  if (!fresh && g->last_seq + 1 == seq) {
    batch_scored_++;
    if ((g->pred >= 0.5f) == accessed)
      batch_correct_++;
    Train(Features(*g), accessed);
  }
  g->ewma = fresh ? o.frac : c_.ewma_alpha * o.frac + (1 - c_.ewma_alpha) * g->ewma;
  g->last_frac = o.frac;
  g->bits = static_cast<uint8_t>((fresh ? 0 : g->bits << 1) | (accessed ? 1 : 0));
  g->age = o.age;
  g->size_log = o.size_log;
  g->paged = o.paged;
  g->history = static_cast<uint8_t>(fresh ? 1 : std::min(g->history + 1, 255));
  g->last_seq = seq;
  float p = Predict(Features(*g));
  g->pred = force_wrong_ ? 1.0f - p : p;
  return {g->pred, g->history};
}

// Evicts the granules of the least recently seen target absent from this batch.
bool OnlineModel::MakeRoom(uint64_t seq) {
  Target* oldest = nullptr;
  for (Target& t : targets_) {
    if (t.last_seen != seq && !t.granules.empty() &&
        (oldest == nullptr || t.last_seen < oldest->last_seen))
      oldest = &t;
  }
  if (oldest == nullptr)
    return false;
  total_ -= oldest->granules.size();
  granules_evicted_ += oldest->granules.size();
  targets_evicted_++;
  oldest->granules.clear();
  return true;
}

bool OnlineModel::ObserveTarget(Target* t, uint64_t seq, std::span<const Region> regions,
                                size_t base, Budget* budget, size_t* regions_done) {
  std::vector<Granule>& old = t->granules;
  spare_.clear();
  size_t oi = 0;
  Obs cur{};
  bool have = false;
  const uint32_t shift = c_.granule_shift;

  auto flush = [&]() {
    // Old granules below cur.idx are no longer covered: dropped.
    while (oi < old.size() && old[oi].idx < cur.idx) {
      oi++;
      total_--;
    }
    Prediction pr;
    if (oi < old.size() && old[oi].idx == cur.idx) {
      spare_.push_back(old[oi++]);
      pr = Apply(&spare_.back(), cur, seq, false);
    } else if (total_ < c_.max_granules || MakeRoom(seq)) {
      total_++;
      spare_.push_back(Granule{cur.idx, seq, 0, 0, 0, 0, 0, 0, 0, 0});
      pr = Apply(&spare_.back(), cur, seq, true);
    } else {
      granules_untracked_++;
      pr = {0.5f, 0};
    }
    preds_.push_back(pr);
  };
  auto finish = [&](bool complete) {
    if (complete) {
      total_ -= old.size() - oi;  // the rest is no longer covered
    } else {
      spare_.insert(spare_.end(), old.begin() + static_cast<ptrdiff_t>(oi), old.end());
    }
    old.swap(spare_);
  };
  auto done_prefix = [&](size_t upto) {
    size_t n = 0;
    while (n < upto && spans_[base + n].second <= preds_.size())
      n++;
    return n;
  };

  for (size_t r = 0; r < regions.size(); r++) {
    const Region& reg = regions[r];
    uint64_t g0 = reg.start >> shift;
    uint64_t g1 = (reg.end - 1) >> shift;
    uint64_t count = g1 - g0 + 1;
    bool shares = have && cur.idx == g0;
    uint64_t first = preds_.size() + (have && !shares ? 1 : 0);
    if (first + count > c_.max_granules) {
      // Too many granules in this batch: the region is not tracked (empty span).
      granules_untracked_ += count;
      spans_[base + r] = {static_cast<uint32_t>(first), static_cast<uint32_t>(first)};
      continue;
    }
    spans_[base + r] = {static_cast<uint32_t>(first), static_cast<uint32_t>(first + count)};
    float frac = 1.0f * reg.nr_accesses / max_accesses_;
    uint8_t size_log = static_cast<uint8_t>(std::bit_width(reg.bytes() / WAVE_MEM_PAGE_SIZE));
    uint8_t paged = (reg.flags & WAVE_MEM_REGION_F_PAGED_OUT) ? 1 : 0;
    for (uint64_t g = g0; g <= g1; g++) {
      if (have && cur.idx == g) {
        cur.frac = std::max(cur.frac, frac);
        cur.age = std::min(cur.age, reg.age);
        cur.size_log = std::max(cur.size_log, size_log);
        cur.paged |= paged;
        continue;
      }
      if (have) {
        if (budget->Expired()) {
          finish(false);
          *regions_done = done_prefix(r + 1);
          return false;
        }
        flush();
      }
      cur = Obs{g, std::min(frac, 1.0f), reg.age, size_log, paged};
      have = true;
    }
  }
  if (have) {
    if (budget->Expired()) {
      finish(false);
      *regions_done = done_prefix(regions.size());
      return false;
    }
    flush();
  }
  finish(true);
  *regions_done = regions.size();
  return true;
}

size_t OnlineModel::Observe(const BatchInfo& info, std::span<const Region> regions,
                            Budget* budget) {
  batch_scored_ = batch_correct_ = 0;
  preds_.clear();
  spans_.assign(regions.size(), {0, 0});
  const uint64_t seq = info.seq;
  if (seq <= last_seq_)
    ResetGranules();  // seq restarts with every attach
  last_seq_ = seq;
  max_accesses_ = info.max_accesses > 0 ? info.max_accesses : 1;

  // Targets: the batch's (its regions are sorted by target) merged with the tracked ones.
  // Absent ones are kept for forget_after batches; new ones beyond max_targets are untracked.
  next_targets_.clear();
  slices_.clear();
  size_t ti = 0;
  size_t i = 0;
  constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  while (i < regions.size() || ti < targets_.size()) {
    uint64_t b = i < regions.size() ? regions[i].target : kNone;
    uint64_t o = ti < targets_.size() ? targets_[ti].id : kNone;
    if (o < b) {
      Target& t = targets_[ti++];
      if (seq - t.last_seen > c_.forget_after) {
        total_ -= t.granules.size();
        targets_forgotten_++;
      } else {
        next_targets_.push_back(std::move(t));
      }
      continue;
    }
    size_t j = i;
    while (j < regions.size() && regions[j].target == b)
      j++;
    if (o == b) {
      next_targets_.push_back(std::move(targets_[ti++]));
    } else if (next_targets_.size() + (targets_.size() - ti) < c_.max_targets) {
      next_targets_.push_back(Target{static_cast<uint32_t>(b), seq, {}});
    } else {
      // No room for another target: its regions keep their empty spans (untracked).
      for (size_t k = i; k < j; k++)
        granules_untracked_ +=
            ((regions[k].end - 1) >> c_.granule_shift) - (regions[k].start >> c_.granule_shift) + 1;
      i = j;
      continue;
    }
    next_targets_.back().last_seen = seq;
    slices_.push_back({next_targets_.size() - 1, i, j});
    i = j;
  }
  targets_.swap(next_targets_);
  next_targets_.clear();

  // Regions in batch order; untracked targets' regions count as done (nothing to predict).
  for (const Slice& s : slices_) {
    size_t done = 0;
    if (!ObserveTarget(&targets_[s.target], seq, regions.subspan(s.begin, s.end - s.begin), s.begin,
                       budget, &done))
      return s.begin + done;
  }
  return regions.size();
}

}  // namespace wave::mem
