#include "policies/sched/framework/agent.h"

#include <endian.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace wave::agents {
namespace {

constexpr uint32_t kAllClasses = UINT32_MAX;

bool is_task_event(uint32_t type) {
  return type >= WAVE_MSG_TASK_NEW && type <= WAVE_MSG_TASK_RUNNING;
}
bool is_cpu_event(uint32_t type) {
  return type >= WAVE_MSG_CPU_IDLE && type <= WAVE_MSG_CPU_UNAVAILABLE;
}

// Visits the set bits of a CPU mask, lowest first.
template <typename Fn>
void for_each_cpu(uint64_t mask, Fn&& fn) {
  while (mask != 0) {
    uint32_t cpu = static_cast<uint32_t>(std::countr_zero(mask));
    mask &= mask - 1;
    fn(cpu);
  }
}

}  // namespace

inline void Agent::refresh_cpu(uint32_t cpu) {
  // Branch-free: this runs on every state change of a CPU.
  const CpuState& c = cpus_[cpu];
  uint64_t staged = c.staged != kNoIndex;
  uint64_t running = c.current != kNoIndex;
  uint64_t avail = c.available;
  uint64_t free = avail & (running ^ 1) & (staged ^ 1);
  uint64_t busy = avail & running;
  uint64_t pre = staged & c.staged_in_slot;
  uint64_t bit = uint64_t{1} << cpu;
  // A CPU that became free needs a task; one that became busy needs a prestaged one.
  changed_ |= ((free << cpu) & ~free_mask_) != 0 || ((busy << cpu) & ~busy_mask_) != 0;
  free_mask_ = (free_mask_ & ~bit) | (free << cpu);
  busy_mask_ = (busy_mask_ & ~bit) | (busy << cpu);
  staged_mask_ = (staged_mask_ & ~bit) | (staged << cpu);
  prestaged_mask_ = (prestaged_mask_ & ~bit) | (pre << cpu);
  if (has_preemption_) {
    CpuState& m = cpus_[cpu];
    running_class_mask_[m.run_class] &= ~bit;
    prestaged_class_mask_[m.slot_class] &= ~bit;
    if (busy) {
      m.run_class = tasks_.at(c.current).qos;
      running_class_mask_[m.run_class] |= bit;
    }
    if (pre) {
      m.slot_class = tasks_.at(c.staged).qos;
      prestaged_class_mask_[m.slot_class] |= bit;
    }
    expired_mask_ = (expired_mask_ & ~bit) | (uint64_t{c.slice_expired && busy} << cpu);
  }
}

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
      detach(i);
      enqueue(i, /*front=*/false);
      break;
    case WAVE_MSG_TASK_BLOCKED:
      detach(i);
      t.state = TaskState::kBlocked;
      break;
    case WAVE_MSG_TASK_PREEMPTED:
    case WAVE_MSG_TASK_YIELD:
      detach(i);
      enqueue(i, /*front=*/false);
      break;
    case WAVE_MSG_TASK_DEAD:
      detach(i);
      tasks_.erase(i);
      break;
    case WAVE_MSG_TASK_AFFINITY:
      t.mask = mask;
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

wave_decision Agent::make_decision(const Task& t, uint32_t cpu, bool prestaged) const {
  wave_decision d{};
  d.txn_id = htole64(t.txn);
  d.tid = htole32(t.tid);
  d.cpu = htole32(cpu);
  d.task_seq = htole64(t.seq);
  d.agent_epoch = htole64(cfg_.epoch);
  d.slice_ns = htole64(cfg_.slice_ns);
  d.flags = htole32(prestaged ? WAVE_DECISION_F_PRESTAGED : 0);
  return d;
}

bool Agent::stage(DecisionSink& sink, uint32_t i, uint32_t cpu, bool via_prestage) {
  Task& t = tasks_.at(i);
  CpuState& c = cpus_[cpu];
  t.state = TaskState::kPending;
  t.cpu = cpu;
  t.txn = ++next_txn_;
  t.via_prestage = via_prestage;
  if (via_prestage) {
    c.slot = make_decision(t, cpu, true);
    c.slot_full = true;
    dirty_slots_ |= uint64_t{1} << cpu;
    stats_.prestaged++;
  } else if (sink.decide(make_decision(t, cpu, false))) {
    stats_.decisions++;
  } else {
    stats_.ring_full++;
    t.txn = 0;
    enqueue(i, /*front=*/true);
    return false;
  }
  c.staged = i;
  c.staged_in_slot = via_prestage;
  c.staged_ns = now_ns_;
  refresh_cpu(cpu);
  return true;
}

bool Agent::runs_before(uint32_t a, uint32_t b) const {
  const Task& x = tasks_.at(a);
  const Task& y = tasks_.at(b);
  return x.qos != y.qos ? x.qos < y.qos : x.enq < y.enq;
}

uint32_t Agent::oldest_prestaged_for(uint32_t cpu, uint32_t than) const {
  uint32_t best = kNoIndex;
  uint64_t bit = uint64_t{1} << cpu;
  for_each_cpu(prestaged_mask_ & ~bit, [&](uint32_t other) {
    uint32_t s = cpus_[other].staged;
    if ((tasks_.at(s).mask & bit) && (best == kNoIndex || runs_before(s, best)))
      best = s;
  });
  if (best != kNoIndex && than != kNoIndex && !runs_before(best, than))
    return kNoIndex;
  return best;
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

uint32_t Agent::schedule(DecisionSink& sink) {
  before_schedule();
  uint32_t sent = 0;
  bool ring_ok = true;
  // A pass can put tasks back in the queue (a better task took a prestaged slot); a few more
  // passes place them while CPUs are still free. Each pass only moves tasks to better places.
  for (int pass = 0; changed_ && ring_ok && pass < 4; pass++) {
    changed_ = false;

    // 1. CPUs with nothing to run and no decision in flight get the task that comes first:
    // the head of the run queue, or a task prestaged for a busy CPU that arrived earlier.
    for_each_cpu(free_mask_, [&](uint32_t cpu) {
      if (!ring_ok || (queued_ == 0 && prestaged_mask_ == 0))
        return;
      uint32_t q = queued_ != 0 ? rq_pick(cpu, kAllClasses) : kNoIndex;
      uint32_t p = oldest_prestaged_for(cpu, q);
      uint32_t pick = q;
      if (p != kNoIndex) {
        unstage(p);
        stats_.revoked++;
        stats_.steals++;
        pick = p;
      } else if (q != kNoIndex) {
        dequeue(q);
      }
      if (pick == kNoIndex)
        return;
      if (stage(sink, pick, cpu, /*via_prestage=*/false)) {
        sent++;
      } else {
        ring_ok = false;
      }
    });

    // 2. Busy CPUs whose task must give way (policy: slice over, or a more urgent class).
    // Only CPUs without a ring decision in flight; cheap checks first, the policy last.
    if (has_preemption_ && queued_ + std::popcount(prestaged_mask_) != 0) {
      uint32_t best = rq_best_class();
      // Candidates: CPUs past their slice, and CPUs running a class worse than some waiting
      // (queued or prestaged) task's.
      uint32_t waiting_best = best;
      for (uint32_t k = 0; k < WAVE_SCHED_QOS_CLASSES && k < waiting_best; k++) {
        if (prestaged_class_mask_[k] != 0)
          waiting_best = k;
      }
      uint64_t cand = expired_mask_;
      for (uint32_t k = waiting_best + 1; waiting_best != kNoClass && k < WAVE_SCHED_QOS_CLASSES;
           k++) {
        cand |= running_class_mask_[k];
      }
      for_each_cpu(cand & busy_mask_ & ~(staged_mask_ & ~prestaged_mask_), [&](uint32_t cpu) {
        CpuState& c = cpus_[cpu];
        if (!ring_ok)
          return;
        uint32_t s = c.staged;
        uint32_t cur_qos = tasks_.at(c.current).qos;
        uint32_t waiting = s != kNoIndex ? std::min<uint32_t>(best, tasks_.at(s).qos) : best;
        if (!c.slice_expired && (waiting == kNoClass || waiting >= cur_qos))
          return;
        uint32_t max_class = 0;
        if (!preempt_bound(cpu, tasks_.at(c.current), &max_class))
          return;
        uint32_t q = queued_ != 0 ? rq_pick(cpu, max_class) : kNoIndex;
        uint32_t pick = kNoIndex;
        if (s != kNoIndex && tasks_.at(s).qos <= max_class &&
            (q == kNoIndex || !runs_before(q, s))) {
          unstage(s);  // the prestaged task is the right one: send it now
          pick = s;
        } else if (q != kNoIndex) {
          if (s != kNoIndex) {
            unstage(s);
            enqueue(s, /*front=*/true);
            stats_.revoked++;
          }
          dequeue(q);
          pick = q;
        }
        if (pick == kNoIndex)
          return;
        if (stage(sink, pick, cpu, /*via_prestage=*/false)) {
          sent++;
          stats_.preemptions++;
        } else {
          ring_ok = false;
        }
      });
    }

    // 3. Busy CPUs get their next task prestaged, so the host has it when the current one
    // stops; a prestaged task is replaced when a task of a more urgent class is waiting.
    if (cfg_.prestage && queued_ != 0) {
      for_each_cpu(busy_mask_ & ~staged_mask_, [&](uint32_t cpu) {
        if (queued_ == 0)
          return;
        uint32_t q = rq_pick(cpu, kAllClasses);
        if (q == kNoIndex)
          return;
        dequeue(q);
        stage(sink, q, cpu, /*via_prestage=*/true);
      });
      uint32_t best = queued_ != 0 ? rq_best_class() : kNoClass;
      uint64_t worse = 0;  // CPUs whose prestaged task is of a class worse than `best`
      for (uint32_t k = best + 1; best != kNoClass && k < WAVE_SCHED_QOS_CLASSES; k++) {
        worse |= prestaged_class_mask_[k];
      }
      if (worse != 0) {
        for_each_cpu(busy_mask_ & worse, [&](uint32_t cpu) {
          uint32_t s = cpus_[cpu].staged;
          if (tasks_.at(s).qos <= best)
            return;
          uint32_t q = rq_pick(cpu, tasks_.at(s).qos - 1u);
          if (q == kNoIndex)
            return;
          unstage(s);
          enqueue(s, /*front=*/true);
          stats_.revoked++;
          dequeue(q);
          stage(sink, q, cpu, /*via_prestage=*/true);
        });
      }
    }
  }
  // Whatever could not be placed now waits for the next change (a CPU frees up, a task
  // arrives), which sets changed_ again; a full ring is retried on the next call.
  if (!ring_ok)
    changed_ = true;

  // 4. Write the prestaged slots that changed, once each, whatever happened in between.
  for_each_cpu(dirty_slots_, [&](uint32_t cpu) {
    CpuState& c = cpus_[cpu];
    sink.prestage(cpu, c.slot_full ? &c.slot : nullptr);
    if (!c.slot_full)
      stats_.prestage_clears++;
  });
  dirty_slots_ = 0;
  return sent;
}

}  // namespace wave::agents
