// The agent core's construction, introspection and self-check, and the moves of a task
// between run queue, a CPU's decision and a CPU that every other part uses.
#include "policies/sched/framework/agent.h"

#include <algorithm>

#include "policies/sched/framework/cpu_masks.h"

namespace wave::agents {

Agent::Agent(const AgentConfig& cfg) : tasks_(cfg.max_tasks), cfg_(cfg) {
  cfg_.nr_cpus = std::clamp<uint32_t>(cfg_.nr_cpus, 1, WAVE_SCHED_MAX_CPUS);
  cpu_mask_ = cfg_.nr_cpus == 64 ? ~uint64_t{0} : (uint64_t{1} << cfg_.nr_cpus) - 1;
  first_txn_ = next_txn_ = (cfg_.epoch & 0xffffff) << 40;
  for (uint32_t c = 0; c < cfg_.nr_cpus; c++)
    refresh_cpu(c);
}

const Task* Agent::find_task(uint32_t tid) const {
  uint32_t i = tasks_.find(tid);
  return i == kNoIndex ? nullptr : &tasks_.at(i);
}

uint32_t Agent::cpu_current_tid(uint32_t c) const {
  if (c >= cfg_.nr_cpus || cpus_[c].current == kNoIndex)
    return WAVE_TID_NONE;
  return tasks_.at(cpus_[c].current).tid;
}

bool Agent::consistent(std::string* why) const {
  auto fail = [&](const std::string& what) {
    *why = what;
    return false;
  };
  uint32_t queued = 0;
  bool ok = true;
  tasks_.for_each([&](const Task& t) {
    if (!ok)
      return;
    uint32_t i = tasks_.index_of(t);
    std::string tid = " (tid " + std::to_string(t.tid) + ")";
    if (t.mask == 0 || (t.mask & ~cpu_mask_) != 0)
      ok = fail("bad mask" + tid);
    if (t.state == TaskState::kQueued)
      queued++;
    if (t.state == TaskState::kPending &&
        (t.cpu >= cfg_.nr_cpus || cpus_[t.cpu].staged != i || t.txn == 0)) {
      ok = fail("pending task not staged on its CPU" + tid);
    }
    if (t.state != TaskState::kPending && t.txn != 0)
      ok = fail("txn outside pending" + tid);
  });
  if (!ok)
    return false;
  if (queued != queued_ || rq_count() != queued_) {
    return fail("run queue holds " + std::to_string(rq_count()) + ", counted " +
                std::to_string(queued_) + ", queued tasks " + std::to_string(queued));
  }
  for (uint32_t c = 0; c < cfg_.nr_cpus; c++) {
    const CpuState& s = cpus_[c];
    std::string cpu = " (cpu " + std::to_string(c) + ")";
    if (s.staged != kNoIndex) {
      const Task& t = tasks_.at(s.staged);
      if (t.state != TaskState::kPending || t.cpu != c)
        return fail("staged task not pending" + cpu);
    }
    if (s.current != kNoIndex) {
      const Task& t = tasks_.at(s.current);
      if (t.state != TaskState::kOnCpu || t.cpu != c)
        return fail("current task not on cpu" + cpu);
    }
    uint64_t bit = uint64_t{1} << c;
    bool free = s.available && s.current == kNoIndex && s.staged == kNoIndex;
    bool busy = s.available && s.current != kNoIndex;
    bool staged = s.staged != kNoIndex;
    bool pre = staged && tasks_.at(s.staged).via_prestage;
    if (free != ((free_mask_ & bit) != 0) || busy != ((busy_mask_ & bit) != 0) ||
        staged != ((staged_mask_ & bit) != 0) || pre != ((prestaged_mask_ & bit) != 0)) {
      return fail("CPU masks out of date" + cpu);
    }
    if (has_preemption_) {
      for (uint32_t k = 0; k < WAVE_SCHED_QOS_CLASSES; k++) {
        bool run = busy && tasks_.at(s.current).qos == k;
        bool slot = pre && tasks_.at(s.staged).qos == k;
        if (run != ((running_class_mask_[k] & bit) != 0) ||
            slot != ((prestaged_class_mask_[k] & bit) != 0)) {
          return fail("class masks out of date" + cpu);
        }
      }
      if ((s.slice_expired && busy) != ((expired_mask_ & bit) != 0)) {
        return fail("expired mask out of date" + cpu);
      }
    }
  }
  return true;
}

void Agent::enqueue(uint32_t i, bool front) {
  Task& t = tasks_.at(i);
  t.state = TaskState::kQueued;
  if (!front || t.enq == 0)
    t.enq = ++next_enq_;
  rq_push(i, front);
  queued_++;
  changed_ = true;
}

void Agent::dequeue(uint32_t i) {
  rq_remove(i);
  queued_--;
}

void Agent::detach(uint32_t i) {
  Task& t = tasks_.at(i);
  switch (t.state) {
    case TaskState::kBlocked:
      break;
    case TaskState::kQueued:
      dequeue(i);
      break;
    case TaskState::kPending:
      unstage(i);
      break;
    case TaskState::kOnCpu:
      if (cpus_[t.cpu].current == i) {
        cpus_[t.cpu].current = kNoIndex;
        cpus_[t.cpu].slice_expired = false;
        refresh_cpu(t.cpu);
      }
      break;
  }
  t.state = TaskState::kBlocked;
}

void Agent::unstage(uint32_t i) {
  Task& t = tasks_.at(i);
  CpuState& c = cpus_[t.cpu];
  if (c.staged == i) {
    c.staged = kNoIndex;
    c.staged_in_slot = false;
    if (t.via_prestage) {
      c.slot_full = false;
      dirty_slots_ |= uint64_t{1} << t.cpu;
    }
  }
  t.txn = 0;
  t.via_prestage = false;
  refresh_cpu(t.cpu);
}

void Agent::run_on(uint32_t i, uint32_t cpu) {
  Task& t = tasks_.at(i);
  CpuState& c = cpus_[cpu];
  // A task the agent still thought ran there was displaced; its own event will say how.
  t.state = TaskState::kOnCpu;
  t.cpu = cpu;
  c.current = i;
  c.run_start_ns = now_ns_;
  c.slice_expired = false;
  c.available = true;
  refresh_cpu(cpu);
}

void Agent::change_class(Task& t, uint8_t qos) {
  if (t.qos == qos)
    return;
  uint32_t i = tasks_.index_of(t);
  if (t.state == TaskState::kQueued) {
    dequeue(i);
    t.qos = qos;
    enqueue(i, /*front=*/false);
  } else {
    t.qos = qos;
    if (t.state == TaskState::kOnCpu || t.state == TaskState::kPending)
      refresh_cpu(t.cpu);
  }
  changed_ = true;
}

void Agent::mark_slice_expired(uint32_t cpu) {
  cpus_[cpu].slice_expired = true;
  refresh_cpu(cpu);
  changed_ = true;
}

}  // namespace wave::agents
