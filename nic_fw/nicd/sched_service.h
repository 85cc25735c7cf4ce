// The scheduling agent of issue 5 inside wave-nicd: when the host attaches the scheduling link
// (uapi/wave_sched_link.h: a MESSAGE and a DECISION queue, and the wave_sched_info block that
// names the policy), wave-nicd builds the FIFO or Shinjuku agent of nic_fw/policies/sched over
// libwave's NicLink on its own BAR mapping. Two ways to run it:
//  - actor (the default): the agent is a pinned actor of the NIC runtime (agent_actor.h) and
//    this service's thread is only the link's poller, the NIC's DMA/doorbell engine: it feeds
//    batches of ring messages into the actor's mailbox and applies the replies to the decision
//    side (agents/link_actor_pump.h), with back-pressure instead of loss.
//  - thread: the agent runs inside this thread's polling loop (agents/link_agent.h); kept to
//    measure what the actor hop costs.
//
// The core busy-polls while messages arrive, spins a bounded while after the last one, then
// sleeps until the message queue's doorbell (forwarded from the link's event loop) or a short
// timeout. Before each sleep, and every few hundred polls, it checks that the link it serves
// is still the host's: info magic and attach_gen unchanged, both queues still active with the
// same generation. A detach (magic cleared, queue destroyed) drops the agent; a new attach
// (new attach_gen) builds a fresh one, whose NicLink::Attach bumps the ring epoch.
//
// Policy NONE means a test program plays the agent: wave-nicd then stays off the rings (even
// attaching would bump the epoch under the other agent's feet).
//
// Everything the host wrote is untrusted: descriptors are checked by libwave (NicLink::Attach,
// the ring consumer), the info block here, events and outcomes by the agents' core.
#ifndef WAVE_NIC_FW_NICD_SCHED_SERVICE_H_
#define WAVE_NIC_FW_NICD_SCHED_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "base/unique_fd.h"
#include "control_plane/control_plane.h"
#include "nicd/bar_device.h"
#include "nicd/decision_irq.h"
#include "policies/sched/framework/agent.h"
#include "policies/sched/runners/agent_actor.h"
#include "policies/sched/runners/link_actor_pump.h"
#include "runtime/nic_service.h"
#include "wave/link.h"
#include "wave_sched_link.h"

namespace wave::nicd {

enum class SchedAgentMode : uint8_t {
  kActor,   // an actor of the NIC runtime, fed by this service's link poller
  kThread,  // inside this service's polling thread
};

struct SchedServiceConfig {
  SchedAgentMode mode = SchedAgentMode::kActor;
  // Actor mode: the runtime the agent actors live in (outlives the service). Required.
  rt::NicRuntimeService* runtime = nullptr;
  agents::LinkActorPumpConfig pump;
  // How long the core keeps polling after the last message before it sleeps on the doorbell.
  std::chrono::microseconds spin{100};
  // The longest sleep: bounds how late a detach or attach without a doorbell is noticed.
  std::chrono::milliseconds max_sleep{5};
  // Interrupt the host on the decision queue's vector after publishing ring decisions, so
  // wave.ko wakes the idle CPUs they name (decision_irq.h); off: the host's timer finds them.
  bool decision_irq = true;
};

// Counters summed over every attach, for the exit log.
struct SchedServiceTotals {
  uint64_t attaches = 0;
  uint64_t detaches = 0;
  uint64_t attach_failures = 0;  // NicLink::Attach refused a link (bad descriptors)
  uint64_t bad_info = 0;         // info block invalid while the queues were live
  uint64_t skipped_none = 0;     // links of policy NONE left to another agent
  uint64_t polls = 0;
  uint64_t sleeps = 0;
  uint64_t messages = 0;
  uint64_t bad_slots = 0;           // garbage ring slots dropped by the consumer (libwave)
  uint64_t actor_failures = 0;      // sessions ended because the agent actor answered an error
  uint64_t irqs_raised = 0;         // decision interrupts raised
  uint64_t irqs_coalesced = 0;      // polls whose decisions an interrupt on its way covered
  uint64_t irq_failures = 0;        // the transport delivered a decision interrupt to no host
  agents::AgentStats agent;         // summed
  agents::LinkActorPumpStats pump;  // summed, actor mode
};

class SchedService {
 public:
  SchedService(nic::ControlPlane& link, std::span<std::byte> bar,
               const SchedServiceConfig& config = {});
  ~SchedService();
  SchedService(const SchedService&) = delete;
  SchedService& operator=(const SchedService&) = delete;

  // Registers the doorbell hooks on the link (the message queue kind and the admin vector)
  // and, in actor mode, the agent actor types in the runtime; starts the poller's thread.
  bool Start(std::string* why);
  // Stops and joins the thread, then prints the totals on stderr.
  void Stop();

 private:
  struct Session;

  void Wake();
  void Run();
  // Looks for an attached link of a policy we run; builds the session. False if none.
  bool TryAttach();
  bool StillAttached();
  void EndSession(const char* why);
  void SleepUntilDoorbell();
  // Raises the decision interrupt if decision_irq.h's gate says so.
  void MaybeRaiseDecisionIrq(bool going_idle);
  void LogTotals() const;
  bool StartActor(uint32_t policy, const agents::AgentConfig& cfg, const agents::ShinjukuConfig& sj,
                  const agents::VmConfig& vm, Session* s);

  nic::ControlPlane& link_;
  BarDevice device_;
  SchedServiceConfig config_;
  nic::UniqueFd wake_fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Session> session_;
  std::shared_ptr<agents::AgentActors> actors_;  // actor mode; the runtime keeps it alive
  uint64_t last_seen_gen_ = 0;  // attach_gen last acted on (attached, refused or skipped)
  SchedServiceTotals totals_;
};

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_SCHED_SERVICE_H_
