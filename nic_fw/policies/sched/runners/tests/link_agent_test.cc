// The agent on a real libwave link (shared-memory backend): events sent by the host side
// come back as decisions in the ring and the prestaged slots, and the host's outcomes move
// the agent on.
#include "policies/sched/runners/link_agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"
#include "wave_sched_link.h"

namespace wave::agents::testing {
namespace {

// Creates the host side of the shared-memory link `name`: two CPUs, no DMA slots.
void create_host_link(const std::string& name, std::unique_ptr<Device>* dev,
                      std::unique_ptr<HostLink>* link) {
  LinkConfig lc;
  lc.nr_cpus = 2;
  lc.dma_slots = 0;
  auto d = Device::Open("shm:" + name, Role::kHost);
  ASSERT_TRUE(d.ok());
  auto l = HostLink::Create(*d.value(), lc);
  ASSERT_TRUE(l.ok());
  *dev = std::move(d.value());
  *link = std::move(l.value());
}

TEST(LinkAgent, DecisionsTravelOverTheLink) {
  const std::string name = unique_shm_name("link");
  std::unique_ptr<Device> host_dev;
  std::unique_ptr<HostLink> host;
  ASSERT_NO_FATAL_FAILURE(create_host_link(name, &host_dev, &host));
  auto nic_dev = Device::Open("shm:" + name, Role::kNic);
  ASSERT_TRUE(nic_dev.ok());
  auto nic = NicLink::Attach(*nic_dev.value());
  ASSERT_TRUE(nic.ok());

  AgentConfig cfg;
  cfg.nr_cpus = 2;
  cfg.epoch = link_agent_epoch(*nic.value());
  EXPECT_NE(cfg.epoch, 0u);
  FifoPolicy agent(cfg);
  LinkAgent pump(*nic.value(), agent);

  MessageProducer& to_nic = host->messages();
  for (uint32_t tid = 1; tid <= 3; tid++) {
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(tid, 0, 1)));
    ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2)));
  }
  EXPECT_EQ(pump.poll_once(), 6u);

  DecisionConsumer& from_nic = host->decisions();
  std::array<wave_decision, 8> ring;
  ASSERT_EQ(from_nic.PollRing(ring), 2u);
  EXPECT_EQ(ring[0].tid, 1u);
  EXPECT_EQ(ring[0].agent_epoch, cfg.epoch);
  EXPECT_EQ(ring[1].tid, 2u);

  // CPU 0 commits: task 3 is prestaged for it and the host finds it there.
  ASSERT_TRUE(to_nic.SendOutcome(make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  EXPECT_EQ(pump.poll_once(), 1u);
  wave_decision d;
  from_nic.Prefetch(0);
  ASSERT_EQ(from_nic.TakePrestaged(0, &d), DecisionConsumer::Take::kOk);
  EXPECT_EQ(d.tid, 3u);

  // Task 3 blocks before the host used the decision it read: the agent empties the slot,
  // which the host reads as an idle decision (nothing to commit).
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_BLOCKED, make_event(3, 0, 3)));
  EXPECT_EQ(pump.poll_once(), 1u);
  from_nic.Prefetch(0);
  ASSERT_EQ(from_nic.TakePrestaged(0, &d), DecisionConsumer::Take::kOk);
  EXPECT_EQ(d.tid, WAVE_TID_NONE);
  EXPECT_EQ(agent.stats().dropped(), 0u);
}

// wave-sched-agent as a separate process on the NIC side of a shared-memory link.
TEST(SchedAgentProgram, DecidesForAHostInAnotherProcess) {
  const std::string name = unique_shm_name("link");
  std::unique_ptr<Device> host_dev;
  std::unique_ptr<HostLink> host;
  ASSERT_NO_FATAL_FAILURE(create_host_link(name, &host_dev, &host));

  std::string cmd = std::string(WAVE_SCHED_AGENT_BIN) + " --device shm:" + name +
                    " --policy shinjuku --cpus 2 --seconds 3";
  FILE* agent = popen(cmd.c_str(), "r");
  ASSERT_NE(agent, nullptr);

  MessageProducer& to_nic = host->messages();
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_NEW, make_event(7, 0, 1)));
  ASSERT_TRUE(to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, make_event(7, 0, 2)));
  std::array<wave_decision, 4> ring;
  uint32_t n = 0;
  for (int i = 0; i < 2000 && n == 0; i++) {
    n = host->decisions().PollRing(ring);
    if (n == 0)
      usleep(1000);
  }
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(ring[0].tid, 7u);
  EXPECT_EQ(ring[0].slice_ns, WAVE_SCHED_DEFAULT_SLICE_NS);
  ASSERT_TRUE(to_nic.SendOutcome(make_outcome(ring[0], WAVE_TXN_COMMITTED)));

  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), agent) != nullptr)
    out += buf;
  EXPECT_EQ(pclose(agent), 0);
  EXPECT_NE(out.find("\"policy\":\"shinjuku\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"committed\":1,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"dropped\":0,"), std::string::npos) << out;
}

}  // namespace
}  // namespace wave::agents::testing
