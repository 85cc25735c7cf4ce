// Where an agent's decisions go: the decision ring (a CPU needs a task now) and the per-CPU
// prestaged slots (the next task for a busy CPU, which the host prefetches). The link layer
// implements it over the BAR; tests and benchmarks record into memory.
#pragma once

#include <cstdint>

#include "wave_msg.h"

namespace wave::agents {

class DecisionSink {
 public:
  virtual ~DecisionSink() = default;
  // Sends a decision through the decision ring. False when the ring is full: the agent keeps
  // the task queued and tries again on its next schedule().
  virtual bool decide(const wave_decision& d) = 0;
  // Overwrites `cpu`'s prestaged slot; nullptr empties it.
  virtual void prestage(uint32_t cpu, const wave_decision* d) = 0;
};

}  // namespace wave::agents
