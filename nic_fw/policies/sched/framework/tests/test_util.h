// Helpers for the agent tests: a small configuration, a sink that records decisions, and
// message builders. The tests live in this namespace too, so they name the helpers directly.
#pragma once

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/decision_sink.h"
#include "wave_msg.h"

namespace wave::agents::testing {

inline constexpr uint64_t kAllCpus = ~uint64_t{0};

// An agent over nr_cpus CPUs with room for max_tasks tasks, at `epoch`.
inline AgentConfig test_config(uint32_t nr_cpus, uint32_t max_tasks = 64, uint64_t epoch = 1) {
  AgentConfig cfg;
  cfg.nr_cpus = nr_cpus;
  cfg.max_tasks = max_tasks;
  cfg.epoch = epoch;
  return cfg;
}

// A shm: device name that no other test, in this process or another, uses.
inline std::string unique_shm_name(const std::string& tag) {
  static std::atomic<int> n{0};
  return "agents-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

class RecordingSink final : public DecisionSink {
 public:
  bool decide(const wave_decision& d) override {
    if (full)
      return false;
    ring.push_back(d);
    return true;
  }
  void prestage(uint32_t cpu, const wave_decision* d) override {
    slots.at(cpu) = d != nullptr ? std::optional<wave_decision>(*d) : std::nullopt;
    slot_writes++;
  }
  // Ring decisions since the last call.
  std::vector<wave_decision> take() {
    std::vector<wave_decision> out;
    out.swap(ring);
    return out;
  }

  bool full = false;
  std::vector<wave_decision> ring;
  std::array<std::optional<wave_decision>, 64> slots{};
  uint64_t slot_writes = 0;
};

inline wave_task_event make_event(uint32_t tid, uint32_t cpu, uint64_t seq, uint64_t time_ns = 0,
                                  uint64_t mask = kAllCpus) {
  wave_task_event ev{};
  ev.tid = tid;
  ev.cpu = cpu;
  ev.task_seq = seq;
  ev.time_ns = time_ns;
  ev.cpumask = mask;
  return ev;
}

inline wave_txn_outcome make_outcome(const wave_decision& d, uint32_t kind) {
  wave_txn_outcome o{};
  o.txn_id = d.txn_id;
  o.tid = d.tid;
  o.cpu = d.cpu;
  o.outcome = kind;
  o.task_seq = d.task_seq;
  o.agent_epoch = d.agent_epoch;
  return o;
}

// Sends a message through the agent's byte-level entry point, as the link does.
template <typename T>
bool send(Agent& a, uint32_t type, const T& msg) {
  return a.handle(type, std::as_bytes(std::span<const T, 1>(&msg, 1)));
}

}  // namespace wave::agents::testing
