// Shinjuku: slice preemption, strict QoS priority, classes from the priority table.
#include <gtest/gtest.h>

#include <vector>

#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/shinjuku/prio_table.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"

namespace wave::agents::testing {
namespace {

// A priority table in plain memory, as an application would map it: `writer` plays the
// application, an agent reads it through `reader`.
struct Table {
  Table() { EXPECT_TRUE(PrioTableWriter::format(mem.data(), bytes(), 16)); }
  size_t bytes() const { return mem.size() * sizeof(uint64_t); }
  std::vector<uint64_t> mem = std::vector<uint64_t>(64 + 16 * 16);  // 8-byte aligned
  PrioTableWriter writer{mem.data(), bytes()};
  PrioTableReader reader{mem.data(), bytes()};
};

void new_runnable(Agent& a, uint32_t tid, uint64_t time_ns = 0) {
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(tid, 0, 1, time_ns)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2, time_ns)));
}

wave_decision run_one(Agent& a, RecordingSink& sink) {
  a.schedule(sink);
  auto ring = sink.take();
  EXPECT_EQ(ring.size(), 1u);
  if (ring.empty())
    return {};
  EXPECT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  return ring[0];
}

TEST(Shinjuku, PreemptsAtTheSliceAndRequeuesAtTheTail) {
  ShinjukuConfig sj;
  sj.slice_ns = 30'000;
  ShinjukuPolicy a(test_config(1), sj);
  RecordingSink sink;
  new_runnable(a, 1, 1'000'000);
  new_runnable(a, 2, 1'000'000);
  wave_decision d = run_one(a, sink);
  EXPECT_EQ(d.tid, 1u);
  EXPECT_EQ(d.slice_ns, 30'000u);  // the host may enforce it too
  a.schedule(sink);                // task 2 is prestaged for CPU 0
  ASSERT_TRUE(sink.slots[0].has_value());

  // Within the slice: nothing happens.
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 1'010'000));
  EXPECT_EQ(a.schedule(sink), 0u);
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 1'029'999));
  EXPECT_EQ(a.schedule(sink), 0u);
  // At the slice: the prestaged task goes through the ring as a preemption.
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 1'030'000));
  EXPECT_EQ(a.schedule(sink), 1u);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 2u);
  EXPECT_EQ(ring[0].cpu, 0u);
  EXPECT_EQ(a.stats().preemptions, 1u);
  EXPECT_FALSE(sink.slots[0].has_value());  // the slot no longer names task 2

  // The host commits and preempts task 1, which goes to the tail of its class.
  send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED));
  send(a, WAVE_MSG_TASK_PREEMPTED, make_event(1, 0, 3, 1'030'500));
  EXPECT_EQ(a.cpu_current_tid(0), 2u);
  a.schedule(sink);
  ASSERT_TRUE(sink.slots[0].has_value());
  EXPECT_EQ(sink.slots[0]->tid, 1u);
  // Task 2 gets its own full slice from its start.
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 1'050'000));
  EXPECT_EQ(a.schedule(sink), 0u);
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 1'061'000));
  EXPECT_EQ(a.schedule(sink), 1u);
  EXPECT_EQ(sink.take()[0].tid, 1u);
}

TEST(Shinjuku, NoPreemptionWithoutAWaitingTask) {
  ShinjukuPolicy a(test_config(1), ShinjukuConfig{});
  RecordingSink sink;
  new_runnable(a, 1);
  run_one(a, sink);
  send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, 10'000'000));
  EXPECT_EQ(a.schedule(sink), 0u);
  EXPECT_EQ(a.stats().preemptions, 0u);
  // A task of the same class arrives later: the expired slice makes room for it.
  new_runnable(a, 2, 10'000'001);
  EXPECT_EQ(a.schedule(sink), 1u);
  EXPECT_EQ(sink.take()[0].tid, 2u);
}

TEST(Shinjuku, StrictPriorityBetweenClasses) {
  Table table;
  ASSERT_TRUE(table.writer.set(0, 1, 6));  // best effort
  ASSERT_TRUE(table.writer.set(1, 2, 6));
  ASSERT_TRUE(table.writer.set(2, 3, 1));  // latency critical
  ShinjukuPolicy a(test_config(1), ShinjukuConfig{});
  a.set_prio_table(&table.reader);
  RecordingSink sink;
  a.schedule(sink);  // reads the table
  new_runnable(a, 1);
  new_runnable(a, 2);
  new_runnable(a, 3);
  new_runnable(a, 4);  // no entry: default class 4
  EXPECT_EQ(a.find_task(3)->qos, 1u);
  EXPECT_EQ(a.find_task(4)->qos, WAVE_SCHED_QOS_DEFAULT);

  // Order: class 1, then class 4, then class 6 in arrival order.
  std::vector<uint32_t> order;
  wave_decision d = run_one(a, sink);
  order.push_back(d.tid);
  for (int k = 0; k < 3; k++) {
    a.schedule(sink);
    ASSERT_TRUE(sink.slots[0].has_value());
    wave_decision next = *sink.slots[0];
    send(a, WAVE_MSG_TASK_BLOCKED, make_event(d.tid, 0, 3));
    send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(next, WAVE_TXN_COMMITTED));
    order.push_back(next.tid);
    d = next;
  }
  EXPECT_EQ(order, (std::vector<uint32_t>{3, 4, 1, 2}));
}

TEST(Shinjuku, UrgentClassPreemptsWithinTheSlice) {
  Table table;
  ASSERT_TRUE(table.writer.set(0, 9, 0));
  ShinjukuPolicy a(test_config(1), ShinjukuConfig{});
  a.set_prio_table(&table.reader);
  RecordingSink sink;
  new_runnable(a, 1, 1000);
  run_one(a, sink);
  new_runnable(a, 5, 1000);  // same class: waits for the slice
  EXPECT_EQ(a.schedule(sink), 0u);
  ASSERT_TRUE(sink.slots[0].has_value());
  EXPECT_EQ(sink.slots[0]->tid, 5u);
  new_runnable(a, 9, 2000);  // class 0: preempts at once, ahead of the prestaged task
  EXPECT_EQ(a.schedule(sink), 1u);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 9u);
  EXPECT_EQ(a.find_task(5)->state, TaskState::kQueued);
  EXPECT_EQ(a.stats().preemptions, 1u);
}

TEST(Shinjuku, BetterTaskReplacesAPrestagedOne) {
  Table table;
  ShinjukuPolicy a(test_config(1), ShinjukuConfig{});
  a.set_prio_table(&table.reader);
  RecordingSink sink;
  ASSERT_TRUE(table.writer.set(0, 1, 2));  // the running task: class 2
  ASSERT_TRUE(table.writer.set(1, 7, 2));  // another class 2 task arrives after a class 5 one
  ASSERT_TRUE(table.writer.set(2, 6, 5));
  a.schedule(sink);
  new_runnable(a, 1);
  run_one(a, sink);
  new_runnable(a, 6);
  a.schedule(sink);
  ASSERT_TRUE(sink.slots[0].has_value());
  EXPECT_EQ(sink.slots[0]->tid, 6u);
  new_runnable(a, 7);  // not urgent enough to preempt, but it should run next
  EXPECT_EQ(a.schedule(sink), 0u);
  ASSERT_TRUE(sink.slots[0].has_value());
  EXPECT_EQ(sink.slots[0]->tid, 7u);
  EXPECT_EQ(a.find_task(6)->state, TaskState::kQueued);
  EXPECT_EQ(a.stats().revoked, 1u);
}

TEST(Shinjuku, TableUpdatesMoveQueuedTasks) {
  Table table;
  ShinjukuPolicy a(test_config(1), ShinjukuConfig{});
  a.set_prio_table(&table.reader);
  RecordingSink sink;
  new_runnable(a, 1);
  run_one(a, sink);
  new_runnable(a, 2);
  new_runnable(a, 3);
  a.schedule(sink);
  EXPECT_EQ(a.queued(WAVE_SCHED_QOS_DEFAULT), 1u);  // 2 is prestaged, 3 queued
  ASSERT_TRUE(table.writer.set(3, 3, 7));
  a.schedule(sink);
  EXPECT_EQ(a.find_task(3)->qos, 7u);
  EXPECT_EQ(a.queued(7), 1u);
  ASSERT_TRUE(table.writer.clear(3));
  a.schedule(sink);
  EXPECT_EQ(a.find_task(3)->qos, WAVE_SCHED_QOS_DEFAULT);
}

}  // namespace
}  // namespace wave::agents::testing
