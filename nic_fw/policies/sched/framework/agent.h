// The core of a scheduling agent, shared by every policy: it validates the host's task/CPU
// events and transaction outcomes, tracks tasks and CPUs, and turns the policy's choices into
// decisions (ring decisions for CPUs that need a task now, prestaged decisions for busy CPUs).
// A policy (policies/sched/fifo/, policies/sched/shinjuku/) only keeps the run queue and says
// who goes first and when a running task should give way. The implementation is split by job:
// agent.cc (construction, self-check, task moves), agent_events.cc (event intake),
// agent_outcomes.cc (transaction outcomes), agent_schedule.cc (decision emission).
//
// Single-threaded: one NIC core owns an agent. Nothing here allocates after construction.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "policies/sched/framework/agent_stats.h"
#include "policies/sched/framework/decision_sink.h"
#include "policies/sched/framework/task_table.h"
#include "wave_msg.h"
#include "wave_sched.h"

namespace wave::agents {

inline constexpr uint32_t kNoClass = UINT32_MAX;

struct AgentConfig {
  uint32_t nr_cpus = 8;       // host CPUs 0..nr_cpus-1 managed, <= WAVE_SCHED_MAX_CPUS
  uint32_t max_tasks = 4096;  // tasks alive at once
  uint64_t epoch = 1;         // this agent's epoch, carried by every decision
  bool prestage = true;       // keep a prestaged decision for every busy CPU
  uint64_t slice_ns = 0;      // slice_ns written into decisions (0: the host's default)
  // A ring decision the host has not answered this long after it was sent is presumed lost
  // (the host dropped it or its outcome) when the CPU reports idle: the task is decided again.
  uint64_t decision_timeout_ns = 1'000'000;
};

// What the host's side of one CPU looks like to the agent. One cache line each, so the array
// can be scanned without false sharing if a future agent splits CPUs across NIC cores.
struct alignas(64) CpuState {
  uint32_t current = kNoIndex;  // task running there (last COMMITTED), or kNoIndex
  uint32_t staged = kNoIndex;   // task named by this CPU's decision in flight, or kNoIndex
  bool available = true;        // false after CPU_UNAVAILABLE or a CPU_UNAVAILABLE outcome
  bool slice_expired = false;   // Shinjuku: the current task ran past its slice
  bool slot_full = false;       // the prestaged slot holds `slot`
  bool staged_in_slot = false;  // `staged` was named through the prestaged slot
  uint8_t run_class = 0;        // class bit this CPU holds in running_class_mask_
  uint8_t slot_class = 0;       // class bit this CPU holds in prestaged_class_mask_
  uint64_t run_start_ns = 0;    // host time when `current` started (as far as the agent knows)
  uint64_t staged_ns = 0;       // host time when the decision naming `staged` was made
  wave_decision slot{};         // the prestaged decision last written
};

class Agent {
 public:
  explicit Agent(const AgentConfig& cfg);
  virtual ~Agent() = default;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // A message from the link: type (wave_slot_hdr.type) and payload. Task/CPU events and
  // transaction outcomes are accepted; anything else, or a wrong size, is counted and dropped.
  // Returns whether the message was accepted.
  bool handle(uint32_t type, std::span<const std::byte> payload);
  bool on_event(uint32_t type, const wave_task_event& ev);
  bool on_outcome(const wave_txn_outcome& o);
  // WAVE_MSG_TASK_GROUP: the task's cgroup, which only policies that group tasks use.
  bool on_group(const wave_task_group& g);

  // Sends a decision for every CPU that needs a task now (idle CPUs, CPUs whose task must give
  // way) and refreshes the prestaged slots of busy CPUs. Returns the ring decisions sent.
  uint32_t schedule(DecisionSink& sink);

  const AgentStats& stats() const { return stats_; }
  const AgentConfig& config() const { return cfg_; }
  uint64_t now_ns() const { return now_ns_; }
  uint32_t nr_tasks() const { return tasks_.size(); }

  // Introspection for tests and status: nullptr when the tid is not known.
  const Task* find_task(uint32_t tid) const;
  const CpuState& cpu(uint32_t c) const { return cpus_[c]; }
  uint32_t cpu_current_tid(uint32_t c) const;
  // Checks the agent's own bookkeeping (tests and fuzzing): every pending task is the staged
  // task of its CPU and the reverse, CPU masks match CPU states, the run queue holds exactly
  // the queued tasks. On failure, says what is wrong in *why.
  bool consistent(std::string* why) const;

 protected:
  // The policy's run queue. `front` puts a task back at the head of its class (it keeps its
  // turn after a failed decision); otherwise it goes to the tail.
  virtual void rq_push(uint32_t i, bool front) = 0;
  virtual void rq_remove(uint32_t i) = 0;
  // The task that should run next on `cpu` among queued tasks of class <= max_class, without
  // removing it; kNoIndex if none.
  virtual uint32_t rq_pick(uint32_t cpu, uint32_t max_class) const = 0;
  // The most urgent class with a queued task (kNoClass if none). Policies without classes
  // keep the default: every task is class 0, so nothing ever outranks a staged task.
  virtual uint32_t rq_best_class() const { return kNoClass; }
  virtual uint32_t rq_count() const = 0;
  // A new task arrived: the policy sets its class.
  virtual void on_new_task(Task& t) { t.qos = 0; }
  // A CPU tick (time already advanced); the policy may set cpus_[cpu].slice_expired.
  virtual void on_tick(uint32_t /*cpu*/) {}
  // Whether the task running on `cpu` should give way, and to which classes (<= *max_class).
  virtual bool preempt_bound(uint32_t /*cpu*/, const Task& /*cur*/, uint32_t* /*max_class*/) {
    return false;
  }
  // Called at the start of schedule(), e.g. to refresh priorities.
  virtual void before_schedule() {}
  // The task's cgroup changed (TASK_GROUP, already validated, task taken back from a decision
  // in flight). The policy may narrow t.mask (within t.host_mask, never to empty).
  virtual void on_task_group(Task& /*t*/, uint64_t /*cgroup_id*/) {}
  // The host changed the task's affinity (t.host_mask, t.mask already set to it).
  virtual void on_task_affinity(Task& /*t*/) {}
  // Beyond t.mask: whether task i may go to `cpu` now (consulted before a steal; rq_pick
  // applies the same rule itself). Policies that place by more than affinity override it.
  virtual bool may_place(uint32_t /*i*/, uint32_t /*cpu*/) const { return true; }

  // Moves a queued task to another class (policy use: priority table updates).
  void change_class(Task& t, uint8_t qos);
  // The task running on `cpu` used up its slice (policy use, from on_tick).
  void mark_slice_expired(uint32_t cpu);

  TaskTable tasks_;
  std::array<CpuState, WAVE_SCHED_MAX_CPUS> cpus_{};
  AgentStats stats_;
  bool changed_ = true;          // something happened that may let schedule() decide more
  bool has_preemption_ = false;  // the policy implements preempt_bound()

 private:
  bool on_task_event(uint32_t type, const wave_task_event& ev);
  bool on_cpu_event(uint32_t type, const wave_task_event& ev);

  void enqueue(uint32_t i, bool front);
  void dequeue(uint32_t i);
  // Recomputes the CPU's bits in free_mask_, busy_mask_, staged_mask_ and prestaged_mask_.
  // On every state change of a CPU, so it must stay cheap (inlined; defined in cpu_masks.h).
  [[gnu::always_inline]] inline void refresh_cpu(uint32_t cpu);
  // Takes the task out of whatever it is in (run queue, a CPU's decision, a CPU), leaving it
  // in no state; the caller sets the next one.
  void detach(uint32_t i);
  void unstage(uint32_t i);
  void run_on(uint32_t i, uint32_t cpu);
  // Names task i for cpu in a new decision, through the ring or the prestaged slot.
  bool stage(DecisionSink& sink, uint32_t i, uint32_t cpu, bool via_prestage);
  // A prestaged task on another CPU that may run on `cpu` and comes before `than` (kNoIndex:
  // any), or kNoIndex.
  uint32_t oldest_prestaged_for(uint32_t cpu, uint32_t than) const;
  bool runs_before(uint32_t a, uint32_t b) const;
  wave_decision make_decision(const Task& t, uint32_t cpu, bool prestaged) const;

  AgentConfig cfg_;
  uint64_t cpu_mask_ = 0;  // CPUs the agent manages
  uint64_t now_ns_ = 0;    // latest host time seen in an event
  // Transaction ids carry the epoch in their top bits, so an outcome of a previous agent
  // instance's decision can never be taken for one of ours.
  uint64_t first_txn_ = 0;
  uint64_t next_txn_ = 0;
  uint64_t next_enq_ = 0;
  uint32_t queued_ = 0;          // tasks in the run queue
  uint64_t free_mask_ = 0;       // available, nothing running, no decision in flight
  uint64_t busy_mask_ = 0;       // available, a task running
  uint64_t staged_mask_ = 0;     // a decision in flight (ring or prestaged) names a task
  uint64_t prestaged_mask_ = 0;  // a prestaged decision names a task
  uint64_t dirty_slots_ = 0;     // prestaged slots to write at the end of schedule()
  // Policies with preemption only: CPUs by the class of their running / prestaged task, and
  // CPUs whose task ran past its slice, so schedule() visits only CPUs that may need to act.
  std::array<uint64_t, WAVE_SCHED_QOS_CLASSES> running_class_mask_{};
  std::array<uint64_t, WAVE_SCHED_QOS_CLASSES> prestaged_class_mask_{};
  uint64_t expired_mask_ = 0;
};

}  // namespace wave::agents
