// Centralized FIFO: order, prestaging, affinity, stealing.
#include <gtest/gtest.h>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"

namespace wave::agents::testing {
namespace {

AgentConfig config(uint32_t nr_cpus) {
  return test_config(nr_cpus, /*max_tasks=*/64, /*epoch=*/7);
}

void new_runnable(Agent& a, uint32_t tid, uint64_t mask = kAllCpus) {
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(tid, 0, 1, 0, mask)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2)));
}

TEST(Fifo, IdleCpuGetsTheOldestTaskThenTheNextIsPrestaged) {
  FifoPolicy a(config(1));
  RecordingSink sink;
  for (uint32_t tid = 10; tid < 15; tid++)
    new_runnable(a, tid);

  EXPECT_EQ(a.schedule(sink), 1u);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 10u);
  EXPECT_EQ(ring[0].cpu, 0u);
  EXPECT_EQ(ring[0].task_seq, 2u);
  EXPECT_EQ(ring[0].agent_epoch, 7u);
  EXPECT_EQ(ring[0].flags, 0u);
  EXPECT_EQ(a.find_task(10)->state, TaskState::kPending);
  // No prestaged decision for a CPU that has nothing running yet.
  EXPECT_FALSE(sink.slots[0].has_value());

  // The host commits; the CPU is busy, so the next task is prestaged for it, in order.
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  EXPECT_EQ(a.cpu_current_tid(0), 10u);
  for (uint32_t expect = 11; expect < 15; expect++) {
    EXPECT_EQ(a.schedule(sink), 0u);
    ASSERT_TRUE(sink.slots[0].has_value());
    wave_decision d = *sink.slots[0];
    EXPECT_EQ(d.tid, expect);
    EXPECT_EQ(d.flags, WAVE_DECISION_F_PRESTAGED);
    // The running task blocks; the host takes the prestaged decision.
    uint32_t running = a.cpu_current_tid(0);
    ASSERT_TRUE(send(a, WAVE_MSG_TASK_BLOCKED, make_event(running, 0, 3)));
    ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED)));
    EXPECT_EQ(a.cpu_current_tid(0), expect);
  }
  EXPECT_EQ(a.stats().outcomes[WAVE_TXN_COMMITTED], 5u);
  EXPECT_EQ(a.stats().dropped(), 0u);
}

TEST(Fifo, OrderAcrossCpusFollowsArrival) {
  FifoPolicy a(config(4));
  RecordingSink sink;
  for (uint32_t tid = 1; tid <= 3; tid++)
    new_runnable(a, tid);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 3u);
  for (uint32_t k = 0; k < 3; k++) {
    EXPECT_EQ(ring[k].tid, k + 1);
    EXPECT_EQ(ring[k].cpu, k);  // free CPUs in order
  }
}

TEST(Fifo, AffinityIsRespected) {
  FifoPolicy a(config(2));
  RecordingSink sink;
  new_runnable(a, 1, 0b10);  // CPU 1 only
  new_runnable(a, 2, 0b10);
  new_runnable(a, 3, 0b01);  // CPU 0 only
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 2u);
  // CPU 0 skips the two older tasks it may not run.
  EXPECT_EQ(ring[0].cpu, 0u);
  EXPECT_EQ(ring[0].tid, 3u);
  EXPECT_EQ(ring[1].cpu, 1u);
  EXPECT_EQ(ring[1].tid, 1u);
  for (auto& d : ring)
    send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED));
  a.schedule(sink);
  // Task 2 waits for CPU 1, never CPU 0.
  EXPECT_FALSE(sink.slots[0].has_value());
  ASSERT_TRUE(sink.slots[1].has_value());
  EXPECT_EQ(sink.slots[1]->tid, 2u);
  // CPU 0 goes idle: still nothing for it.
  send(a, WAVE_MSG_TASK_BLOCKED, make_event(3, 0, 3));
  send(a, WAVE_MSG_CPU_IDLE, make_event(0, 0, 0));
  a.schedule(sink);
  EXPECT_TRUE(sink.take().empty());
}

TEST(Fifo, AffinityChangeRevokesAPendingDecision) {
  FifoPolicy a(config(2));
  RecordingSink sink;
  new_runnable(a, 1);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  ASSERT_EQ(ring[0].cpu, 0u);
  const wave_decision first = ring[0];
  // The task may no longer run on CPU 0: the decision is stale; a new one names CPU 1.
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_AFFINITY, make_event(1, 0, 3, 0, 0b10)));
  EXPECT_EQ(a.find_task(1)->state, TaskState::kQueued);
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].cpu, 1u);
  EXPECT_EQ(ring[0].task_seq, 3u);
  // The host rejects the first decision as stale: counted, nothing else moves.
  send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(first, WAVE_TXN_STALE));
  EXPECT_EQ(a.stats().late_outcome, 1u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kPending);
  EXPECT_EQ(a.find_task(1)->cpu, 1u);
}

TEST(Fifo, IdleCpuStealsAnOlderPrestagedTask) {
  FifoPolicy a(config(2));
  RecordingSink sink;
  new_runnable(a, 1, 0b01);
  a.schedule(sink);
  auto ring = sink.take();
  send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED));
  // CPU 1 is busy with a task only it may run... make it busy first.
  new_runnable(a, 2, 0b10);
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED));
  // Task 3 may run anywhere; it is prestaged for CPU 0 (the first busy CPU).
  new_runnable(a, 3);
  a.schedule(sink);
  ASSERT_TRUE(sink.slots[0].has_value());
  EXPECT_EQ(sink.slots[0]->tid, 3u);
  // CPU 1's task blocks and the host finds no prestaged decision there: CPU_IDLE. CPU 1
  // takes task 3 from CPU 0's slot, which is emptied.
  send(a, WAVE_MSG_TASK_BLOCKED, make_event(2, 1, 3));
  send(a, WAVE_MSG_CPU_IDLE, make_event(0, 1, 0));
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 3u);
  EXPECT_EQ(ring[0].cpu, 1u);
  EXPECT_FALSE(sink.slots[0].has_value());
  EXPECT_EQ(a.stats().steals, 1u);
}

TEST(Fifo, FullRingKeepsTheTaskAndRetries) {
  FifoPolicy a(config(1));
  RecordingSink sink;
  new_runnable(a, 1);
  sink.full = true;
  EXPECT_EQ(a.schedule(sink), 0u);
  EXPECT_EQ(a.stats().ring_full, 1u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kQueued);
  sink.full = false;
  EXPECT_EQ(a.schedule(sink), 1u);
  EXPECT_EQ(sink.take()[0].tid, 1u);
}

}  // namespace
}  // namespace wave::agents::testing
