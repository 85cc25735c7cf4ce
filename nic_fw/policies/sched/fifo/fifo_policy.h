// Centralized FIFO (ghOSt's schedulers/fifo/centralized, run on the NIC): one global run
// queue in arrival order; a CPU that needs a task gets the oldest runnable task allowed on it,
// busy CPUs get the next one prestaged. No preemption: a task runs until it blocks, yields or
// the host preempts it.
#pragma once

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/task_list.h"

namespace wave::agents {

class FifoPolicy final : public Agent {
 public:
  explicit FifoPolicy(const AgentConfig& cfg) : Agent(cfg) {}

  uint32_t queued() const { return rq_.size(); }

 protected:
  void rq_push(uint32_t i, bool front) override;
  void rq_remove(uint32_t i) override;
  uint32_t rq_pick(uint32_t cpu, uint32_t max_class) const override;
  uint32_t rq_count() const override { return rq_.size(); }

 private:
  TaskList rq_;
};

}  // namespace wave::agents
