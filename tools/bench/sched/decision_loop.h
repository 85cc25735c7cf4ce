// Steady-state drivers for the agent decision benchmark: a minimal, correct host (sequence
// numbers, commits, outcomes) keeps one policy busy so that every round makes decisions the
// way the real link would: events and outcomes go in through Agent::handle() as bytes,
// decisions come out through a DecisionSink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace wave::bench {

struct LoopShape {
  uint32_t cpus = 8;
  uint32_t tasks = 64;
};

class DecisionLoop {
 public:
  virtual ~DecisionLoop() = default;
  // Runs `rounds` rounds; each makes at least one decision.
  virtual void run(uint64_t rounds) = 0;
  // Decisions made so far (ring + prestaged).
  virtual uint64_t decisions() const = 0;
  // Empty if the agent and the host agree on everything so far; else what went wrong.
  virtual std::string check() const = 0;
};

// "fifo": a running task yields, the host takes the CPU's prestaged decision and commits it,
// the agent prestages the next task for that CPU (one decision per round).
// "shinjuku": a tick finds the running task past its slice, the agent sends the prestaged
// task through the ring as a preemption, the host commits it and reports the preempted task,
// the agent prestages the next one (two decisions per round). Tasks are in two QoS classes
// from a priority table.
std::unique_ptr<DecisionLoop> make_loop(const std::string& policy, const LoopShape& shape);

}  // namespace wave::bench

// The measured region, by name, for callgrind --toggle-collect.
extern "C" void sched_bench_measured_rounds(wave::bench::DecisionLoop* loop, uint64_t rounds);
