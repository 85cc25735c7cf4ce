#include "policies/sched/shinjuku/shinjuku_policy.h"

#include <bit>

namespace wave::agents {

AgentConfig ShinjukuPolicy::with_slice(AgentConfig cfg, const ShinjukuConfig& sj) {
  cfg.slice_ns = sj.slice_ns;  // the host may enforce the slice too
  return cfg;
}

ShinjukuPolicy::ShinjukuPolicy(const AgentConfig& cfg, const ShinjukuConfig& sj)
    : Agent(with_slice(cfg, sj)), sj_(sj) {
  if (sj_.default_qos >= kClasses)
    sj_.default_qos = kClasses - 1;
  has_preemption_ = true;
}

void ShinjukuPolicy::set_prio_table(PrioTableReader* table) {
  table_ = table;
  table_gen_ = UINT64_MAX;  // scan at the next schedule()
  classes_.clear();
}

void ShinjukuPolicy::rq_push(uint32_t i, bool front) {
  uint32_t k = tasks_.at(i).qos;
  if (front) {
    rq_[k].push_front(tasks_, i);
  } else {
    rq_[k].push_back(tasks_, i);
  }
  nonempty_ |= 1u << k;
}

void ShinjukuPolicy::rq_remove(uint32_t i) {
  uint32_t k = tasks_.at(i).qos;
  rq_[k].remove(tasks_, i);
  if (rq_[k].empty())
    nonempty_ &= ~(1u << k);
}

uint32_t ShinjukuPolicy::rq_pick(uint32_t cpu, uint32_t max_class) const {
  uint32_t classes = nonempty_;
  if (max_class < kClasses - 1)
    classes &= (2u << max_class) - 1;
  while (classes != 0) {
    uint32_t k = static_cast<uint32_t>(std::countr_zero(classes));
    classes &= classes - 1;
    uint32_t i = rq_[k].first_allowed(tasks_, cpu);
    if (i != kNoIndex)
      return i;
  }
  return kNoIndex;
}

uint32_t ShinjukuPolicy::rq_count() const {
  uint32_t n = 0;
  for (const TaskList& l : rq_)
    n += l.size();
  return n;
}

uint32_t ShinjukuPolicy::rq_best_class() const {
  return nonempty_ != 0 ? static_cast<uint32_t>(std::countr_zero(nonempty_)) : kNoClass;
}

void ShinjukuPolicy::on_new_task(Task& t) {
  auto it = classes_.find(t.tid);
  t.qos = static_cast<uint8_t>(it != classes_.end() ? it->second : sj_.default_qos);
}

void ShinjukuPolicy::on_tick(uint32_t cpu) {
  CpuState& c = cpus_[cpu];
  if (c.current == kNoIndex || c.slice_expired)
    return;
  if (now_ns() - c.run_start_ns >= sj_.slice_ns) {
    mark_slice_expired(cpu);
  }
}

bool ShinjukuPolicy::preempt_bound(uint32_t cpu, const Task& cur, uint32_t* max_class) {
  if (cpus_[cpu].slice_expired) {
    *max_class = cur.qos;  // its slice is over: the next task of its class may run
    return true;
  }
  if (cur.qos == 0)
    return false;
  *max_class = cur.qos - 1u;  // only a more urgent class preempts a task within its slice
  return true;
}

void ShinjukuPolicy::before_schedule() {
  if (table_ == nullptr)
    return;
  uint64_t gen = table_->gen();
  if (gen == table_gen_)
    return;
  table_gen_ = gen;
  classes_.clear();
  table_->scan([&](uint32_t tid, uint32_t qos) { classes_[tid] = static_cast<uint8_t>(qos); });
  // Apply to live tasks; tasks whose entry went away return to the default class.
  tasks_.for_each([&](Task& t) {
    auto it = classes_.find(t.tid);
    change_class(t, static_cast<uint8_t>(it != classes_.end() ? it->second : sj_.default_qos));
  });
}

}  // namespace wave::agents
