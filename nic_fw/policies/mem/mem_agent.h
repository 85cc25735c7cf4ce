// MemAgent: the NIC-side memory-management policy (WAVE_MEM_POLICY_AGE or _SOL) behind the
// memory link (uapi/wave_mem.h). The NIC service decodes each access batch
// (wave::mem::DecodeBatch) and hands it to Decide(), which appends the batch's non-keep
// decisions; the service sends them (wave::mem::EncodeDecision) and the batch's DONE.
//
// SOL (Safe On-Node Learning): a learned model (online_model.h) decides, guarded by
// safeguards that hand regions, or whole batches, to the age policy (age_policy.h):
//   unsure     the model's probability is inside (cold_p, hot_p), or a granule of the region
//              has fewer than min_history observations or is not tracked: fallback decides it.
//   accuracy   the model's recent accuracy (scored in shadow all the time) is below
//              accuracy_bound: fallback decides everything until it is back at
//              accuracy_recover.
//   late       the batch is older than deadline_ns on arrival: nothing is decided (the service
//              answers WAVE_MEM_BATCH_LATE).
//   model_slow the model's work on the batch exceeded model_budget_ns on the injected clock:
//              the rest of the batch falls back.
//   rate limit a PAGEOUT the token bucket (max_reclaim_bytes_per_s) has no room for is sent as
//              COLD instead (whole regions; see token_bucket.h for regions beyond the bucket).
//   kill       SetKill(true): nothing but keep is decided.
// A pure, deterministic, single-threaded library: time comes in as arguments, or from the
// clock injected in AgentConfig (the model's time budget only).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "policies/mem/age_policy.h"
#include "policies/mem/online_model.h"
#include "policies/mem/token_bucket.h"
#include "wave/mem_batch.h"
#include "wave_mem.h"

namespace wave::mem {

struct AgentConfig {
  uint16_t policy = WAVE_MEM_POLICY_SOL;    // WAVE_MEM_POLICY_*; anything else runs AGE
  uint64_t max_reclaim_bytes_per_s = 0;     // PAGEOUT budget, 0: unlimited
  uint64_t deadline_ns = 0;                 // batch older than this on arrival is late; 0: 1 s
  uint64_t reclaim_burst_ns = 100'000'000;  // the bucket holds this much of the budget

  AgeConfig age;      // the age policy (AGE, and SOL's fallback)
  ModelConfig model;  // the learned model (SOL)

  // What the model's probability p (of an access next interval; max over the region's
  // granules) decides.
  float hot_p = 0.8f;       // p >= hot_p: keep, or WILLNEED if the region was paged out
  float cold_p = 0.2f;      // p <= cold_p: COLD (keep if already paged out)
  float pageout_p = 0.05f;  // p <= pageout_p: PAGEOUT (keep if already paged out)
  uint8_t min_history = 3;  // observations every granule of a region needs first

  // Accuracy bound, over the last accuracy_window batches that scored predictions.
  uint32_t accuracy_window = 8;
  uint32_t accuracy_min_scored = 64;  // predictions the window (or the last batch) needs
  float accuracy_bound = 0.8f;        // trusted -> not, if the window or last batch is below
  float accuracy_recover = 0.9f;      // not -> trusted, once the window is at or above

  // Time budget of the model per batch, on this clock (nullptr: no budget).
  Clock* clock = nullptr;
  uint64_t model_budget_ns = 20'000'000;
  uint32_t budget_check_every = 64;  // clock reads: one per this many granules / regions
};

// A config from the link's info block fields (already read out of it): MiB/s to bytes/s,
// deadline_us 0 meaning 1 s.
AgentConfig ConfigFromInfo(uint16_t policy, uint32_t max_reclaim_mib_s, uint32_t deadline_us);

struct Decision {
  Region region;   // the batch's region it is about
  uint8_t action;  // WAVE_MEM_COLD, _PAGEOUT or _WILLNEED, never KEEP
  uint8_t source;  // WAVE_MEM_SRC_MODEL or _FALLBACK
};

enum class BatchStatus : uint8_t {
  kDecided,  // decisions appended (maybe none): WAVE_MEM_BATCH_OK
  kLate,     // past its deadline: nothing decided, WAVE_MEM_BATCH_LATE
  kKilled,   // the kill switch is on: nothing decided, WAVE_MEM_BATCH_OK
  kRefused,  // regions not as DecodeBatch guarantees: nothing decided, WAVE_MEM_BATCH_REFUSED
};

inline uint32_t DoneStatus(BatchStatus s) {
  switch (s) {
    case BatchStatus::kLate:
      return WAVE_MEM_BATCH_LATE;
    case BatchStatus::kRefused:
      return WAVE_MEM_BATCH_REFUSED;
    default:
      return WAVE_MEM_BATCH_OK;
  }
}

enum FallbackReason : uint8_t { kUnsure, kAccuracy, kLate, kModelSlow, kFallbackReasons };

const char* FallbackReasonName(FallbackReason r);

struct MemAgentStats {
  uint64_t batches = 0;  // Decide() calls
  uint64_t regions = 0;  // regions in them
  uint64_t decisions = 0;
  uint64_t by_action[WAVE_MEM_ACTION_MAX + 1] = {};  // decisions, index WAVE_MEM_*
  uint64_t bytes_by_action[WAVE_MEM_ACTION_MAX + 1] = {};
  uint64_t by_source[WAVE_MEM_SRC_MAX + 1] = {};  // decisions, index WAVE_MEM_SRC_*
  uint64_t model_regions = 0;                     // regions the model decided (keep included)
  uint64_t age_regions = 0;                  // regions the age policy decided as the AGE policy
  uint64_t fallback[kFallbackReasons] = {};  // SOL regions the fallback decided, by why
                                             // (kLate: regions of late batches, left alone)
  // The model's predictions, scored against the next batch (in shadow too).
  uint64_t scored = 0;
  uint64_t correct = 0;
  double recent_accuracy = 0;  // over the accuracy window (0 before anything is scored)
  bool model_trusted = false;
  uint64_t accuracy_trips = 0;       // trusted -> fallback
  uint64_t accuracy_recoveries = 0;  // fallback -> trusted
  // Safeguards.
  uint64_t rate_limited = 0;        // PAGEOUTs the reclaim budget turned into COLD
  uint64_t rate_limited_bytes = 0;  // their bytes
  uint64_t killed_batches = 0;
  uint64_t late_batches = 0;
  uint64_t refused_batches = 0;  // regions unsorted, overlapping, empty or over max_accesses
  uint64_t slow_batches = 0;     // batches whose model work ran out of time
  // The model's memory.
  uint64_t granules_tracked = 0;
  uint64_t targets_tracked = 0;
  uint64_t targets_forgotten = 0;
  uint64_t targets_evicted = 0;
  uint64_t granules_evicted = 0;
  uint64_t granules_untracked = 0;  // granule observations without room
};

class MemAgent {
 public:
  explicit MemAgent(const AgentConfig& c);

  // One decoded batch (regions sorted by (target, start), as DecodeBatch checks: checked again,
  // cheaply, and kRefused if not); now_ns in the host's CLOCK_MONOTONIC domain, the same as
  // info.collected_ns. Appends only non-keep decisions to out.
  BatchStatus Decide(const BatchInfo& info, std::span<const Region> regions, uint64_t now_ns,
                     std::vector<Decision>* out);

  // The kill switch (WAVE_MEM_INFO_F_KILL): while on, every batch is kKilled.
  void SetKill(bool on) { killed_ = on; }
  bool killed() const { return killed_; }

  const MemAgentStats& stats() const { return stats_; }
  const AgentConfig& config() const { return c_; }
  const OnlineModel& model() const { return model_; }

  // Test hooks.
  void ForceWrongPredictions(bool on) { model_.ForceWrongPredictions(on); }

 private:
  void Emit(const Region& r, uint8_t action, uint8_t source, std::vector<Decision>* out);
  void Push(const Region& r, uint8_t action, uint8_t source, std::vector<Decision>* out);
  void Fallback(const Region& r, FallbackReason why, std::vector<Decision>* out);
  void UpdateAccuracy(uint64_t scored, uint64_t correct);
  // The model's action for region i, or false if it is unsure.
  bool ModelAction(const Region& r, size_t i, uint8_t* action) const;

  AgentConfig c_;
  AgePolicy age_;
  OnlineModel model_;
  TokenBucket bucket_;
  bool killed_ = false;
  bool trusted_ = false;
  std::vector<std::pair<uint64_t, uint64_t>> window_;  // (scored, correct) per batch, a ring
  size_t window_next_ = 0;
  uint64_t window_scored_ = 0;
  uint64_t window_correct_ = 0;
  MemAgentStats stats_;
};

}  // namespace wave::mem
