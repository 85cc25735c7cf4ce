// Decisions (prestaged slots and ring) and ghOSt-style transactions, including the
// end-to-end path: event -> agent decision -> commit on the host -> outcome to the agent.
#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"
#include "wave/link.h"
#include "wave/txn.h"

namespace wave {
namespace {

struct Pair {
  std::unique_ptr<Device> host_dev, nic_dev;
  std::unique_ptr<HostLink> host;
  std::unique_ptr<NicLink> nic;
};

Pair MakePair(LinkConfig cfg = {}) {
  Pair p;
  const std::string name = test::UniqueName("dec");
  p.host_dev = std::move(Device::Open("shm:" + name, Role::kHost).value());
  p.host = std::move(HostLink::Create(*p.host_dev, cfg).value());
  p.nic_dev = std::move(Device::Open("shm:" + name, Role::kNic).value());
  auto nic = NicLink::Attach(*p.nic_dev);
  EXPECT_TRUE(nic.ok()) << (nic.ok() ? "" : nic.error().message);
  if (nic.ok())
    p.nic = std::move(nic.value());
  return p;
}

wave_decision Decision(uint64_t txn, uint32_t tid, uint32_t cpu, uint64_t seq, uint64_t epoch) {
  wave_decision d{};
  d.txn_id = txn;
  d.tid = tid;
  d.cpu = cpu;
  d.task_seq = seq;
  d.agent_epoch = epoch;
  return d;
}

TEST(Decisions, PrestagedDecisionIsTakenOnceAndNewestWins) {
  Pair p = MakePair();
  ASSERT_TRUE(p.nic);
  DecisionConsumer& dc = p.host->decisions();
  wave_decision got;
  EXPECT_EQ(dc.TakePrestaged(3, &got), DecisionConsumer::Take::kEmpty);
  ASSERT_TRUE(p.nic->decisions().Prestage(3, Decision(1, 10, 3, 5, 1)));
  ASSERT_TRUE(p.nic->decisions().Prestage(3, Decision(2, 11, 3, 6, 1)));  // replaces
  dc.Prefetch(3);
  ASSERT_EQ(dc.TakePrestaged(3, &got), DecisionConsumer::Take::kOk);
  EXPECT_EQ(got.txn_id, 2u);
  EXPECT_EQ(got.tid, 11u);
  EXPECT_EQ(dc.TakePrestaged(3, &got), DecisionConsumer::Take::kEmpty);  // already taken
  EXPECT_FALSE(p.nic->decisions().Prestage(p.nic->decisions().nr_cpus(), Decision(3, 1, 0, 0, 1)));
}

TEST(Decisions, TornAndForgedPrestagedSlotsAreRejected) {
  Pair p = MakePair();
  ASSERT_TRUE(p.nic);
  auto* slots = reinterpret_cast<wave_prestaged_slot*>(p.nic->decision_region().base +
                                                       WAVE_REGION_HDR_SIZE + 1024 * 64);
  ASSERT_TRUE(p.nic->decisions().Prestage(1, Decision(7, 10, 1, 5, 1)));
  slots[1].body[9] ^= 0xff;  // a line read while the NIC rewrote it
  wave_decision got;
  EXPECT_EQ(p.host->decisions().TakePrestaged(1, &got), DecisionConsumer::Take::kTorn);
  EXPECT_EQ(p.host->decisions().stats().torn, 1u);
  // Intact checksum, but the decision names another CPU: forged or misplaced.
  wave_prestaged_slot s{};
  s.version = 99;
  wave_decision d = Decision(8, 10, 5, 5, 1);
  std::memcpy(s.body, &d, sizeof(d));
  s.csum = PrestageChecksum(s);
  std::memcpy(&slots[1], &s, sizeof(s));
  EXPECT_EQ(p.host->decisions().TakePrestaged(1, &got), DecisionConsumer::Take::kBad);
  EXPECT_EQ(p.host->decisions().stats().bad, 1u);
}

TEST(Transactions, OutcomesFollowGhostRules) {
  TxnManager txn(4);
  const uint64_t s1 = txn.OnTaskEvent(10, WAVE_MSG_TASK_NEW);
  EXPECT_EQ(txn.Commit(Decision(1, 10, 0, s1, 1)).outcome, WAVE_TXN_COMMITTED);
  const uint64_t s2 = txn.OnTaskEvent(10, WAVE_MSG_TASK_PREEMPTED);
  EXPECT_EQ(txn.Commit(Decision(2, 10, 0, s1, 1)).outcome, WAVE_TXN_STALE);    // missed s2
  EXPECT_EQ(txn.Commit(Decision(3, 10, 0, s2, 0)).outcome, WAVE_TXN_ABORTED);  // old epoch
  txn.SetCpuAvailable(2, false);
  EXPECT_EQ(txn.Commit(Decision(4, 10, 2, s2, 1)).outcome, WAVE_TXN_CPU_UNAVAILABLE);
  EXPECT_EQ(txn.Commit(Decision(5, 10, 9, s2, 1)).outcome, WAVE_TXN_INVALID);
  EXPECT_EQ(txn.Commit(Decision(6, 99, 1, 1, 1)).outcome, WAVE_TXN_ABORTED);  // unknown task
  const uint64_t s3 = txn.OnTaskEvent(10, WAVE_MSG_TASK_DEAD);
  EXPECT_EQ(txn.Commit(Decision(7, 10, 0, s3, 1)).outcome, WAVE_TXN_ABORTED);  // dead
  EXPECT_EQ(txn.Commit(Decision(8, WAVE_TID_NONE, 1, 0, 1)).outcome, WAVE_TXN_COMMITTED);
  wave_decision bad = Decision(9, 10, 0, s3, 1);
  bad.reserved = 1;
  const wave_txn_outcome o = txn.Commit(bad);
  EXPECT_EQ(o.outcome, WAVE_TXN_INVALID);
  EXPECT_EQ(o.txn_id, 9u);
  EXPECT_EQ(txn.outcomes(WAVE_TXN_STALE), 1u);
  EXPECT_EQ(txn.outcomes(WAVE_TXN_COMMITTED), 2u);
}

TEST(Transactions, StaleDecisionRejectedEndToEndWithOutcomeReported) {
  Pair p = MakePair();
  ASSERT_TRUE(p.nic);
  TxnManager txn(8);
  // Host: task 42 becomes runnable (seq 1).
  wave_task_event e{};
  e.tid = 42;
  e.task_seq = txn.OnTaskEvent(42, WAVE_MSG_TASK_NEW);
  ASSERT_TRUE(p.host->messages().SendEvent(WAVE_MSG_TASK_NEW, e));
  // Agent: sees seq 1, prestages "run 42 on CPU 2" and also pushes one through the ring.
  Message m[4];
  ASSERT_EQ(p.nic->messages().Poll(m), 1u);
  const uint64_t seen = m[0].event.task_seq;
  ASSERT_TRUE(p.nic->decisions().Prestage(2, Decision(100, 42, 2, seen, 1)));
  ASSERT_TRUE(p.nic->decisions().Push(Decision(101, 42, 3, seen, 1)));
  // Host: the task blocks before the decision is used (seq 2) and the agent has not seen it.
  e.task_seq = txn.OnTaskEvent(42, WAVE_MSG_TASK_BLOCKED);
  ASSERT_TRUE(p.host->messages().SendEvent(WAVE_MSG_TASK_BLOCKED, e));
  wave_decision d;
  ASSERT_EQ(p.host->decisions().TakePrestaged(2, &d), DecisionConsumer::Take::kOk);
  wave_txn_outcome o = txn.Commit(d);
  EXPECT_EQ(o.outcome, WAVE_TXN_STALE);
  EXPECT_EQ(o.task_seq, 2u);
  ASSERT_TRUE(p.host->messages().SendOutcome(o));
  ASSERT_EQ(p.host->decisions().PollRing(std::span<wave_decision>(&d, 1)), 1u);
  o = txn.Commit(d);
  EXPECT_EQ(o.outcome, WAVE_TXN_STALE);
  ASSERT_TRUE(p.host->messages().SendOutcome(o));
  // Agent: receives the blocked event, then both outcomes, with the host's current seq.
  ASSERT_EQ(p.nic->messages().Poll(m), 3u);
  EXPECT_EQ(m[0].type, WAVE_MSG_TASK_BLOCKED);
  EXPECT_EQ(m[1].type, WAVE_MSG_TXN_OUTCOME);
  EXPECT_EQ(m[1].outcome.txn_id, 100u);
  EXPECT_EQ(m[1].outcome.outcome, WAVE_TXN_STALE);
  EXPECT_EQ(m[1].outcome.task_seq, 2u);
  EXPECT_EQ(m[2].outcome.txn_id, 101u);
  // A fresh decision with the current seq commits.
  e.task_seq = txn.OnTaskEvent(42, WAVE_MSG_TASK_RUNNABLE);
  ASSERT_TRUE(p.nic->decisions().Prestage(2, Decision(102, 42, 2, e.task_seq, 1)));
  ASSERT_EQ(p.host->decisions().TakePrestaged(2, &d), DecisionConsumer::Take::kOk);
  EXPECT_EQ(txn.Commit(d).outcome, WAVE_TXN_COMMITTED);
}

TEST(Messages, InvalidMessagesAreDroppedAndCounted) {
  Pair p = MakePair();
  ASSERT_TRUE(p.nic);
  wave_task_event e{};
  e.tid = 1;
  ASSERT_TRUE(p.host->messages().Send(WAVE_MSG_TASK_NEW, &e, 40));  // wrong length
  ASSERT_TRUE(p.host->messages().Send(999, &e, sizeof(e)));         // unknown type
  e.flags = 1;
  ASSERT_TRUE(p.host->messages().SendEvent(WAVE_MSG_TASK_NEW, e));  // reserved flag
  e.flags = 0;
  ASSERT_TRUE(p.host->messages().SendEvent(WAVE_MSG_TASK_NEW, e));  // good
  Message m[8];
  ASSERT_EQ(p.nic->messages().Poll(m), 1u);
  EXPECT_EQ(p.nic->messages().bad_messages(), 3u);
}

}  // namespace
}  // namespace wave
