// Decision emission: schedule() gives free CPUs a task through the decision ring, lets the
// policy preempt busy ones, and keeps a prestaged decision for every busy CPU.
#include "policies/sched/framework/agent.h"

#include <endian.h>

#include <algorithm>
#include <bit>

#include "policies/sched/framework/cpu_masks.h"

namespace wave::agents {
namespace {

constexpr uint32_t kAllClasses = UINT32_MAX;

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
    if ((tasks_.at(s).mask & bit) && (best == kNoIndex || runs_before(s, best)) &&
        may_place(s, cpu))
      best = s;
  });
  if (best != kNoIndex && than != kNoIndex && !runs_before(best, than))
    return kNoIndex;
  return best;
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
