// Wave's latency-mitigation ablation, reproduced as a simulation on the emulated link.
//
// A host thread plays the scheduling mechanism of ncpu CPUs in turn: for each CPU it obtains
// the agent's next decision, commits it as a transaction (TxnManager), reports the outcome,
// does the context switch (a fixed amount of work) and sends the preempted task's event. An
// agent thread on the other core keeps a FIFO run queue and decides. Both sides use libwave
// over shm; the host's accesses are charged with the link model (LinkModel::Pcie unless
// given), according to the cache mode of the mapping they would use on hardware:
//   (i)   no mitigation: both regions UC; the host asks (CPU_IDLE event) and polls the ring;
//   (ii)  WC for messages, WT for decisions; still ask and poll;
//   (iii) (ii) + prestaging: the agent keeps each CPU's next decision in its prestaged slot,
//         and the host flushes and prefetches a CPU's slot two CPUs ahead of need.
// The figure is committed decisions per second of the host thread.
#ifndef WAVE_BENCH_LINK_ABLATION_H_
#define WAVE_BENCH_LINK_ABLATION_H_

#include <cstdint>
#include <string>

#include "wave/link_model.h"

namespace wave::bench {

enum class Mitigation { kNone, kWcWt, kPrestage };

struct AblationResult {
  double decisions_per_s = 0;
  uint64_t committed = 0;
  uint64_t not_committed = 0;
  uint64_t prefetch_hits = 0;
  uint64_t prefetch_misses = 0;
  bool ok = true;
};

AblationResult RunAblation(Mitigation mode, const LinkModel& model, uint32_t decisions,
                           const std::string& shm_name);

const char* MitigationName(Mitigation mode);

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_ABLATION_H_
