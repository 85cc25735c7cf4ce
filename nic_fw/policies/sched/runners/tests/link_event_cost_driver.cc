// Instructions per event on the NIC side, for callgrind: the thread mode (LinkAgent) against
// the inline actor mode (LinkActorPump on an inline core), one thread, fixed work, so the
// count does not depend on the machine's load the way link_actor_latency_bench's wall times do.
//
// Per iteration the host sends RUNNABLE, the NIC polls (the decision is in the ring after
// this poll in both modes), the host reads it and sends COMMITTED and BLOCKED, and the NIC
// polls twice more (the second poll is the actor mode's empty rescheduling request; the
// thread mode schedules on every poll). Only the measured loop is instrumented:
//   valgrind --tool=callgrind --instr-atstart=no link_event_cost_driver thread|inline [ITERS]
// and the instructions callgrind collected, divided by ITERS, are the cost per event.
// Outside valgrind the instrumentation macros do nothing and it just runs.
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/runners/agent_actor.h"
#include "policies/sched/runners/link_actor_pump.h"
#include "policies/sched/runners/link_agent.h"
#include "wave/link.h"
#include "wave_sched_link.h"

namespace wave::agents {
namespace {

struct Side {
  std::unique_ptr<Device> host_dev, nic_dev;
  std::unique_ptr<HostLink> host;
  std::unique_ptr<NicLink> nic;
  bool open(const std::string& name) {
    LinkConfig lc;
    lc.nr_cpus = 1;
    lc.dma_slots = 0;
    auto h = Device::Open("shm:" + name, Role::kHost);
    if (!h.ok())
      return false;
    host_dev = std::move(h.value());
    auto hl = HostLink::Create(*host_dev, lc);
    if (!hl.ok())
      return false;
    host = std::move(hl.value());
    auto n = Device::Open("shm:" + name, Role::kNic);
    if (!n.ok())
      return false;
    nic_dev = std::move(n.value());
    auto nl = NicLink::Attach(*nic_dev);
    if (!nl.ok())
      return false;
    nic = std::move(nl.value());
    return true;
  }
};

// `warmup` uninstrumented iterations, then `iters` instrumented ones. False if a decision
// did not come back after its poll.
bool ping_pong(HostLink& host, uint32_t warmup, uint32_t iters, const std::function<void()>& poll) {
  MessageProducer& to_nic = host.messages();
  uint64_t seq = 1, t = 1;
  to_nic.SendEvent(WAVE_MSG_TASK_NEW, testing::make_event(1, 0, seq++, t++, 1));
  poll();
  for (uint32_t i = 0; i < warmup + iters; i++) {
    if (i == warmup)
      CALLGRIND_START_INSTRUMENTATION;
    to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, testing::make_event(1, 0, seq++, t++, 1));
    poll();
    wave_decision d{};
    std::span<wave_decision> one(&d, 1);
    if (host.decisions().PollRing(one) != 1 || d.tid != 1) {
      std::fprintf(stderr, "no decision after the poll of iteration %u\n", i);
      return false;
    }
    to_nic.SendOutcome(testing::make_outcome(d, WAVE_TXN_COMMITTED));
    to_nic.SendEvent(WAVE_MSG_TASK_BLOCKED, testing::make_event(1, 0, seq++, t++, 1));
    poll();
    poll();
  }
  CALLGRIND_STOP_INSTRUMENTATION;
  return true;
}

bool thread_mode(const std::string& name, uint32_t warmup, uint32_t iters) {
  Side s;
  if (!s.open(name))
    return false;
  AgentConfig cfg;
  cfg.nr_cpus = 1;
  cfg.epoch = link_agent_epoch(*s.nic);
  FifoPolicy agent(cfg);
  LinkAgent pump(*s.nic, agent);
  return ping_pong(*s.host, warmup, iters, [&] { pump.poll_once(); });
}

bool inline_mode(const std::string& name, uint32_t warmup, uint32_t iters) {
  Side s;
  if (!s.open(name))
    return false;
  rt::ActorRegistry reg;
  AgentActors actors(AgentActorConfig{});
  actors.register_types(reg);
  rt::RuntimeConfig rc;
  rc.sched.cores = 1;
  // FCFS only: under valgrind a handler's run is slow enough for the hybrid scheduler to move
  // the actor to DRR, whose requests go to the cores, not to the inline path measured here.
  rc.sched.mode = rt::SchedMode::kFcfsOnly;
  rc.core_spin_ns = 0;
  rc.migration = false;
  rt::Runtime runtime(rc, reg, [](rt::Reply&&) {});
  if (!runtime.start())
    return false;
  AgentConfig cfg;
  cfg.nr_cpus = 1;
  cfg.epoch = link_agent_epoch(*s.nic);
  rt::ActorId id;
  if (actors.create(runtime, WAVE_SCHED_POLICY_FIFO, "fifo", cfg, ShinjukuConfig{}, &id) !=
      rt::Status::kOk)
    return false;
  bool ok;
  {
    LinkActorPump pump(*s.nic, runtime, id, cfg.epoch);
    ok = ping_pong(*s.host, warmup, iters, [&] { pump.poll_once(); });
    // Every request must have run on the poller: a hand-over would not be the mode measured.
    if (pump.stats().handed_over != 0 || pump.stats().inline_runs == 0) {
      std::fprintf(stderr, "inline runs %llu, handed over %llu\n",
                   static_cast<unsigned long long>(pump.stats().inline_runs),
                   static_cast<unsigned long long>(pump.stats().handed_over));
      ok = false;
    }
  }
  runtime.shutdown(rt::ShutdownMode::kDrain);
  return ok;
}

int Main(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "thread") != 0 && std::strcmp(argv[1], "inline") != 0)) {
    std::fprintf(stderr, "usage: link_event_cost_driver thread|inline [ITERS]\n");
    return 2;
  }
  const uint32_t iters = argc > 2 ? static_cast<uint32_t>(std::stoul(argv[2])) : 2000;
  const std::string name = testing::unique_shm_name("event-cost");
  const bool ok = std::strcmp(argv[1], "thread") == 0 ? thread_mode(name, 200, iters)
                                                      : inline_mode(name, 200, iters);
  if (!ok) {
    std::fprintf(stderr, "link_event_cost_driver: %s mode failed\n", argv[1]);
    return 1;
  }
  std::printf("%s: %u iterations\n", argv[1], iters);
  return 0;
}

}  // namespace
}  // namespace wave::agents

int main(int argc, char** argv) {
  return wave::agents::Main(argc, argv);
}
