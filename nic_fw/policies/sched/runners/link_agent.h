// Runs a scheduling agent on a libwave NicLink: link messages (task/CPU events, outcomes) in,
// decisions out through the decision ring and the per-CPU prestaged slots. This is the whole
// NIC side of the scheduling link when the agent runs in a plain loop (tests, on-host mode);
// under the actor runtime, AgentActors does the same with batches.
#pragma once

#include <cstdint>
#include <string>

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/decision_sink.h"
#include "policies/sched/vm/vm_policy.h"
#include "wave/link.h"

namespace wave::agents {

// The agent epoch the host accepts: the message ring consumer's epoch, which NicLink::Attach
// incremented (uapi/wave_sched_link.h). An agent must be created with it.
uint64_t link_agent_epoch(const wave::NicLink& link);

// The VM policy's table, which wave.ko wrote into the link's message region at
// WAVE_SCHED_VM_CFG_OFF (uapi/wave_sched_link.h), copied once and checked for a host with
// nr_cpus CPUs; false (and why) if it is missing or malformed.
bool link_vm_config(const wave::NicLink& link, uint32_t nr_cpus, VmConfig* out, std::string* why);

// Decisions into a libwave DecisionProducer. An emptied prestaged slot holds an idle decision
// (tid 0), which the host skips without committing anything.
class LinkDecisionSink final : public DecisionSink {
 public:
  LinkDecisionSink(wave::DecisionProducer& out, uint64_t epoch) : out_(out), epoch_(epoch) {}
  bool decide(const wave_decision& d) override { return out_.Push(d); }
  void prestage(uint32_t cpu, const wave_decision* d) override;

 private:
  wave::DecisionProducer& out_;
  uint64_t epoch_;
};

class LinkAgent {
 public:
  LinkAgent(wave::NicLink& link, Agent& agent)
      : link_(link), agent_(agent), sink_(link.decisions(), agent.config().epoch) {}

  // Reads up to `batch` messages, hands them to the agent, then lets it decide. Returns the
  // number of messages read (0: the ring was empty).
  uint32_t poll_once(uint32_t batch = 64);

 private:
  wave::NicLink& link_;
  Agent& agent_;
  LinkDecisionSink sink_;
};

}  // namespace wave::agents
