// Agent::refresh_cpu(), which keeps the CPU masks in step with one CPU's state. It runs on
// every state change of a CPU, so every agent_*.cc file that changes one includes it and
// gets it inlined. Private to the agent core.
#pragma once

#include "policies/sched/framework/agent.h"

namespace wave::agents {

inline void Agent::refresh_cpu(uint32_t cpu) {
  // Branch-free: this runs on every state change of a CPU.
  const CpuState& c = cpus_[cpu];
  uint64_t staged = c.staged != kNoIndex;
  uint64_t running = c.current != kNoIndex;
  uint64_t avail = c.available;
  uint64_t free = avail & (running ^ 1) & (staged ^ 1);
  uint64_t busy = avail & running;
  uint64_t pre = staged & c.staged_in_slot;
  uint64_t bit = uint64_t{1} << cpu;
  // A CPU that became free needs a task; one that became busy needs a prestaged one.
  changed_ |= ((free << cpu) & ~free_mask_) != 0 || ((busy << cpu) & ~busy_mask_) != 0;
  free_mask_ = (free_mask_ & ~bit) | (free << cpu);
  busy_mask_ = (busy_mask_ & ~bit) | (busy << cpu);
  staged_mask_ = (staged_mask_ & ~bit) | (staged << cpu);
  prestaged_mask_ = (prestaged_mask_ & ~bit) | (pre << cpu);
  if (has_preemption_) {
    CpuState& m = cpus_[cpu];
    running_class_mask_[m.run_class] &= ~bit;
    prestaged_class_mask_[m.slot_class] &= ~bit;
    if (busy) {
      m.run_class = tasks_.at(c.current).qos;
      running_class_mask_[m.run_class] |= bit;
    }
    if (pre) {
      m.slot_class = tasks_.at(c.staged).qos;
      prestaged_class_mask_[m.slot_class] |= bit;
    }
    expired_mask_ = (expired_mask_ & ~bit) | (uint64_t{c.slice_expired && busy} << cpu);
  }
}

}  // namespace wave::agents
