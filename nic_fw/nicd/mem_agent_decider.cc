#include "nicd/mem_agent_decider.h"

#include <endian.h>

#include <cmath>

#include "policies/mem/mem_agent.h"

namespace wave::nicd {
namespace {

class MemAgentDecider final : public MemDecider {
 public:
  // The agent's model runs against a time budget measured on this clock.
  explicit MemAgentDecider(mem::AgentConfig c) : agent_(WithClock(c, &clock_)) {}

  MemVerdict Decide(const mem::BatchInfo& info, std::span<const mem::Region> regions,
                    uint64_t now_ns, std::vector<MemDecisionOut>* out) override {
    decisions_.clear();
    const mem::BatchStatus st = agent_.Decide(info, regions, now_ns, &decisions_);
    for (const mem::Decision& d : decisions_)
      out->push_back({d.region, d.action, d.source});
    switch (st) {
      case mem::BatchStatus::kDecided:
        return MemVerdict::kDecided;
      case mem::BatchStatus::kLate:
        return MemVerdict::kLate;
      case mem::BatchStatus::kKilled:
        return MemVerdict::kKilled;
      case mem::BatchStatus::kRefused:
        break;
    }
    return MemVerdict::kRefused;
  }

  void SetKill(bool on) override { agent_.SetKill(on); }

  void FillStats(wave_mem_nic_stats* s) const override {
    const mem::MemAgentStats& a = agent_.stats();
    s->model_decisions = htole64(a.by_source[WAVE_MEM_SRC_MODEL]);
    s->fallback_decisions = htole64(a.by_source[WAVE_MEM_SRC_FALLBACK]);
    s->scored = htole64(a.scored);
    s->correct = htole64(a.correct);
    s->recent_accuracy_ppm =
        htole32(static_cast<uint32_t>(std::lround(a.recent_accuracy * 1'000'000.0)));
    s->fallback_unsure = htole64(a.fallback[mem::kUnsure]);
    s->fallback_accuracy = htole64(a.fallback[mem::kAccuracy]);
    s->fallback_late = htole64(a.fallback[mem::kModelSlow]);
    s->rate_limited = htole64(a.rate_limited);
    s->rate_limited_bytes = htole64(a.rate_limited_bytes);
  }

 private:
  static mem::AgentConfig WithClock(mem::AgentConfig c, mem::Clock* clock) {
    c.clock = clock;
    return c;
  }

  mem::MonotonicClock clock_;  // before agent_: the agent keeps a pointer to it
  mem::MemAgent agent_;
  std::vector<mem::Decision> decisions_;
};

}  // namespace

std::unique_ptr<MemDecider> MakeMemAgentDecider(const MemAttachParams& params, std::string* why) {
  if (params.policy != WAVE_MEM_POLICY_AGE && params.policy != WAVE_MEM_POLICY_SOL) {
    *why = "unknown memory policy " + std::to_string(params.policy);
    return nullptr;
  }
  mem::AgentConfig c;
  c.policy = params.policy;
  c.max_reclaim_bytes_per_s = params.max_reclaim_bytes_per_s;
  c.deadline_ns = params.deadline_ns;
  auto d = std::make_unique<MemAgentDecider>(c);
  d->SetKill(params.kill);
  return d;
}

}  // namespace wave::nicd
