// Counters an agent keeps: what it accepted, what it dropped and why, what it decided and
// how the host's transactions ended. Plain integers: an agent runs on one NIC core.
#pragma once

#include <cstdint>

#include "wave_msg.h"

namespace wave::agents {

struct AgentStats {
  // Input.
  uint64_t events = 0;        // task and CPU events accepted
  uint64_t bad_length = 0;    // payload size differs from the type's struct
  uint64_t bad_type = 0;      // not a task, CPU or outcome message
  uint64_t bad_flags = 0;     // reserved or flag bits set
  uint64_t bad_cpu = 0;       // CPU out of range
  uint64_t bad_tid = 0;       // tid 0 on a task event, or non-zero on a CPU event
  uint64_t bad_mask = 0;      // cpumask with no CPU the agent manages
  uint64_t unknown_task = 0;  // tid not known (never created, or already dead)
  uint64_t stale_seq = 0;     // task_seq not greater than the last accepted one
  uint64_t table_full = 0;    // TASK_NEW refused: no room for another task
  uint64_t task_reused = 0;   // TASK_NEW for a live tid with a newer seq: missed TASK_DEAD
  uint64_t groups = 0;        // TASK_GROUP messages accepted
  uint64_t bad_group = 0;     // TASK_GROUP with cgroup id 0
  // Transactions.
  uint64_t outcomes[WAVE_TXN_OUTCOME_MAX + 1] = {};  // by WAVE_TXN_*, index 0 unused
  uint64_t bad_outcome = 0;        // malformed outcome (kind, cpu, txn id, reserved)
  uint64_t late_outcome = 0;       // outcome of a decision the agent already replaced
  uint64_t late_commit = 0;        // ...which the host committed anyway: state followed the host
  uint64_t outcome_task_gone = 0;  // outcome naming a task no longer known (died meanwhile)
  uint64_t epoch_mismatch = 0;     // outcome says the host runs another agent epoch
  uint64_t ran_undecided = 0;      // TASK_RUNNING for a task the agent had not placed there
  // Output.
  uint64_t decisions = 0;        // through the decision ring
  uint64_t prestaged = 0;        // written into prestaged slots
  uint64_t prestage_clears = 0;  // prestaged slots emptied
  uint64_t revoked = 0;          // prestaged decisions taken back (CPU went idle, better task)
  uint64_t steals = 0;           // an idle CPU took a task prestaged for a busy one
  uint64_t preemptions = 0;      // decisions that preempt a running task
  uint64_t ring_full = 0;        // decide() refused by the sink
  uint64_t timed_out = 0;        // ring decisions presumed lost and made again

  uint64_t dropped() const {
    return bad_length + bad_type + bad_flags + bad_cpu + bad_tid + bad_mask + unknown_task +
           stale_seq + table_full + bad_group;
  }
};

}  // namespace wave::agents
