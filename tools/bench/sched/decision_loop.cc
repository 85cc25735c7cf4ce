#include "decision_loop.h"

#include <array>
#include <span>
#include <vector>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/shinjuku/prio_table.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"
#include "wave_msg.h"

namespace wave::bench {
namespace {

using agents::Agent;
using agents::AgentConfig;
using agents::DecisionSink;

// Keeps the last decision per CPU, like the host's view of the decision ring and slots.
class LastDecisionSink final : public DecisionSink {
 public:
  bool decide(const wave_decision& d) override {
    ring[d.cpu % ring.size()] = d;
    ring_count++;
    return true;
  }
  void prestage(uint32_t cpu, const wave_decision* d) override {
    if (d != nullptr)
      slot[cpu] = *d;
  }
  std::array<wave_decision, WAVE_SCHED_MAX_CPUS> ring{};
  std::array<wave_decision, WAVE_SCHED_MAX_CPUS> slot{};
  uint64_t ring_count = 0;
};

class NullSink final : public DecisionSink {
 public:
  bool decide(const wave_decision&) override { return true; }
  void prestage(uint32_t, const wave_decision*) override {}
};

template <typename T>
void send(Agent& a, uint32_t type, const T& msg) {
  a.handle(type, std::as_bytes(std::span<const T, 1>(&msg, 1)));
}

// The host side: per-task sequence numbers and what runs where.
class HostLoop : public DecisionLoop {
 public:
  HostLoop(std::unique_ptr<Agent> agent, const LoopShape& shape)
      : agent_(std::move(agent)), shape_(shape), seq_(shape.tasks + 1, 0), current_(shape.cpus, 0) {
    for (uint32_t tid = 1; tid <= shape_.tasks; tid++) {
      event(WAVE_MSG_TASK_NEW, tid, 0);
      event(WAVE_MSG_TASK_RUNNABLE, tid, 0);
    }
    // Fill every CPU from the ring, then let the agent prestage behind each.
    agent_->schedule(sink_);
    for (uint32_t c = 0; c < shape_.cpus; c++)
      commit(sink_.ring[c]);
    agent_->schedule(sink_);
  }

  uint64_t decisions() const override {
    return agent_->stats().decisions + agent_->stats().prestaged;
  }

  std::string check() const override {
    const agents::AgentStats& s = agent_->stats();
    if (s.dropped() != 0)
      return "the agent dropped host messages";
    if (s.late_outcome != 0 || s.outcomes[WAVE_TXN_COMMITTED] != commits_) {
      return "the agent and the host disagree on transactions";
    }
    if (bad_commits_ != 0)
      return "a decision did not match the host's state";
    std::string why;
    if (!agent_->consistent(&why))
      return why;
    return "";
  }

 protected:
  void event(uint32_t type, uint32_t tid, uint32_t cpu) {
    wave_task_event ev{};
    ev.tid = tid;
    ev.cpu = cpu;
    ev.task_seq = tid != 0 ? ++seq_[tid] : 0;
    ev.time_ns = now_;
    ev.cpumask = ~uint64_t{0};
    send(*agent_, type, ev);
  }

  // The host's commit: checks the decision as the mechanism would, runs the task, reports.
  // Returns the task it displaced (0 if none).
  uint32_t commit(const wave_decision& d) {
    uint32_t tid = d.tid;
    if (tid == 0 || tid > shape_.tasks || d.cpu >= shape_.cpus || d.task_seq != seq_[tid]) {
      bad_commits_++;
      return 0;
    }
    uint32_t old = current_[d.cpu];
    current_[d.cpu] = tid;
    wave_txn_outcome o{};
    o.txn_id = d.txn_id;
    o.tid = tid;
    o.cpu = d.cpu;
    o.outcome = WAVE_TXN_COMMITTED;
    o.task_seq = seq_[tid];
    o.agent_epoch = d.agent_epoch;
    send(*agent_, WAVE_MSG_TXN_OUTCOME, o);
    commits_++;
    return old;
  }

  std::unique_ptr<Agent> agent_;
  LoopShape shape_;
  LastDecisionSink sink_;
  std::vector<uint64_t> seq_;
  std::vector<uint32_t> current_;
  uint64_t now_ = 1'000'000'000;
  uint64_t commits_ = 0;
  uint64_t bad_commits_ = 0;
  uint64_t round_ = 0;
};

class FifoLoop final : public HostLoop {
 public:
  explicit FifoLoop(const LoopShape& shape) : HostLoop(make_agent(shape), shape) {}

  void run(uint64_t rounds) override {
    for (uint64_t r = 0; r < rounds; r++, round_++) {
      uint32_t cpu = static_cast<uint32_t>(round_ % shape_.cpus);
      now_ += 1000;
      event(WAVE_MSG_TASK_YIELD, current_[cpu], cpu);  // to the tail of the queue
      commit(sink_.slot[cpu]);                         // the host takes the prestaged task
      agent_->schedule(sink_);                         // the agent prestages the next one
    }
  }

 private:
  static std::unique_ptr<Agent> make_agent(const LoopShape& shape) {
    AgentConfig cfg;
    cfg.nr_cpus = shape.cpus;
    cfg.max_tasks = shape.tasks * 2;
    return std::make_unique<agents::FifoPolicy>(cfg);
  }
};

// The priority table an application would share with the agent; a base class so it exists
// before HostLoop's constructor creates the agent and its tasks.
struct PrioTableMemory {
  explicit PrioTableMemory(const LoopShape& shape)
      : bytes(sizeof(wave_prio_table_hdr) + sizeof(wave_prio_entry) * shape.tasks),
        mem(bytes / 8 + 1, 0),
        reader(mem.data(), bytes) {
    agents::PrioTableWriter::format(mem.data(), bytes, shape.tasks);
    agents::PrioTableWriter w(mem.data(), bytes);
    // A quarter of the tasks are latency-critical (class 1), the rest default (class 4).
    for (uint32_t tid = 1; tid <= shape.tasks; tid++) {
      if (tid % 4 == 0)
        w.set(tid - 1, tid, 1);
    }
  }
  size_t bytes;
  std::vector<uint64_t> mem;
  agents::PrioTableReader reader;
};

class ShinjukuLoop final : private PrioTableMemory, public HostLoop {
 public:
  explicit ShinjukuLoop(const LoopShape& shape)
      : PrioTableMemory(shape), HostLoop(make_agent(shape, &reader), shape) {}

  void run(uint64_t rounds) override {
    for (uint64_t r = 0; r < rounds; r++, round_++) {
      uint32_t cpu = static_cast<uint32_t>(round_ % shape_.cpus);
      now_ += kSliceNs + 1;  // every tick finds its CPU's task past the slice
      wave_task_event tick{};
      tick.cpu = cpu;
      tick.time_ns = now_;
      send(*agent_, WAVE_MSG_CPU_TICK, tick);
      agent_->schedule(sink_);  // preemption: the prestaged task goes through the ring
      uint32_t old = commit(sink_.ring[cpu]);
      if (old != 0)
        event(WAVE_MSG_TASK_PREEMPTED, old, cpu);  // to the tail of its class
      agent_->schedule(sink_);                     // the next task is prestaged
    }
  }

 private:
  static constexpr uint64_t kSliceNs = 30'000;

  static std::unique_ptr<Agent> make_agent(const LoopShape& shape, agents::PrioTableReader* table) {
    AgentConfig cfg;
    cfg.nr_cpus = shape.cpus;
    cfg.max_tasks = shape.tasks * 2;
    agents::ShinjukuConfig sj;
    sj.slice_ns = kSliceNs;
    auto a = std::make_unique<agents::ShinjukuPolicy>(cfg, sj);
    a->set_prio_table(table);
    NullSink nothing;
    a->schedule(nothing);  // reads the table before the tasks arrive
    return a;
  }
};

}  // namespace

std::unique_ptr<DecisionLoop> make_loop(const std::string& policy, const LoopShape& shape) {
  if (policy == "fifo")
    return std::make_unique<FifoLoop>(shape);
  if (policy == "shinjuku")
    return std::make_unique<ShinjukuLoop>(shape);
  return nullptr;
}

}  // namespace wave::bench

extern "C" __attribute__((noinline)) void sched_bench_measured_rounds(
    wave::bench::DecisionLoop* loop, uint64_t rounds) {
  loop->run(rounds);
}
