// The scheduling agents as actors of the NIC runtime (nic_fw/runtime): wave-nicd's scheduling
// link service posts each batch of link messages it read from the message ring to the agent
// actor, and writes the decisions in the reply to the decision ring and the prestaged slots.
//
// Request payload: records {le16 type, le16 len, len bytes}, one per link message (the slot's
// type and payload), in ring order. Reply payload: records {le16 kind, le16 cpu,
// struct wave_decision}: a decision for the ring, a prestaged slot to write, or a slot to
// empty (decision all zero). Both formats live inside the NIC and are not ABI.
//
// An agent actor is pinned (never migrated) and serial. Its task table and run queues stay in
// the agent object, outside DMOs: the hot path is tens of nanoseconds per decision, and going
// through dmo_read/dmo_write for every task touched would cost more than the decision. The
// actor's root DMO holds the agent's counters (AgentStats), written after every batch, which
// is what the runtime and its stats see.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "policies/sched/framework/agent.h"
#include "policies/sched/shinjuku/prio_table.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"
#include "policies/sched/vm/vm_policy.h"
#include "runtime/actor.h"
#include "runtime/runtime.h"

namespace wave::agents {

inline constexpr char kFifoActorType[] = "sched_fifo";
inline constexpr char kShinjukuActorType[] = "sched_shinjuku";
inline constexpr char kVmActorType[] = "sched_vm";

// Reply record kinds.
inline constexpr uint16_t kReplyRing = 1;      // send through the decision ring
inline constexpr uint16_t kReplyPrestage = 2;  // write into the CPU's prestaged slot
inline constexpr uint16_t kReplyClear = 3;     // empty the CPU's prestaged slot

struct ReplyRecord {
  uint16_t kind = 0;
  uint16_t cpu = 0;
  wave_decision decision{};
};

struct AgentActorConfig {
  AgentConfig agent;
  ShinjukuConfig shinjuku;
  VmConfig vm;                            // the VM policy's table (parse_vm_config())
  PrioTableReader* prio_table = nullptr;  // Shinjuku's classes; must outlive the actors
};

// Counters of the actor glue itself (malformed batches), beside the agent's own.
struct AgentActorStats {
  uint64_t batches = 0;
  uint64_t bad_records = 0;  // a record's length runs past the batch: the rest is dropped
  uint64_t refused = 0;      // requests for an unknown agent or on the host
};

class AgentActors {
 public:
  explicit AgentActors(const AgentActorConfig& cfg);
  AgentActors(const AgentActors&) = delete;
  AgentActors& operator=(const AgentActors&) = delete;

  // Registers kFifoActorType, kShinjukuActorType and kVmActorType; this object must outlive
  // the runtime.
  bool register_types(rt::ActorRegistry& reg);
  // The spec to create an agent actor for a WAVE_SCHED_POLICY_*; false for another policy.
  static bool spec_for(uint32_t policy, const std::string& name, rt::ActorSpec* out);
  // Creates an agent actor in `runtime` whose agent uses `agent`, `shinjuku` and `vm` (if
  // not null) instead of the constructor's configuration (each scheduling link has its own
  // CPUs and epoch, and the VM policy its table). kInvalid for a policy without an agent.
  rt::Status create(rt::Runtime& runtime, uint32_t policy, const std::string& name,
                    const AgentConfig& agent, const ShinjukuConfig& shinjuku, rt::ActorId* out,
                    const VmConfig* vm = nullptr);
  // Destroys the actor (requests still waiting are answered with kNoActor) and forgets its
  // agent; `last` (optional) receives the agent's final counters.
  rt::Status destroy(rt::Runtime& runtime, rt::ActorId id, AgentStats* last = nullptr);

  // Request encoding, for the link service (and tests).
  static void append_message(std::vector<std::byte>* batch, uint16_t type,
                             std::span<const std::byte> payload);
  // Reply decoding: calls fn for each record; false if the reply is malformed.
  static bool decode_reply(std::span<const std::byte> reply,
                           const std::function<void(const ReplyRecord&)>& fn);

  // Snapshot of an agent actor's counters (false if there is no such agent).
  bool stats(rt::ActorId id, AgentStats* agent, AgentActorStats* glue) const;

 private:
  struct Instance {
    std::mutex mu;  // uncontended on the hot path (serial actor); stats() readers take it
    std::unique_ptr<Agent> agent;
    AgentActorStats glue;
  };
  rt::Status init(rt::ActorContext& ctx, uint32_t policy);
  void handle(rt::ActorContext& ctx, const rt::Message& msg);
  // The actor's instance: from the calling thread's cache when no instance was added or
  // removed since it was filled, else from the map (which refills it). Null if none.
  Instance* instance_for(rt::ActorId id);

  AgentActorConfig cfg_;
  std::mutex create_mu_;                        // one create() at a time
  const AgentActorConfig* next_cfg_ = nullptr;  // create()'s configuration, read by init()
  mutable std::mutex mu_;                       // guards the map and next_cfg_
  std::map<rt::ActorId, std::shared_ptr<Instance>> instances_;
  // Bumped (under mu_) whenever the map gains or loses an instance: a thread's cached
  // instance pointer is good only while this still has the value it had when it was cached.
  std::atomic<uint64_t> map_changes_{0};
  const uint64_t serial_;  // this object's, unique in the process (the cache's key)
};

}  // namespace wave::agents
