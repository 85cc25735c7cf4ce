#include "policies/sched/framework/tests/sim_host.h"

#include <algorithm>

#include "policies/sched/framework/tests/test_util.h"

namespace wave::agents::testing {

SimHost::SimHost(Agent& agent, const SimConfig& cfg)
    : agent_(agent), cfg_(cfg), cpus_(cfg.nr_cpus), rng_(cfg.seed) {}

void SimHost::event(uint32_t type, uint32_t tid, uint32_t cpu) {
  HTask& t = tasks_.at(tid);
  t.seq++;
  wave_task_event ev = make_event(tid, cpu, t.seq, now_, t.spec.mask);
  if (delayed_per_task_[tid] > 0 || rng_() % 100 < cfg_.delay_events_percent) {
    delayed_.emplace_back(type, ev);
    delayed_per_task_[tid]++;
    return;
  }
  send(agent_, type, ev);
}

void SimHost::cpu_event(uint32_t type, uint32_t cpu) {
  if (type == WAVE_MSG_CPU_IDLE)
    stats_.cpu_idle_events++;
  send(agent_, type, make_event(WAVE_TID_NONE, cpu, 0, now_, 0));
}

void SimHost::make_waiting(HTask& t) {
  t.state = HState::kWaiting;
  t.waiting_since = now_;
}

void SimHost::spawn(uint32_t tid, const SimTaskSpec& spec) {
  HTask t;
  t.spec = spec;
  t.bursts_left = spec.bursts;
  t.left_ns = spec.burst_ns;
  tasks_[tid] = t;
  event(WAVE_MSG_TASK_NEW, tid, 0);
  if (spec.cgroup != 0) {
    HTask& h = tasks_.at(tid);
    h.seq++;
    wave_task_group g{};
    g.tid = tid;
    g.task_seq = h.seq;
    g.cgroup_id = spec.cgroup;
    g.time_ns = now_;
    send(agent_, WAVE_MSG_TASK_GROUP, g);
  }
  make_waiting(tasks_.at(tid));
  event(WAVE_MSG_TASK_RUNNABLE, tid, 0);
}

void SimHost::set_affinity(uint32_t tid, uint64_t mask) {
  HTask& t = tasks_.at(tid);
  if (t.state == HState::kDead)
    return;
  t.spec.mask = mask;
  event(WAVE_MSG_TASK_AFFINITY, tid, t.cpu);
  if (t.state == HState::kRunning && !(mask & (uint64_t{1} << t.cpu))) {
    // The kernel moves a task off a CPU it may no longer use.
    cpus_[t.cpu].current = 0;
    uint32_t cpu = t.cpu;
    make_waiting(t);
    event(WAVE_MSG_TASK_PREEMPTED, tid, cpu);
    cpu_freed(cpu);
  }
}

bool SimHost::decide(const wave_decision& d) {
  incoming_.push_back(d);
  return true;
}

void SimHost::prestage(uint32_t cpu, const wave_decision* d) {
  if (cpu >= cpus_.size()) {
    violations_.push_back("prestaged slot of a CPU out of range");
    return;
  }
  cpus_[cpu].slot = d != nullptr ? std::optional<wave_decision>(*d) : std::nullopt;
}

void SimHost::outcome(const wave_decision& d, uint32_t kind) {
  wave_txn_outcome o = make_outcome(d, kind);
  auto it = tasks_.find(d.tid);
  if (it != tasks_.end())
    o.task_seq = it->second.seq;
  o.agent_epoch = agent_.config().epoch;
  switch (kind) {
    case WAVE_TXN_COMMITTED:
      stats_.commits++;
      break;
    case WAVE_TXN_STALE:
      stats_.stale++;
      break;
    case WAVE_TXN_ABORTED:
      stats_.aborted++;
      break;
    case WAVE_TXN_CPU_UNAVAILABLE:
      stats_.unavailable++;
      break;
    default:
      stats_.invalid++;
      break;
  }
  send(agent_, WAVE_MSG_TXN_OUTCOME, o);
}

bool SimHost::commit(const wave_decision& d, bool from_slot) {
  if (d.cpu >= cpus_.size()) {
    violations_.push_back("decision for a CPU out of range");
    return false;
  }
  auto it = tasks_.find(d.tid);
  if (it == tasks_.end()) {
    violations_.push_back("decision names a task that never existed: " + std::to_string(d.tid));
    return false;
  }
  HTask& t = it->second;
  if (d.agent_epoch != agent_.config().epoch) {
    violations_.push_back("decision with a wrong epoch");
    outcome(d, WAVE_TXN_ABORTED);
    return false;
  }
  if (d.task_seq != t.seq) {
    outcome(d, t.state == HState::kDead ? WAVE_TXN_ABORTED : WAVE_TXN_STALE);
    return false;
  }
  // The agent saw the task's latest event: what follows are its own mistakes, or races
  // between two of its decisions.
  if (t.state == HState::kDead) {
    violations_.push_back("decision names a task the agent knew dead: " + std::to_string(d.tid));
    outcome(d, WAVE_TXN_ABORTED);
    return false;
  }
  if (!(t.spec.mask & (uint64_t{1} << d.cpu))) {
    violations_.push_back("decision outside the task's affinity: tid " + std::to_string(d.tid) +
                          " cpu " + std::to_string(d.cpu));
    outcome(d, WAVE_TXN_INVALID);
    return false;
  }
  if (t.state == HState::kSleeping) {
    violations_.push_back("decision names a blocked task: " + std::to_string(d.tid));
    outcome(d, WAVE_TXN_STALE);
    return false;
  }
  if (t.state == HState::kRunning) {
    outcome(d, WAVE_TXN_ABORTED);  // two decisions named it; the other one won
    return false;
  }
  HCpu& c = cpus_[d.cpu];
  uint32_t displaced = c.current;
  t.state = HState::kRunning;
  t.cpu = d.cpu;
  c.current = d.tid;
  ran_on_[d.tid] |= uint64_t{1} << d.cpu;
  stats_.max_wait_ns = std::max(stats_.max_wait_ns, now_ - t.waiting_since);
  if (from_slot)
    stats_.from_prestage++;
  outcome(d, WAVE_TXN_COMMITTED);
  if (displaced != 0) {
    HTask& old = tasks_.at(displaced);
    make_waiting(old);
    stats_.preempted++;
    event(WAVE_MSG_TASK_PREEMPTED, displaced, d.cpu);
  }
  if (cfg_.running_events)
    event(WAVE_MSG_TASK_RUNNING, d.tid, d.cpu);
  return true;
}

bool SimHost::run_fallback(uint32_t cpu) {
  uint32_t pick = 0;
  for (const auto& [tid, t] : tasks_) {
    if (t.state == HState::kWaiting && (t.spec.mask & (uint64_t{1} << cpu)) &&
        (pick == 0 || t.waiting_since < tasks_.at(pick).waiting_since)) {
      pick = tid;
    }
  }
  if (pick == 0)
    return false;
  HTask& t = tasks_.at(pick);
  t.state = HState::kRunning;
  t.cpu = cpu;
  cpus_[cpu].current = pick;
  ran_on_[pick] |= uint64_t{1} << cpu;
  stats_.max_wait_ns = std::max(stats_.max_wait_ns, now_ - t.waiting_since);
  stats_.fallbacks++;
  if (cfg_.running_events)
    event(WAVE_MSG_TASK_RUNNING, pick, cpu);
  return true;
}

void SimHost::cpu_freed(uint32_t cpu) {
  HCpu& c = cpus_[cpu];
  // The host prefetched the prestaged slot: use it if it holds a decision not used yet.
  if (c.slot && c.slot->txn_id != c.slot_taken_txn) {
    c.slot_taken_txn = c.slot->txn_id;
    if (commit(*c.slot, /*from_slot=*/true))
      return;
  }
  if (cfg_.fallback_percent != 0 && rng_() % 100 < cfg_.fallback_percent && run_fallback(cpu))
    return;
  cpu_event(WAVE_MSG_CPU_IDLE, cpu);
}

void SimHost::step() {
  now_ += cfg_.step_ns;
  std::vector<std::pair<uint32_t, wave_task_event>> late;
  late.swap(delayed_);
  delayed_per_task_.clear();
  for (const auto& [type, ev] : late)
    send(agent_, type, ev);
  for (uint32_t cpu = 0; cpu < cpus_.size(); cpu++) {
    uint32_t tid = cpus_[cpu].current;
    if (tid == 0)
      continue;
    HTask& t = tasks_.at(tid);
    if (t.left_ns > cfg_.step_ns) {
      t.left_ns -= cfg_.step_ns;
      continue;
    }
    cpus_[cpu].current = 0;
    t.left_ns = t.spec.burst_ns;
    if (--t.bursts_left == 0) {
      t.state = HState::kDead;
      stats_.finished++;
      event(WAVE_MSG_TASK_DEAD, tid, cpu);
    } else {
      t.state = HState::kSleeping;
      t.wake_at = now_ + t.spec.sleep_ns;
      event(WAVE_MSG_TASK_BLOCKED, tid, cpu);
    }
    cpu_freed(cpu);
  }
  for (auto& [tid, t] : tasks_) {
    if (t.state == HState::kSleeping && t.wake_at <= now_) {
      make_waiting(t);
      event(WAVE_MSG_TASK_RUNNABLE, tid, t.cpu);
    }
  }
  if (rng_() % 100 < cfg_.touch_percent) {
    // Prefer a task a decision in flight names: that is the race worth testing.
    std::vector<uint32_t> waiting;
    for (const wave_decision& d : incoming_) {
      if (tasks_.count(d.tid) && tasks_.at(d.tid).state == HState::kWaiting) {
        waiting.push_back(d.tid);
      }
    }
    for (const HCpu& c : cpus_) {
      if (c.slot && tasks_.count(c.slot->tid) && tasks_.at(c.slot->tid).state == HState::kWaiting) {
        waiting.push_back(c.slot->tid);
      }
    }
    if (waiting.empty() || rng_() % 2 == 0) {
      for (auto& [tid, t] : tasks_) {
        if (t.state == HState::kWaiting)
          waiting.push_back(tid);
      }
    }
    if (!waiting.empty()) {
      uint32_t tid = waiting[rng_() % waiting.size()];
      event(WAVE_MSG_TASK_AFFINITY, tid, tasks_.at(tid).cpu);
    }
  }
  if (cfg_.ticks) {
    for (uint32_t cpu = 0; cpu < cpus_.size(); cpu++) {
      if (cpus_[cpu].current != 0)
        cpu_event(WAVE_MSG_CPU_TICK, cpu);
    }
  }
  // Decisions made during the previous step reach the host now.
  std::vector<wave_decision> arrived;
  arrived.swap(incoming_);
  for (const wave_decision& d : arrived) {
    if (rng_() % 100 < cfg_.drop_decisions_percent) {
      stats_.dropped++;
      continue;
    }
    commit(d, /*from_slot=*/false);
  }
  if (cfg_.idle_resend_steps != 0 && ++steps_ % cfg_.idle_resend_steps == 0) {
    for (uint32_t cpu = 0; cpu < cpus_.size(); cpu++) {
      if (cpus_[cpu].current == 0)
        cpu_event(WAVE_MSG_CPU_IDLE, cpu);
    }
  }
  agent_.schedule(*this);
}

bool SimHost::all_done() const {
  return std::all_of(tasks_.begin(), tasks_.end(),
                     [](const auto& kv) { return kv.second.state == HState::kDead; });
}

uint32_t SimHost::waiting_tasks() const {
  return static_cast<uint32_t>(std::count_if(tasks_.begin(), tasks_.end(), [](const auto& kv) {
    return kv.second.state == HState::kWaiting;
  }));
}

bool SimHost::run_until_done(uint64_t max_steps) {
  for (uint64_t i = 0; i < max_steps; i++) {
    if (all_done() && delayed_.empty())
      return true;
    step();
  }
  return all_done() && delayed_.empty();
}

}  // namespace wave::agents::testing
