// Event intake: the host's task and CPU events, checked field by field (untrusted input,
// counted and dropped), and the task and CPU state changes they cause.
#include "policies/sched/framework/agent.h"

#include <endian.h>

#include <algorithm>
#include <cstring>

#include "policies/sched/framework/cpu_masks.h"

namespace wave::agents {
namespace {

bool is_task_event(uint32_t type) {
  return type >= WAVE_MSG_TASK_NEW && type <= WAVE_MSG_TASK_RUNNING;
}
bool is_cpu_event(uint32_t type) {
  return type >= WAVE_MSG_CPU_IDLE && type <= WAVE_MSG_CPU_UNAVAILABLE;
}

}  // namespace

bool Agent::handle(uint32_t type, std::span<const std::byte> payload) {
  if (type == WAVE_MSG_TXN_OUTCOME) {
    if (payload.size() != sizeof(wave_txn_outcome)) {
      stats_.bad_length++;
      return false;
    }
    wave_txn_outcome o;
    std::memcpy(&o, payload.data(), sizeof(o));
    return on_outcome(o);
  }
  if (type == WAVE_MSG_TASK_GROUP) {
    if (payload.size() != sizeof(wave_task_group)) {
      stats_.bad_length++;
      return false;
    }
    wave_task_group g;
    std::memcpy(&g, payload.data(), sizeof(g));
    return on_group(g);
  }
  if (!is_task_event(type) && !is_cpu_event(type)) {
    stats_.bad_type++;
    return false;
  }
  if (payload.size() != sizeof(wave_task_event)) {
    stats_.bad_length++;
    return false;
  }
  wave_task_event ev;
  std::memcpy(&ev, payload.data(), sizeof(ev));
  return on_event(type, ev);
}

bool Agent::on_event(uint32_t type, const wave_task_event& ev) {
  if (!is_task_event(type) && !is_cpu_event(type)) {
    stats_.bad_type++;
    return false;
  }
  if (le32toh(ev.flags) != 0) {
    stats_.bad_flags++;
    return false;
  }
  if (le32toh(ev.cpu) >= cfg_.nr_cpus) {
    stats_.bad_cpu++;
    return false;
  }
  bool ok = is_task_event(type) ? on_task_event(type, ev) : on_cpu_event(type, ev);
  if (ok) {
    stats_.events++;
    // Events from different CPUs may arrive slightly out of time order: keep the latest.
    now_ns_ = std::max(now_ns_, le64toh(ev.time_ns));
  }
  return ok;
}

bool Agent::on_task_event(uint32_t type, const wave_task_event& ev) {
  uint32_t tid = le32toh(ev.tid);
  uint64_t seq = le64toh(ev.task_seq);
  uint64_t mask = le64toh(ev.cpumask) & cpu_mask_;
  if (tid == WAVE_TID_NONE) {
    stats_.bad_tid++;
    return false;
  }
  uint32_t i = tasks_.find(tid);

  if (type == WAVE_MSG_TASK_NEW) {
    if (mask == 0) {
      stats_.bad_mask++;
      return false;
    }
    if (i != kNoIndex) {
      if (seq <= tasks_.at(i).seq) {
        stats_.stale_seq++;
        return false;
      }
      // The host reused a tid we still hold, with a newer sequence number: we missed the old
      // task's TASK_DEAD. The host is authoritative; start over with the new task.
      detach(i);
      stats_.task_reused++;
    } else {
      i = tasks_.insert(tid);
      if (i == kNoIndex) {
        stats_.table_full++;
        return false;
      }
    }
    Task& t = tasks_.at(i);
    t = Task{};
    t.tid = tid;
    t.seq = seq;
    t.mask = mask;
    t.host_mask = mask;
    t.state = TaskState::kBlocked;  // runnable only after TASK_RUNNABLE
    on_new_task(t);
    return true;
  }

  if (i == kNoIndex) {
    stats_.unknown_task++;  // never created, or already dead
    return false;
  }
  Task& t = tasks_.at(i);
  if (seq <= t.seq) {
    stats_.stale_seq++;
    return false;
  }
  if (type == WAVE_MSG_TASK_AFFINITY && mask == 0) {
    stats_.bad_mask++;
    return false;
  }
  t.seq = seq;

  switch (type) {
    case WAVE_MSG_TASK_RUNNABLE:
    case WAVE_MSG_TASK_PREEMPTED:
    case WAVE_MSG_TASK_YIELD:
      detach(i);
      enqueue(i, /*front=*/false);
      break;
    case WAVE_MSG_TASK_BLOCKED:
      detach(i);
      t.state = TaskState::kBlocked;
      break;
    case WAVE_MSG_TASK_DEAD:
      detach(i);
      tasks_.erase(i);
      break;
    case WAVE_MSG_TASK_AFFINITY:
      t.mask = mask;
      t.host_mask = mask;
      on_task_affinity(t);
      if (t.state == TaskState::kPending) {
        // Its decision is stale now (the seq moved), and may name a CPU it left.
        detach(i);
        enqueue(i, /*front=*/true);
      }
      // A running task on a CPU it may no longer use is moved by the host, which then tells
      // us with TASK_PREEMPTED; a queued one is matched against the new mask from now on.
      changed_ = true;
      break;
    case WAVE_MSG_TASK_RUNNING: {
      const uint32_t cpu = le32toh(ev.cpu);
      if (t.state != TaskState::kOnCpu || t.cpu != cpu) {
        // The host ran it without our decision (its fallback, or a prestaged slot we had
        // already rewritten): follow the host, or the next decision naming it is stale.
        detach(i);
        run_on(i, cpu);
        stats_.ran_undecided++;
      }
      // The slice starts when the task really runs, not when the commit was reported.
      cpus_[cpu].run_start_ns = le64toh(ev.time_ns);
      break;
    }
  }
  return true;
}

bool Agent::on_group(const wave_task_group& g) {
  uint32_t tid = le32toh(g.tid);
  uint64_t seq = le64toh(g.task_seq);
  uint64_t cgroup = le64toh(g.cgroup_id);
  if (le32toh(g.flags) != 0) {
    stats_.bad_flags++;
    return false;
  }
  if (tid == WAVE_TID_NONE) {
    stats_.bad_tid++;
    return false;
  }
  if (cgroup == 0) {
    stats_.bad_group++;
    return false;
  }
  uint32_t i = tasks_.find(tid);
  if (i == kNoIndex) {
    stats_.unknown_task++;
    return false;
  }
  Task& t = tasks_.at(i);
  if (seq <= t.seq) {
    stats_.stale_seq++;
    return false;
  }
  t.seq = seq;
  if (t.state == TaskState::kPending) {
    // Stale now, and it may name a CPU the task's new group may not use.
    detach(i);
    enqueue(i, /*front=*/true);
  }
  on_task_group(t, cgroup);
  changed_ = true;
  stats_.groups++;
  stats_.events++;
  now_ns_ = std::max(now_ns_, le64toh(g.time_ns));
  return true;
}

bool Agent::on_cpu_event(uint32_t type, const wave_task_event& ev) {
  if (le32toh(ev.tid) != WAVE_TID_NONE) {
    stats_.bad_tid++;
    return false;
  }
  uint32_t cpu = le32toh(ev.cpu);
  CpuState& c = cpus_[cpu];
  now_ns_ = std::max(now_ns_, le64toh(ev.time_ns));
  switch (type) {
    case WAVE_MSG_CPU_IDLE:
      // The CPU has nothing to run: whatever we thought ran there stopped (its own event
      // tells us how), and a prestaged decision was not taken in time: send it through the
      // ring instead.
      c.available = true;
      c.current = kNoIndex;
      c.slice_expired = false;
      if (c.staged != kNoIndex && tasks_.at(c.staged).via_prestage) {
        uint32_t s = c.staged;
        unstage(s);
        enqueue(s, /*front=*/true);
        stats_.revoked++;
      } else if (c.staged != kNoIndex && now_ns_ - c.staged_ns >= cfg_.decision_timeout_ns) {
        // A ring decision still unanswered: the host lost it (or its outcome). Decide again;
        // if the old one shows up after all, its outcome is late and the host's answer wins.
        uint32_t s = c.staged;
        unstage(s);
        enqueue(s, /*front=*/true);
        stats_.timed_out++;
      }
      refresh_cpu(cpu);
      changed_ = true;
      break;
    case WAVE_MSG_CPU_TICK:
      on_tick(cpu);
      break;
    case WAVE_MSG_CPU_AVAILABLE:
      c.available = true;
      refresh_cpu(cpu);
      changed_ = true;
      break;
    case WAVE_MSG_CPU_UNAVAILABLE:
      c.available = false;
      if (c.staged != kNoIndex) {
        uint32_t s = c.staged;
        unstage(s);
        enqueue(s, /*front=*/true);
      }
      refresh_cpu(cpu);
      changed_ = true;
      break;
  }
  return true;
}

}  // namespace wave::agents
