// A simulated host for the agent tests: tasks that run bursts of work on CPUs, sleep and die,
// a commit step that checks every decision the way the host's mechanism does (sequence
// number, epoch, affinity, task alive and waiting), prestaged slots taken when a CPU's task
// stops, and decisions applied one step after they were made so events and decisions cross
// like they do over the link. It records what a correct agent must never do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/decision_sink.h"

namespace wave::agents::testing {

struct SimConfig {
  uint32_t nr_cpus = 4;
  uint64_t step_ns = 5000;
  bool ticks = true;  // CPU_TICK on busy CPUs every step
  // Percent of task events held back until the next step (a task's later events wait behind
  // them), so the agent decides on old information and the host answers STALE.
  uint32_t delay_events_percent = 0;
  // Percent of steps in which the host sends an event for a waiting task (an affinity change
  // to the same mask, as a priority change would), moving its seq under a decision in flight.
  uint32_t touch_percent = 0;
  // Percent of ring decisions the host loses (no commit, no outcome), and how often an idle
  // CPU tells the agent again that it is idle (steps; 0: only when it becomes idle).
  uint32_t drop_decisions_percent = 0;
  uint32_t idle_resend_steps = 0;
  // TASK_RUNNING whenever a task starts on a CPU, as wave_sched.bpf.c sends it.
  bool running_events = true;
  // Percent of freed CPUs that run the longest-waiting task without a decision, as the
  // scheduler's fallback does when no decision came in time.
  uint32_t fallback_percent = 0;
  uint64_t seed = 1;
};

struct SimTaskSpec {
  uint64_t mask = ~uint64_t{0};
  uint64_t burst_ns = 10'000;  // work per burst
  uint32_t bursts = 1;         // bursts before the task exits
  uint64_t sleep_ns = 20'000;  // blocked time between bursts
  uint64_t cgroup = 0;         // non-zero: WAVE_MSG_TASK_GROUP with it after TASK_NEW
};

struct SimStats {
  uint64_t commits = 0, stale = 0, aborted = 0, unavailable = 0, invalid = 0;
  uint64_t from_prestage = 0, cpu_idle_events = 0, preempted = 0, dropped = 0;
  uint64_t max_wait_ns = 0;  // longest time a runnable task waited for a CPU
  uint64_t finished = 0;
  uint64_t fallbacks = 0;  // tasks run without a decision
};

class SimHost final : public DecisionSink {
 public:
  SimHost(Agent& agent, const SimConfig& cfg);

  // A task that becomes runnable now.
  void spawn(uint32_t tid, const SimTaskSpec& spec);
  // The host changes a live task's affinity.
  void set_affinity(uint32_t tid, uint64_t mask);
  // Advances time by one step: runs work, wakes sleepers, ticks, applies the agent's previous
  // decisions and lets the agent decide again.
  void step();
  // Steps until every spawned task exited or max_steps passed; true if all exited.
  bool run_until_done(uint64_t max_steps);

  bool all_done() const;
  uint64_t now_ns() const { return now_; }
  const SimStats& stats() const { return stats_; }
  // Things a correct agent never does (decisions outside the mask, naming a task it knew dead
  // or blocked). Empty in a passing run.
  const std::vector<std::string>& violations() const { return violations_; }
  uint32_t waiting_tasks() const;
  // CPUs the task ran on so far (a bit per CPU), whoever put it there.
  uint64_t ran_on(uint32_t tid) const {
    auto it = ran_on_.find(tid);
    return it == ran_on_.end() ? 0 : it->second;
  }

  // DecisionSink: the agent's output lands here.
  bool decide(const wave_decision& d) override;
  void prestage(uint32_t cpu, const wave_decision* d) override;

 private:
  enum class HState { kSleeping, kWaiting, kRunning, kDead };
  struct HTask {
    SimTaskSpec spec;
    HState state = HState::kWaiting;
    uint64_t seq = 0;
    uint64_t left_ns = 0;  // work left in the burst
    uint32_t bursts_left = 0;
    uint32_t cpu = 0;
    uint64_t wake_at = 0;
    uint64_t waiting_since = 0;
  };
  struct HCpu {
    uint32_t current = 0;  // tid, 0: idle
    std::optional<wave_decision> slot;
    uint64_t slot_taken_txn = 0;  // last prestaged txn consumed
  };

  void event(uint32_t type, uint32_t tid, uint32_t cpu);
  void cpu_event(uint32_t type, uint32_t cpu);
  void cpu_freed(uint32_t cpu);
  bool commit(const wave_decision& d, bool from_slot);
  bool run_fallback(uint32_t cpu);
  void outcome(const wave_decision& d, uint32_t kind);
  void make_waiting(HTask& t);

  Agent& agent_;
  SimConfig cfg_;
  uint64_t now_ = 1'000'000;
  std::map<uint32_t, HTask> tasks_;
  std::vector<HCpu> cpus_;
  std::vector<wave_decision> pending_;  // decisions made last step, applied this step
  std::vector<wave_decision> incoming_;
  std::vector<std::pair<uint32_t, wave_task_event>> delayed_;
  std::map<uint32_t, uint32_t> delayed_per_task_;
  std::mt19937_64 rng_;
  uint64_t steps_ = 0;
  SimStats stats_;
  std::vector<std::string> violations_;
  std::map<uint32_t, uint64_t> ran_on_;
};

}  // namespace wave::agents::testing
