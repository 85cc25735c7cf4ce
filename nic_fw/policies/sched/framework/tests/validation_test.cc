// Untrusted input: every malformed or out-of-order message is counted and dropped, and
// transaction outcomes move tasks the way the protocol says.
#include <gtest/gtest.h>

#include <vector>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"

namespace wave::agents::testing {
namespace {

AgentConfig config() {
  return test_config(/*nr_cpus=*/2, /*max_tasks=*/8, /*epoch=*/3);
}

TEST(Validation, MalformedMessagesAreCountedAndDropped) {
  FifoPolicy a(config());
  wave_task_event ev = make_event(1, 0, 1);

  std::vector<std::byte> shorter(sizeof(ev) - 1);
  EXPECT_FALSE(a.handle(WAVE_MSG_TASK_NEW, shorter));
  EXPECT_EQ(a.stats().bad_length, 1u);
  std::vector<std::byte> outcome_short(sizeof(wave_txn_outcome) + 1);
  EXPECT_FALSE(a.handle(WAVE_MSG_TXN_OUTCOME, outcome_short));
  EXPECT_EQ(a.stats().bad_length, 2u);

  for (uint32_t type : {0u, 10u, 15u, 20u, 31u, 33u, 48u, 100u, 65535u, 0xffffffffu}) {
    EXPECT_FALSE(send(a, type, ev)) << type;
  }
  EXPECT_EQ(a.stats().bad_type, 10u);
  // A task event's payload under TASK_GROUP's type: the size gives it away.
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_GROUP, ev));
  EXPECT_EQ(a.stats().bad_length, 3u);

  wave_task_event flags = ev;
  flags.flags = 1;
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, flags));
  EXPECT_EQ(a.stats().bad_flags, 1u);

  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 2, 1)));  // CPU 2 of 2
  EXPECT_FALSE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 0xffffffffu, 0)));
  EXPECT_EQ(a.stats().bad_cpu, 2u);

  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(0, 0, 1)));  // task event, tid 0
  EXPECT_FALSE(send(a, WAVE_MSG_CPU_TICK, make_event(5, 0, 0)));  // CPU event with a tid
  EXPECT_EQ(a.stats().bad_tid, 2u);

  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1, 0, 0)));       // empty mask
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1, 0, 0b1100)));  // no CPU we run
  EXPECT_EQ(a.stats().bad_mask, 2u);

  EXPECT_FALSE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(42, 0, 5)));
  EXPECT_EQ(a.stats().unknown_task, 1u);
  EXPECT_EQ(a.nr_tasks(), 0u);
  EXPECT_EQ(a.stats().events, 0u);
}

TEST(Validation, SequenceNumbersOnlyMoveForward) {
  FifoPolicy a(config());
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 10)));
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 10)));  // equal
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 9)));   // backwards
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 3)));        // old duplicate NEW
  EXPECT_EQ(a.stats().stale_seq, 3u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kBlocked);
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 15)));  // gaps are fine
  EXPECT_EQ(a.find_task(1)->seq, 15u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kQueued);
}

TEST(Validation, EventsForDeadTasksAreDropped) {
  FifoPolicy a(config());
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 2)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_DEAD, make_event(1, 0, 3)));
  EXPECT_EQ(a.find_task(1), nullptr);
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 4)));
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_DEAD, make_event(1, 0, 5)));
  EXPECT_EQ(a.stats().unknown_task, 2u);
  RecordingSink sink;
  EXPECT_EQ(a.schedule(sink), 0u);
  // The tid may be reused by a new task.
  EXPECT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1)));
}

TEST(Validation, NewForALiveTidWithANewerSeqReplacesTheTask) {
  FifoPolicy a(config());
  RecordingSink sink;
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 2)));
  a.schedule(sink);
  ASSERT_EQ(sink.take().size(), 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 7, 0, 0b10)));
  EXPECT_EQ(a.stats().task_reused, 1u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kBlocked);
  EXPECT_EQ(a.find_task(1)->mask, 0b10u);
  EXPECT_EQ(a.nr_tasks(), 1u);
}

TEST(Validation, TableFullRefusesNewTasks) {
  FifoPolicy a(config());
  for (uint32_t tid = 1; tid <= 8; tid++) {
    ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(tid, 0, 1)));
  }
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_NEW, make_event(9, 0, 1)));
  EXPECT_EQ(a.stats().table_full, 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_DEAD, make_event(3, 0, 2)));
  EXPECT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(9, 0, 1)));
}

class Outcomes : public ::testing::Test {
 protected:
  // Task 1 runnable, decided for CPU 0; returns the decision.
  wave_decision decide_one() {
    EXPECT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(1, 0, 1)));
    EXPECT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 2)));
    a.schedule(sink);
    auto ring = sink.take();
    EXPECT_EQ(ring.size(), 1u);
    return ring.empty() ? wave_decision{} : ring[0];
  }

  FifoPolicy a{config()};
  RecordingSink sink;
};

TEST_F(Outcomes, StaleRequeuesAndDecidesAgain) {
  wave_decision d = decide_one();
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_STALE)));
  EXPECT_EQ(a.stats().outcomes[WAVE_TXN_STALE], 1u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kQueued);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 1u);
  EXPECT_NE(ring[0].txn_id, d.txn_id);  // a new transaction
  // The fresh event arrives; the decision in flight is stale, the task decided again with it.
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 3)));
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].task_seq, 3u);
}

TEST_F(Outcomes, AbortedRequeues) {
  wave_decision d = decide_one();
  wave_txn_outcome o = make_outcome(d, WAVE_TXN_ABORTED);
  o.agent_epoch = 4;  // the host moved on to another agent epoch
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, o));
  EXPECT_EQ(a.stats().epoch_mismatch, 1u);
  EXPECT_EQ(a.stats().outcomes[WAVE_TXN_ABORTED], 1u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kQueued);
}

TEST_F(Outcomes, CpuUnavailableMovesTheTaskElsewhere) {
  wave_decision d = decide_one();
  ASSERT_EQ(d.cpu, 0u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_CPU_UNAVAILABLE)));
  EXPECT_FALSE(a.cpu(0).available);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].cpu, 1u);
  // CPU 0 comes back.
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_AVAILABLE, make_event(0, 0, 0)));
  EXPECT_TRUE(a.cpu(0).available);
}

TEST_F(Outcomes, CommittedRunsTheTask) {
  wave_decision d = decide_one();
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED)));
  EXPECT_EQ(a.find_task(1)->state, TaskState::kOnCpu);
  EXPECT_EQ(a.cpu_current_tid(0), 1u);
  // A duplicate of the same outcome is late: counted, harmless.
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED)));
  EXPECT_EQ(a.stats().late_outcome, 1u);
  EXPECT_EQ(a.cpu_current_tid(0), 1u);
}

TEST_F(Outcomes, MalformedOutcomesAreDropped) {
  wave_decision d = decide_one();
  auto bad = [&](auto mutate) {
    wave_txn_outcome o = make_outcome(d, WAVE_TXN_COMMITTED);
    mutate(o);
    return send(a, WAVE_MSG_TXN_OUTCOME, o);
  };
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.outcome = 0; }));
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.outcome = WAVE_TXN_OUTCOME_MAX + 1; }));
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.reserved = 1; }));
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.cpu = 2; }));
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.cpu = 1; }));  // not the CPU we named
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.txn_id = 0; }));
  EXPECT_FALSE(bad([&](wave_txn_outcome& o) { o.txn_id = d.txn_id + 1; }));  // never issued
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.txn_id = 1; }));              // another epoch's
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.tid = 0; }));
  EXPECT_EQ(a.stats().bad_outcome, 9u);
  EXPECT_FALSE(bad([](wave_txn_outcome& o) { o.tid = 77; }));
  EXPECT_EQ(a.stats().outcome_task_gone, 1u);
  EXPECT_EQ(a.stats().unknown_task, 0u);
  EXPECT_EQ(a.find_task(1)->state, TaskState::kPending);  // still waiting for the real one
}

TEST_F(Outcomes, ALostRingDecisionIsMadeAgainAfterTheTimeout) {
  wave_decision d = decide_one();  // made at host time 0
  // The CPU reports idle soon after: the decision may still be on its way.
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 0, 0, 500'000)));
  a.schedule(sink);
  EXPECT_TRUE(sink.take().empty());
  EXPECT_EQ(a.find_task(1)->txn, d.txn_id);
  // Still idle after the timeout: the decision is presumed lost and made again.
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 0, 0, 1'000'000)));
  EXPECT_EQ(a.stats().timed_out, 1u);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 1u);
  EXPECT_NE(ring[0].txn_id, d.txn_id);
}

TEST_F(Outcomes, LateCommitOfARevokedPrestageFollowsTheHost) {
  // CPU 0 runs task 1; task 2 is prestaged for it.
  wave_decision d = decide_one();
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED)));
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_UNAVAILABLE, make_event(0, 1, 0)));  // keep CPU 1 out
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(2, 0, 1)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(2, 0, 2)));
  a.schedule(sink);
  ASSERT_TRUE(sink.slots[0].has_value());
  wave_decision pre = *sink.slots[0];
  // The host took the slot while CPU_IDLE raced with it: the agent revoked it and sent it
  // again through the ring, and then the slot's commit arrives.
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_BLOCKED, make_event(1, 0, 3)));
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 0, 0)));
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 2u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(pre, WAVE_TXN_COMMITTED)));
  EXPECT_EQ(a.stats().late_commit, 1u);
  EXPECT_EQ(a.find_task(2)->state, TaskState::kOnCpu);
  EXPECT_EQ(a.cpu_current_tid(0), 2u);
  // The ring decision then fails at the host: late, ignored.
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_ABORTED)));
  EXPECT_EQ(a.find_task(2)->state, TaskState::kOnCpu);
}

}  // namespace
}  // namespace wave::agents::testing
