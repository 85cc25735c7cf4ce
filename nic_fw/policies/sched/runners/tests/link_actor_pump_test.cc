// The link poller that feeds an agent actor (agents/link_actor_pump.h) over a real libwave
// link on the shared-memory backend: host events reach the actor and its decisions come back;
// a one-request mailbox under a flood of events loses and repeats nothing; an actor destroyed
// with requests in flight leaves every request answered once; garbage slots are counted.
#include "policies/sched/runners/link_actor_pump.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/runners/agent_actor.h"
#include "wave_sched_link.h"

namespace wave::agents::testing {
namespace {

// A host and a NIC side of one link, a runtime with the agent actor types, one agent actor and
// the pump that feeds it. Replies of the actor reach the pump the way wave-nicd routes them.
struct Rig {
  Rig(uint32_t nr_cpus, const LinkActorPumpConfig& pc, uint32_t message_slots = 4096,
      uint32_t policy = WAVE_SCHED_POLICY_FIFO)
      : actors(AgentActorConfig{}) {
    const std::string name = unique_shm_name("pump");
    LinkConfig lc;
    lc.nr_cpus = nr_cpus;
    lc.dma_slots = 0;
    lc.message_slots = message_slots;
    host_dev = std::move(Device::Open("shm:" + name, Role::kHost).value());
    host = std::move(HostLink::Create(*host_dev, lc).value());
    nic_dev = std::move(Device::Open("shm:" + name, Role::kNic).value());
    nic = std::move(NicLink::Attach(*nic_dev).value());

    EXPECT_TRUE(actors.register_types(reg));
    rt::RuntimeConfig rc;
    rc.sched.cores = 1;
    rc.migration = false;
    rc.core_spin_ns = 100'000;  // as wave-nicd runs the agent's core
    runtime = std::make_unique<rt::Runtime>(rc, reg, [this](rt::Reply&& r) {
      if (LinkActorPump* p = pump_ptr.load())
        p->on_reply(std::move(r));
      else
        unrouted++;
    });
    EXPECT_TRUE(runtime->start());
    AgentConfig ac;
    ac.nr_cpus = nr_cpus;
    ac.epoch = link_agent_epoch(*nic);
    EXPECT_EQ(actors.create(*runtime, policy, "agent", ac, ShinjukuConfig{}, &id), rt::Status::kOk);
    pump = std::make_unique<LinkActorPump>(*nic, *runtime, id, ac.epoch, pc);
    pump_ptr.store(pump.get());
  }
  ~Rig() {
    runtime->shutdown(rt::ShutdownMode::kDrain);
    pump_ptr.store(nullptr);
  }
  AgentStats agent_stats() {
    AgentStats st;
    EXPECT_TRUE(actors.stats(id, &st, nullptr));
    return st;
  }
  // Polls until `n` ring decisions came back (or a few seconds passed).
  uint32_t poll_decisions(std::span<wave_decision> out) {
    uint32_t got = 0;
    for (int i = 0; i < 20000 && got < out.size(); i++) {
      pump->poll_once();
      got += host->decisions().PollRing(out.subspan(got));
    }
    return got;
  }

  std::unique_ptr<Device> host_dev, nic_dev;
  std::unique_ptr<HostLink> host;
  std::unique_ptr<NicLink> nic;
  rt::ActorRegistry reg;
  AgentActors actors;
  std::unique_ptr<rt::Runtime> runtime;
  std::atomic<LinkActorPump*> pump_ptr{nullptr};
  std::atomic<uint64_t> unrouted{0};
  std::unique_ptr<LinkActorPump> pump;
  rt::ActorId id = rt::kNoActorId;
};

TEST(LinkActorPump, EventsReachTheActorAndDecisionsComeBack) {
  Rig rig(2, LinkActorPumpConfig{});
  MessageProducer& to_nic = rig.host->messages();
  for (uint32_t tid = 1; tid <= 3; tid++) {
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(tid, 0, 1)));
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2)));
  }
  std::array<wave_decision, 2> ring;
  ASSERT_EQ(rig.poll_decisions(ring), 2u);
  EXPECT_EQ(ring[0].tid, 1u);
  EXPECT_EQ(ring[0].agent_epoch, link_agent_epoch(*rig.nic));
  EXPECT_EQ(ring[1].tid, 2u);

  // CPU 0 commits: the actor prestages task 3 for it and the host finds it in the slot.
  ASSERT_TRUE(to_nic.SendOutcome(make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  wave_decision d{};
  for (int i = 0; i < 20000 && d.tid != 3; i++) {
    rig.pump->poll_once();
    rig.host->decisions().Prefetch(0);
    if (rig.host->decisions().TakePrestaged(0, &d) != DecisionConsumer::Take::kOk)
      d.tid = 0;
  }
  EXPECT_EQ(d.tid, 3u);

  // Task 3 blocks: the actor empties the slot, which the host reads as an idle decision.
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_BLOCKED, make_event(3, 0, 3)));
  ASSERT_TRUE(rig.pump->drain(std::chrono::seconds(5)));
  for (int i = 0; i < 20000 && rig.pump->stats().clears == 0; i++)
    rig.pump->poll_once();
  ASSERT_TRUE(rig.pump->drain(std::chrono::seconds(5)));
  rig.host->decisions().Prefetch(0);
  ASSERT_EQ(rig.host->decisions().TakePrestaged(0, &d), DecisionConsumer::Take::kOk);
  EXPECT_EQ(d.tid, WAVE_TID_NONE);

  const LinkActorPumpStats& ps = rig.pump->stats();
  EXPECT_EQ(ps.messages, 8u);
  EXPECT_EQ(ps.replies, ps.requests);
  EXPECT_EQ(ps.failed, 0u);
  EXPECT_EQ(ps.decisions, 2u);
  EXPECT_EQ(rig.agent_stats().dropped(), 0u);
  EXPECT_EQ(rig.unrouted.load(), 0u);

  // The runtime's own stats (what wavectl stats shows) see the agent as a pinned actor that
  // ran one request per batch; its root DMO holds the agent's counters.
  bool found = false;
  for (const rt::ActorStats& a : rig.runtime->stats().actors) {
    if (a.id != rig.id)
      continue;
    found = true;
    EXPECT_TRUE(a.pinned);
    EXPECT_EQ(a.name, "agent");
    EXPECT_EQ(a.sched.processed, ps.requests);
    EXPECT_GE(a.mem.used_bytes, sizeof(AgentStats));
  }
  EXPECT_TRUE(found);
}

// One request in flight at most, four messages per request, and a host that floods a small
// ring from another thread: the host's sends that find the ring full are retried (that is the
// back-pressure), and in the end the agent saw every event exactly once.
TEST(LinkActorPump, TinyMailboxLosesAndRepeatsNothing) {
  LinkActorPumpConfig pc;
  pc.mailbox = 1;
  pc.batch = 4;
  pc.reply_spin = std::chrono::nanoseconds(0);  // let the mailbox fill
  pc.run_inline = false;  // a mailbox fills only when requests are handed over to a core
  Rig rig(4, pc, /*message_slots=*/64);
  constexpr uint32_t kTasks = 3000;
  std::atomic<uint64_t> host_retries{0};
  std::atomic<bool> give_up{false};
  std::thread host([&] {
    MessageProducer& to_nic = rig.host->messages();
    for (uint32_t tid = 1; tid <= kTasks; tid++) {
      // Created, then gone again: the table never fills, every event is valid.
      for (uint32_t type : {WAVE_MSG_TASK_NEW, WAVE_MSG_TASK_DEAD}) {
        wave_task_event ev = make_event(tid, tid % 4, type == WAVE_MSG_TASK_NEW ? 1 : 2);
        while (!to_nic.SendEvent(static_cast<uint16_t>(type), ev)) {
          if (give_up.load())
            return;
          host_retries++;
          std::this_thread::yield();
        }
      }
    }
  });
  uint64_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read < 2 * kTasks && std::chrono::steady_clock::now() < deadline) {
    read += rig.pump->poll_once();
    ASSERT_LE(rig.pump->in_flight(), 1u);
  }
  give_up = true;
  host.join();
  ASSERT_TRUE(rig.pump->drain(std::chrono::seconds(5)));
  EXPECT_EQ(read, 2u * kTasks);
  EXPECT_EQ(rig.pump->poll_once(), 0u);  // nothing left, nothing twice

  AgentStats st = rig.agent_stats();
  EXPECT_EQ(st.events, 2u * kTasks);
  EXPECT_EQ(st.dropped(), 0u);
  EXPECT_EQ(st.task_reused, 0u);
  EXPECT_EQ(rig.pump->stats().failed, 0u);
  EXPECT_EQ(rig.pump->stats().replies, rig.pump->stats().requests);
  EXPECT_GT(rig.pump->stats().mailbox_full, 0u) << "the mailbox never filled";
  EXPECT_EQ(rig.pump->bad_slots(), 0u);
  std::printf("# host retries (ring full) %llu, polls with the mailbox full %llu\n",
              static_cast<unsigned long long>(host_retries.load()),
              static_cast<unsigned long long>(rig.pump->stats().mailbox_full));
}

// The actor goes away (a detach) while batches wait in its mailbox and one runs: every
// request is answered once (the waiting ones with kNoActor), the pump knows the agent failed,
// and nothing more is read from the ring for the gone actor than it was sent.
TEST(LinkActorPump, DetachWithRequestsInFlight) {
  LinkActorPumpConfig pc;
  pc.mailbox = 8;
  pc.batch = 2;
  pc.reply_spin = std::chrono::nanoseconds(0);
  Rig rig(4, pc);
  MessageProducer& to_nic = rig.host->messages();
  for (uint32_t tid = 1; tid <= 200; tid++) {
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(tid, 0, 1)));
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2)));
  }
  for (int i = 0; i < 8; i++)
    rig.pump->poll_once();
  const uint64_t posted = rig.pump->stats().requests;
  EXPECT_GT(posted, 0u);
  AgentStats last;
  EXPECT_EQ(rig.actors.destroy(*rig.runtime, rig.id, &last), rt::Status::kOk);
  ASSERT_TRUE(rig.pump->drain(std::chrono::seconds(5)));
  const LinkActorPumpStats& ps = rig.pump->stats();
  EXPECT_EQ(ps.replies, posted);
  EXPECT_EQ(ps.replies, ps.requests);
  // The agent counted the events of the batches it ran, no more; the others came back refused.
  EXPECT_LE(last.events, 2 * (posted - ps.failed));
  EXPECT_FALSE(rig.actors.stats(rig.id, nullptr, nullptr));

  // A request for the gone actor is refused and answered, not lost.
  rig.pump->poll_once();
  ASSERT_TRUE(rig.pump->drain(std::chrono::seconds(5)));
  EXPECT_EQ(rig.pump->stats().replies, rig.pump->stats().requests);
  EXPECT_TRUE(rig.pump->failed());
}

// Garbage in the ring: slots the consumer refuses are counted by libwave, messages that are
// valid slots but wrong for an agent are counted by the agent; the good events still decide.
TEST(LinkActorPump, GarbageSlotsAreCountedAndSkipped) {
  Rig rig(2, LinkActorPumpConfig{}, 4096, WAVE_SCHED_POLICY_SHINJUKU);
  MessageProducer& to_nic = rig.host->messages();
  wave_task_event bad_flags = make_event(5, 0, 1);
  bad_flags.flags = 1;
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, bad_flags));  // refused by the consumer
  const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(to_nic.Send(999, junk, sizeof(junk)));           // unknown type
  ASSERT_TRUE(to_nic.Send(WAVE_MSG_RAW, junk, sizeof(junk)));  // a valid slot, not an event
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(1, 7, 1)));  // CPU out of range
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(1, 0, 1)));
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 2)));
  std::array<wave_decision, 1> ring;
  ASSERT_EQ(rig.poll_decisions(ring), 1u);
  EXPECT_EQ(ring[0].tid, 1u);
  EXPECT_EQ(rig.pump->bad_slots(), 2u);
  AgentStats st = rig.agent_stats();
  EXPECT_EQ(st.bad_type, 1u);
  EXPECT_EQ(st.bad_cpu, 1u);
  EXPECT_EQ(st.events, 2u);
  EXPECT_EQ(rig.pump->stats().failed, 0u);
}

}  // namespace
}  // namespace wave::agents::testing
