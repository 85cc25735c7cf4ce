// Transactions in ghOSt's model, host side.
//
// The host bumps a task's sequence number on every event it sends for the task. A decision
// carries the sequence number the agent last saw and the agent's epoch; the host commits it
// only if both are still current and the CPU can take it. Every decision gets an outcome,
// which the host sends back to the agent.
//
// Task state transitions kept here:
//   (absent) --TASK_NEW--> alive --any event--> alive (seq + 1) --TASK_DEAD--> dead (seq + 1)
#ifndef WAVE_TXN_H_
#define WAVE_TXN_H_

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "wave_msg.h"

namespace wave {

class TxnManager {
 public:
  explicit TxnManager(uint32_t nr_cpus);

  // Records an event of type (WAVE_MSG_TASK_*) for tid and returns the sequence number the
  // event must carry.
  uint64_t OnTaskEvent(uint32_t tid, uint16_t type);

  // The agent restarted (or was replaced): decisions of older epochs abort.
  void SetAgentEpoch(uint64_t epoch) { agent_epoch_ = epoch; }
  uint64_t agent_epoch() const { return agent_epoch_; }

  void SetCpuAvailable(uint32_t cpu, bool available);

  // Checks d and returns its outcome (to be sent back with SendOutcome).
  wave_txn_outcome Commit(const wave_decision& d);

  uint64_t outcomes(uint32_t outcome) const {
    return outcome <= WAVE_TXN_OUTCOME_MAX ? counts_[outcome] : 0;
  }
  uint64_t task_seq(uint32_t tid) const;

 private:
  struct Task {
    uint64_t seq = 0;
    bool alive = false;
  };

  uint32_t nr_cpus_;
  uint64_t agent_epoch_ = 1;
  std::vector<bool> cpu_available_;
  std::unordered_map<uint32_t, Task> tasks_;
  std::array<uint64_t, WAVE_TXN_OUTCOME_MAX + 1> counts_{};
};

}  // namespace wave

#endif  // WAVE_TXN_H_
