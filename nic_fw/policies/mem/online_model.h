// The learned part of the SOL policy: an online logistic regression that predicts, for each
// granule (a fixed-size, aligned chunk of a target's address space, 2 MiB by default), the
// probability that it is accessed in the next aggregation interval.
//
// DAMON splits and merges its regions between batches, so the model keeps its per-address
// state by granule, which does not move: a region covering a granule (even partly) is an
// observation of it. One weight vector is shared by every granule; a granule's own history
// (EWMA of its access fraction, its last accessed bits, age, region size, paged-out flag) is
// what makes its prediction its own. Each batch first scores and trains on the prediction the
// previous batch made for the granule (the batch's observation is its label), then updates the
// granule's history and predicts again.
//
// Deterministic (no randomness; fixed iteration order: regions as the batch sorts them),
// single-threaded, bounded: at most max_granules granules and max_targets targets are tracked.
// Granules a target's regions no longer cover are dropped with the batch; a target absent for
// more than forget_after batches is forgotten; when full, absent targets are evicted oldest
// (least recently seen) first, and granules still without room are not tracked (their regions
// are "unsure" for the agent).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wave/mem_batch.h"

namespace wave::mem {

// A clock the caller injects (the model's time budget); the library reads no clock itself.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t NowNs() = 0;
};

// CLOCK_MONOTONIC, for the NIC service to inject.
class MonotonicClock final : public Clock {
 public:
  uint64_t NowNs() override;
};

// Checks an elapsed-time budget every `every` calls of Expired(); without a clock it never
// expires. Once expired it stays expired.
class Budget {
 public:
  Budget(Clock* clock, uint64_t budget_ns, uint32_t every);
  bool Expired() {
    if (expired_)
      return true;
    if (clock_ == nullptr || ++count_ < every_)
      return false;
    count_ = 0;
    expired_ = clock_->NowNs() - start_ > budget_ns_;
    return expired_;
  }
  bool expired() const { return expired_; }

 private:
  Clock* clock_;
  uint64_t budget_ns_;
  uint32_t every_;
  uint32_t count_;
  uint64_t start_ = 0;
  bool expired_ = false;
};

struct ModelConfig {
  uint32_t granule_shift = 21;    // granule size 2^shift bytes (2 MiB); 12..40
  uint32_t max_granules = 65536;  // tracked at once, over all targets (128 GiB of 2 MiB)
  uint32_t max_targets = 256;     // tracked at once
  uint32_t forget_after = 10;     // batches a target may be absent before it is forgotten
  float learning_rate = 0.05f;    // SGD step
  float l2 = 1e-4f;               // weight decay per step
  float ewma_alpha = 0.5f;        // weight of the newest access fraction in the EWMA
};

class OnlineModel {
 public:
  static constexpr size_t kFeatures = 10;
  using Weights = std::array<float, kFeatures>;

  // The per-batch view of one granule the batch covers.
  struct Prediction {
    float p;          // emitted probability of an access next interval (inverted if forced)
    uint8_t history;  // observations of the granule so far, saturating at 255; 0: untracked
  };

  explicit OnlineModel(const ModelConfig& c);

  // Scores, trains and predicts over one batch (regions sorted by (target, start), as
  // DecodeBatch guarantees). Stops early once budget expires; returns how many regions (a
  // prefix) have all their granules predicted. Granules of the rest keep their old state.
  size_t Observe(const BatchInfo& info, std::span<const Region> regions, Budget* budget);

  // After Observe: region i's granules are predictions()[span(i).first .. span(i).second).
  std::pair<uint32_t, uint32_t> span(size_t i) const { return spans_[i]; }
  std::span<const Prediction> predictions() const { return preds_; }

  // Predictions of the previous batch scored by this one, and how many were right
  // (emitted p >= 0.5 and accessed, or p < 0.5 and not accessed).
  uint64_t batch_scored() const { return batch_scored_; }
  uint64_t batch_correct() const { return batch_correct_; }

  // Test hook: emit 1 - p instead of p (training still uses the model's own p).
  void ForceWrongPredictions(bool on) { force_wrong_ = on; }

  // Forgets every granule and target (a new attach); keeps the weights.
  void ResetGranules();

  const Weights& weights() const { return w_; }
  uint64_t granules_tracked() const { return total_; }
  uint64_t targets_tracked() const { return targets_.size(); }
  uint64_t targets_forgotten() const { return targets_forgotten_; }
  uint64_t targets_evicted() const { return targets_evicted_; }
  uint64_t granules_evicted() const { return granules_evicted_; }      // with evicted targets
  uint64_t granules_untracked() const { return granules_untracked_; }  // no room, per batch
  uint64_t granule_bytes() const { return uint64_t{1} << c_.granule_shift; }
  const ModelConfig& config() const { return c_; }

 private:
  struct Granule {
    uint64_t idx;       // address >> granule_shift
    uint64_t last_seq;  // batch of the last observation
    float ewma;         // of the access fraction
    float last_frac;    // access fraction of the last observation
    float pred;         // emitted prediction made at last_seq
    uint32_t age;       // DAMON age of the last observation (min over covering regions)
    uint8_t bits;       // accessed bits, bit 0 the last observation
    uint8_t history;    // observations, saturating
    uint8_t size_log;   // bit width of (largest covering region's pages)
    uint8_t paged;      // a covering region was flagged paged out
  };
  struct Obs {
    uint64_t idx;
    float frac;
    uint32_t age;
    uint8_t size_log;
    uint8_t paged;
  };
  struct Slice {
    size_t target;      // index in targets_
    size_t begin, end;  // its regions in the batch
  };
  struct Target {
    uint32_t id;
    uint64_t last_seen;             // seq
    std::vector<Granule> granules;  // sorted by idx
  };

  Weights Features(const Granule& g) const;
  float Predict(const Weights& x) const;
  void Train(const Weights& x, bool label);
  // Applies one batch observation to g (scoring and training first); returns its prediction.
  Prediction Apply(Granule* g, const Obs& o, uint64_t seq, bool fresh);
  // Walks one target's regions; false if the budget expired inside.
  bool ObserveTarget(Target* t, uint64_t seq, std::span<const Region> regions, size_t base,
                     Budget* budget, size_t* regions_done);
  bool MakeRoom(uint64_t seq);

  ModelConfig c_;
  Weights w_{};
  bool force_wrong_ = false;
  std::vector<Target> targets_;  // sorted by id
  std::vector<Target> next_targets_;
  std::vector<Slice> slices_;
  std::vector<Granule> spare_;
  std::vector<Prediction> preds_;
  std::vector<std::pair<uint32_t, uint32_t>> spans_;
  uint64_t total_ = 0;
  uint64_t last_seq_ = 0;
  uint16_t max_accesses_ = 1;
  uint64_t batch_scored_ = 0;
  uint64_t batch_correct_ = 0;
  uint64_t targets_forgotten_ = 0;
  uint64_t targets_evicted_ = 0;
  uint64_t granules_evicted_ = 0;
  uint64_t granules_untracked_ = 0;
};

}  // namespace wave::mem
