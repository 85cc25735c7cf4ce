// Transaction outcomes: the host's answer to each decision, checked against the decision in
// flight; a late outcome of a decision already replaced is followed only when the host ran it.
#include "policies/sched/framework/agent.h"

#include <endian.h>

#include "policies/sched/framework/cpu_masks.h"

namespace wave::agents {

bool Agent::on_outcome(const wave_txn_outcome& o) {
  uint32_t kind = le32toh(o.outcome);
  uint32_t tid = le32toh(o.tid);
  uint32_t cpu = le32toh(o.cpu);
  uint64_t txn = le64toh(o.txn_id);
  if (kind == 0 || kind > WAVE_TXN_OUTCOME_MAX || le32toh(o.reserved) != 0 || cpu >= cfg_.nr_cpus ||
      txn <= first_txn_ || txn > next_txn_ || tid == WAVE_TID_NONE) {
    stats_.bad_outcome++;
    return false;
  }
  stats_.outcomes[kind]++;
  if (le64toh(o.agent_epoch) != cfg_.epoch)
    stats_.epoch_mismatch++;
  uint32_t i = tasks_.find(tid);
  if (i == kNoIndex) {
    // Routine, not bad input: the task died (or the host ran it and it died) while our
    // decision was in flight, and its TASK_DEAD freed it before this outcome came back.
    stats_.outcome_task_gone++;
    return false;
  }
  Task& t = tasks_.at(i);

  if (t.state == TaskState::kPending && t.txn == txn) {
    if (t.cpu != cpu) {
      stats_.bad_outcome++;  // the host echoes the CPU we named; this is not our outcome
      return false;
    }
    unstage(i);
    switch (kind) {
      case WAVE_TXN_COMMITTED:
        run_on(i, cpu);
        break;
      case WAVE_TXN_CPU_UNAVAILABLE:
        cpus_[cpu].available = false;
        refresh_cpu(cpu);
        enqueue(i, /*front=*/true);
        break;
      default:
        // STALE: an event for the task is on its way and will move it; until then it keeps
        // its turn. ABORTED: our epoch is old or the task is gone (TASK_DEAD follows).
        // INVALID: our own bug, counted; the task must not be lost for it.
        enqueue(i, /*front=*/true);
        break;
    }
    return true;
  }

  // The outcome of a decision we already took back or replaced.
  stats_.late_outcome++;
  if (kind == WAVE_TXN_COMMITTED && le64toh(o.task_seq) == t.seq &&
      (t.state == TaskState::kQueued || t.state == TaskState::kPending)) {
    // The host ran it anyway (it read a prestaged slot before we rewrote it). No event came
    // since, so that is where the task is now; any newer decision naming it will fail.
    detach(i);
    run_on(i, cpu);
    stats_.late_commit++;
  }
  return true;
}

}  // namespace wave::agents
