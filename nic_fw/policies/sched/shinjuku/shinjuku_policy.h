// Shinjuku (ghOSt's schedulers/shinjuku, run on the NIC): one FIFO run queue per QoS class
// with strict priority between classes (class 0 first), and preemptive time slices: a task
// that ran a full slice gives way to the next waiting task of its class or a more urgent one
// and goes to the tail of its class; a waiting task of a more urgent class preempts at once.
// Classes come from the shared priority table that applications write (prio_table.h).
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/task_list.h"
#include "policies/sched/shinjuku/prio_table.h"
#include "wave_sched_link.h"

namespace wave::agents {

struct ShinjukuConfig {
  uint64_t slice_ns = WAVE_SCHED_DEFAULT_SLICE_NS;
  uint32_t default_qos = WAVE_SCHED_QOS_DEFAULT;  // tasks without a table entry
};

class ShinjukuPolicy final : public Agent {
 public:
  ShinjukuPolicy(const AgentConfig& cfg, const ShinjukuConfig& sj);

  // Reads classes from `table` (nullptr: none, every task gets default_qos). The table is
  // rescanned in schedule() whenever its generation changed.
  void set_prio_table(PrioTableReader* table);

  uint32_t queued(uint32_t qos) const { return qos < kClasses ? rq_[qos].size() : 0; }
  const ShinjukuConfig& shinjuku_config() const { return sj_; }

 protected:
  void rq_push(uint32_t i, bool front) override;
  void rq_remove(uint32_t i) override;
  uint32_t rq_pick(uint32_t cpu, uint32_t max_class) const override;
  uint32_t rq_count() const override;
  uint32_t rq_best_class() const override;
  void on_new_task(Task& t) override;
  void on_tick(uint32_t cpu) override;
  bool preempt_bound(uint32_t cpu, const Task& cur, uint32_t* max_class) override;
  void before_schedule() override;

 private:
  static constexpr uint32_t kClasses = WAVE_SCHED_QOS_CLASSES;
  static AgentConfig with_slice(AgentConfig cfg, const ShinjukuConfig& sj);

  ShinjukuConfig sj_;
  std::array<TaskList, kClasses> rq_;
  uint32_t nonempty_ = 0;  // bit k: rq_[k] has tasks
  PrioTableReader* table_ = nullptr;
  uint64_t table_gen_ = UINT64_MAX;
  // tid -> class from the last scan: tasks created later look their class up here.
  std::unordered_map<uint32_t, uint8_t> classes_;
};

}  // namespace wave::agents
