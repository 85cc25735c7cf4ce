#include "wave/txn.h"

namespace wave {

TxnManager::TxnManager(uint32_t nr_cpus) : nr_cpus_(nr_cpus), cpu_available_(nr_cpus, true) {}

uint64_t TxnManager::OnTaskEvent(uint32_t tid, uint16_t type) {
  Task& t = tasks_[tid];
  t.seq++;
  t.alive = type != WAVE_MSG_TASK_DEAD;
  return t.seq;
}

void TxnManager::SetCpuAvailable(uint32_t cpu, bool available) {
  if (cpu < nr_cpus_)
    cpu_available_[cpu] = available;
}

uint64_t TxnManager::task_seq(uint32_t tid) const {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? 0 : it->second.seq;
}

wave_txn_outcome TxnManager::Commit(const wave_decision& d) {
  wave_txn_outcome o{};
  o.txn_id = d.txn_id;
  o.tid = d.tid;
  o.cpu = d.cpu;
  o.agent_epoch = agent_epoch_;
  auto it = tasks_.find(d.tid);
  o.task_seq = it == tasks_.end() ? 0 : it->second.seq;

  if (d.cpu >= nr_cpus_ || d.reserved != 0 || (d.flags & ~WAVE_DECISION_F_PRESTAGED) != 0) {
    o.outcome = WAVE_TXN_INVALID;
  } else if (d.agent_epoch != agent_epoch_) {
    o.outcome = WAVE_TXN_ABORTED;  // an old agent's decision
  } else if (d.tid != WAVE_TID_NONE && (it == tasks_.end() || !it->second.alive)) {
    o.outcome = WAVE_TXN_ABORTED;  // the task is gone
  } else if (d.tid != WAVE_TID_NONE && it->second.seq != d.task_seq) {
    o.outcome = WAVE_TXN_STALE;  // the agent had not seen the latest event
  } else if (!cpu_available_[d.cpu]) {
    o.outcome = WAVE_TXN_CPU_UNAVAILABLE;
  } else {
    o.outcome = WAVE_TXN_COMMITTED;
  }
  counts_[o.outcome]++;
  return o;
}

}  // namespace wave
