// A host task as the scheduling agent sees it, and the states it moves through.
#pragma once

#include <cstdint>

namespace wave::agents {

inline constexpr uint32_t kNoIndex = UINT32_MAX;  // "no task" in links and CPU slots

// Every transition is taken on a validated event or outcome (agent_events.cc,
// agent_outcomes.cc), or by the agent's own decision in schedule() (agent_schedule.cc):
//   (new)     --TASK_NEW-->                          kBlocked
//   kBlocked  --TASK_RUNNABLE-->                     kQueued   (tail of its class)
//   kQueued   --schedule() names it for a CPU-->     kPending  (a decision is in flight)
//   kPending  --COMMITTED outcome-->                 kOnCpu
//   kPending  --STALE/ABORTED/INVALID/CPU_UNAVAILABLE outcome, prestage revoked or stolen,
//               its CPU leaves or a better task takes the slot-->  kQueued (front: keeps its turn)
//   kOnCpu    --TASK_PREEMPTED / TASK_YIELD-->       kQueued   (tail of its class)
//   any       --TASK_RUNNING on cpu (host is authoritative)--> kOnCpu on that cpu
//   any       --TASK_BLOCKED-->                      kBlocked
//   any       --TASK_RUNNABLE (host is authoritative)--> kQueued (tail)
//   any       --TASK_DEAD-->                         (freed)
//   any       --late COMMITTED of an older decision--> kOnCpu (the host ran it after all)
// Every event carries a sequence number greater than the last one accepted for the task, so a
// decision in flight is stale once any event for its task arrived: leaving kPending on an
// event is always right.
enum class TaskState : uint8_t {
  kBlocked,  // known, not runnable
  kQueued,   // runnable, in the policy's run queue
  kPending,  // named by a decision (ring or prestaged slot) whose outcome is not known yet
  kOnCpu,    // the host committed a decision: it runs on `cpu`
};

const char* task_state_name(TaskState s);

struct Task {
  uint32_t tid = 0;
  TaskState state = TaskState::kBlocked;
  uint8_t qos = 0;            // QoS class (always 0 under FIFO)
  bool via_prestage = false;  // kPending: the decision sits in a prestaged slot
  uint8_t tag = 0;            // policy use (the VM policy: the run queue the task is in)
  uint32_t cpu = 0;           // kPending: target CPU; kOnCpu: where it runs
  uint32_t prev = kNoIndex;   // run queue links (kQueued only)
  uint32_t next = kNoIndex;
  uint64_t seq = 0;        // last task_seq accepted from the host
  uint64_t mask = 0;       // allowed CPUs, never empty: host_mask, or a policy's subset of it
  uint64_t host_mask = 0;  // the host's affinity mask (TASK_NEW, TASK_AFFINITY)
  uint64_t group = 0;      // policy use: the task's group (the VM policy: a VM index + 1)
  uint64_t txn = 0;        // kPending: the decision's txn_id; 0 otherwise
  uint64_t enq = 0;        // order of arrival in the run queue (FIFO turn)
};

}  // namespace wave::agents
