#include "policies/sched/fifo/fifo_policy.h"

namespace wave::agents {

void FifoPolicy::rq_push(uint32_t i, bool front) {
  if (front) {
    rq_.push_front(tasks_, i);
  } else {
    rq_.push_back(tasks_, i);
  }
}

void FifoPolicy::rq_remove(uint32_t i) {
  rq_.remove(tasks_, i);
}

uint32_t FifoPolicy::rq_pick(uint32_t cpu, uint32_t /*max_class*/) const {
  // Every FIFO task is class 0, so any bound admits them all. Affinity: the oldest task that
  // may run here, usually the head.
  return rq_.first_allowed(tasks_, cpu);
}

}  // namespace wave::agents
