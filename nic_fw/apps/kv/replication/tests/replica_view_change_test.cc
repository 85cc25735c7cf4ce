// The replica through view changes, restarts and catching up, scripted on the simulated
// network (sim_cluster.h), late and repeated messages included.
#include <gtest/gtest.h>

#include "sim_cluster.h"

namespace wave::kv::repl {
namespace {

using sim::Cluster;
using sim::ElectAnotherPrimary;
using sim::Ops;

TEST(ReplViewChange, APrimaryCrashElectsANewPrimaryThatKeepsTheCommittedOps) {
  Cluster c(3, Cluster::Logs::kMemory);
  for (uint64_t t = 1; t <= 5; ++t)
    ASSERT_EQ(c.submit(0, t), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(0);
  const int p = ElectAnotherPrimary(c, 0);
  ASSERT_EQ(p, 1);  // view 1's primary
  EXPECT_EQ(c.replica(1).view(), 1u);
  EXPECT_GE(c.replica(2).stats().view_changes, 1u);
  for (uint64_t t = 6; t <= 10; ++t)
    ASSERT_EQ(c.submit(1, t), Status::kOk);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.acknowledged().size(), 10u);
  EXPECT_EQ(c.applied(1), Ops(1, 10));
  EXPECT_EQ(c.applied(2), Ops(1, 10));
  // The old primary comes back on its log: it recovers into view 1 as a backup.
  c.start(0);
  EXPECT_EQ(c.replica(0).status(), ReplicaStatus::kRecovering);
  EXPECT_EQ(c.applied(0), Ops(1, 5));  // its committed prefix, replayed
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.replica(0).view(), 1u);
  EXPECT_FALSE(c.replica(0).is_primary());
  EXPECT_EQ(c.replica(0).stats().recoveries, 1u);
  EXPECT_EQ(c.applied(0), Ops(1, 10));
}

TEST(ReplViewChange, APartitionedPrimarysUncommittedOpIsDiscardedNotApplied) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.cut(0, 1);
  c.cut(0, 2);
  ASSERT_EQ(c.submit(0, 2), Status::kOk);  // logged on 0 alone
  ASSERT_EQ(ElectAnotherPrimary(c, 0), 1);
  ASSERT_EQ(c.submit(1, 3), Status::kOk);
  c.heal();
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.acknowledged().size(), 2u);
  EXPECT_FALSE(c.acknowledged().contains(2));
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.applied(i), (std::vector<std::string>{"op-1", "op-3"})) << i;
    EXPECT_EQ(c.replica(i).view(), 1u);
  }
  EXPECT_GE(c.replica(0).stats().state_transfers, 1u);
}

TEST(ReplViewChange, ABackupRestartedOnItsFileLogRecoversAndCatchesUp) {
  Cluster c(3, Cluster::Logs::kFile);
  for (uint64_t t = 1; t <= 10; ++t)
    ASSERT_EQ(c.submit(0, t), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(2);
  for (uint64_t t = 11; t <= 20; ++t)
    ASSERT_EQ(c.submit(0, t), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.start(2);
  const Replica& r2 = c.replica(2);
  EXPECT_EQ(r2.status(), ReplicaStatus::kRecovering);
  EXPECT_EQ(r2.stats().ops_replayed, 10u);
  EXPECT_EQ(c.applied(2), Ops(1, 10));
  EXPECT_EQ(c.log(2).metadata().incarnation, 2u);
  EXPECT_EQ(c.submit(2, 99), Status::kNotPrimary);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(r2.status(), ReplicaStatus::kNormal);
  EXPECT_EQ(r2.stats().recoveries, 1u);
  EXPECT_EQ(c.applied(2), Ops(1, 20));
  // A second restart bumps the incarnation again, and recovers again.
  c.stop(2);
  c.start(2);
  EXPECT_EQ(c.log(2).metadata().incarnation, 3u);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(2), Ops(1, 20));
}

// Further behind than one NewState or RecoveryResponse carries (1024 ops): it catches up in
// chunks, both as a partitioned backup (Commit shows the gap) and as a restarted one.
TEST(ReplViewChange, AFarBehindBackupCatchesUpInChunks) {
  Cluster c(3, Cluster::Logs::kMemory);
  uint64_t token = 0;
  auto commit_many = [&](int ops) {
    for (int i = 0; i < ops; ++i) {
      ASSERT_EQ(c.submit(0, ++token), Status::kOk);
      if (i % 100 == 99) {
        c.replica(0).flush();
        c.deliver_all();
      }
    }
    c.replica(0).flush();
    c.deliver_all();
  };
  c.cut(0, 2);
  c.cut(1, 2);
  commit_many(2500);
  ASSERT_EQ(c.acknowledged().size(), 2500u);
  EXPECT_EQ(c.log(2).last_op(), 0u);
  c.heal();
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(2), Ops(1, 2500));
  EXPECT_GE(c.replica(2).stats().state_transfers, 3u);

  c.stop(2);
  commit_many(2500);
  c.start(2);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(2), Ops(1, 5000));
  EXPECT_EQ(c.replica(2).stats().recoveries, 1u);
  EXPECT_GE(c.replica(2).stats().state_transfers, 2u);
}

TEST(ReplViewChange, AWholeClusterRestartKeepsEveryAcknowledgedOp) {
  Cluster c(3, Cluster::Logs::kFile);
  for (uint64_t t = 1; t <= 8; ++t)
    ASSERT_EQ(c.submit(0, t), Status::kOk);
  c.replica(0).flush();
  c.deliver_all();  // acknowledged on the primary; the backups have not heard the commit
  ASSERT_EQ(c.acknowledged().size(), 8u);
  for (uint32_t i = 0; i < 3; ++i)
    c.stop(i);
  for (uint32_t i = 0; i < 3; ++i) {
    c.start(i);
    EXPECT_EQ(c.replica(i).status(), ReplicaStatus::kRecovering);
  }
  ASSERT_TRUE(c.settle());
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.applied(i), Ops(1, 8)) << i;
  const int p = c.primary();
  ASSERT_GE(p, 0);
  ASSERT_EQ(c.submit(static_cast<uint32_t>(p), 9), Status::kOk);
  ASSERT_TRUE(c.settle());
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.applied(i), Ops(1, 9)) << i;
}

// A backup restarted in view v must not give up, to a late copy of v's StartView, the ops it
// acknowledged in v: the primary counts them as held, and may have answered clients for them.
TEST(ReplViewChange, ALateStartViewDoesNotUndoAcknowledgedOps) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(0);
  std::vector<sim::Packet> start_views_to_2;
  for (int r = 0; r < 500 && c.primary() != 1; ++r) {
    c.tick_all();
    while (!c.network().empty()) {
      const sim::Packet& p = c.network().front();
      if (p.to == 2 && p.bytes[6] == std::byte{static_cast<uint8_t>(MsgType::kStartView)})
        start_views_to_2.push_back(p);
      c.deliver(0);
    }
  }
  ASSERT_EQ(c.primary(), 1);
  ASSERT_FALSE(start_views_to_2.empty());
  // Ops 2..6 reach 2 and are acknowledged; 2 has not heard they are committed.
  for (uint64_t t = 2; t <= 6; ++t)
    ASSERT_EQ(c.submit(1, t), Status::kOk);
  c.replica(1).flush();
  c.deliver_all();
  ASSERT_EQ(c.acknowledged().size(), 6u);
  ASSERT_EQ(c.log(2).last_op(), 6u);
  ASSERT_EQ(c.replica(2).commit_number(), 1u);
  // 2 restarts (its log keeps 1..6) and the old StartView of view 1 turns up.
  c.stop(2);
  c.start(2);
  c.network().push_back(start_views_to_2.front());
  c.deliver(0);
  EXPECT_EQ(c.log(2).last_op(), 6u);
  // Were ops 2..6 gone from 2, losing the primary would lose them.
  c.stop(1);
  c.start(0);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(2), Ops(1, 6));
  EXPECT_EQ(c.applied(0), Ops(1, 6));
}

// Ops of an older view still uncommitted in a new primary's log reach a backup through the
// StartView (or a NewState), never as Prepares: a Prepare's entry is of the Prepare's view, so
// the backup's decoder would refuse it as malformed.
TEST(ReplViewChange, ANewPrimaryRetransmitsOnlyOpsOfItsOwnView) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  // Op 2 reaches 1 alone and is never committed in view 0.
  ASSERT_EQ(c.submit(0, 2), Status::kOk);
  c.replica(0).flush();
  for (const sim::Packet& p : c.network())
    if (p.to == 1)
      c.replica(1).receive(p.from, p.bytes);
  c.network().clear();
  c.stop(0);
  // The view change, without the first StartViews to 2.
  int start_views_dropped = 0;
  for (int r = 0; r < 500 && c.primary() != 1; ++r) {
    c.tick_all();
    while (!c.network().empty()) {
      const sim::Packet& p = c.network().front();
      if (p.to == 2 && p.bytes[6] == std::byte{static_cast<uint8_t>(MsgType::kStartView)}) {
        c.network().pop_front();
        ++start_views_dropped;
        continue;
      }
      c.deliver(0);
    }
  }
  ASSERT_EQ(c.primary(), 1);
  ASSERT_GE(start_views_dropped, 1);
  EXPECT_EQ(c.log(1).read(2)->view, 0u);  // op 2 is in view 1's log, uncommitted
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.replica(2).stats().dropped_bad, 0u);
  EXPECT_EQ(c.applied(2), Ops(1, 2));
}

// The same late StartView after the backup had also committed those ops: its log is the
// view's log extended, not a contradiction, so it is no bad message.
TEST(ReplViewChange, ALateStartViewToARestartedBackupIsNotRefusedAsBad) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(0);
  std::vector<sim::Packet> start_views_to_2;
  for (int r = 0; r < 500 && c.primary() != 1; ++r) {
    c.tick_all();
    while (!c.network().empty()) {
      const sim::Packet& p = c.network().front();
      if (p.to == 2 && p.bytes[6] == std::byte{static_cast<uint8_t>(MsgType::kStartView)})
        start_views_to_2.push_back(p);
      c.deliver(0);
    }
  }
  ASSERT_EQ(c.primary(), 1);
  ASSERT_FALSE(start_views_to_2.empty());
  for (uint64_t t = 2; t <= 6; ++t)
    ASSERT_EQ(c.submit(1, t), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(2);
  c.start(2);
  ASSERT_EQ(c.replica(2).commit_number(), 6u);
  c.network().push_back(start_views_to_2.front());
  c.deliver(0);
  EXPECT_EQ(c.replica(2).stats().dropped_bad, 0u);
  EXPECT_EQ(c.log(2).last_op(), 6u);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(2), Ops(1, 6));
}

// A primary that restarts must not become primary of the same view again: ops it numbered
// before the crash but had not synced are still on a backup under the same (view, op number),
// and it would number different ops the same. Late view-change messages of the view it was
// normal in must not start that view again.
TEST(ReplViewChange, ARestartedPrimaryDoesNotRestartItsOwnView) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(0);
  std::vector<sim::Packet> view_change_from_2;  // 2's StartViewChange and DoViewChange of view 1
  for (int r = 0; r < 500 && c.primary() != 1; ++r) {
    c.tick_all();
    while (!c.network().empty()) {
      const sim::Packet& p = c.network().front();
      const auto type = static_cast<MsgType>(p.bytes[6]);
      if (p.from == 2 && p.to == 1 &&
          (type == MsgType::kStartViewChange || type == MsgType::kDoViewChange))
        view_change_from_2.push_back(p);
      c.deliver(0);
    }
  }
  ASSERT_EQ(c.primary(), 1);
  ASSERT_TRUE(c.settle());
  // Op 2 = op-10 reaches 2 (durably); 1 crashes before syncing it.
  ASSERT_EQ(c.submit(1, 10), Status::kOk);
  for (const sim::Packet& p : c.network())
    if (p.to == 2)
      c.replica(2).receive(p.from, p.bytes);
  c.network().clear();
  ASSERT_EQ(c.log(2).last_op(), 2u);
  c.stop(1);
  c.start(1);
  ASSERT_EQ(c.log(1).last_op(), 1u);
  for (const sim::Packet& p : view_change_from_2)
    c.replica(1).receive(p.from, p.bytes);
  c.network().clear();
  EXPECT_EQ(c.replica(1).status(), ReplicaStatus::kRecovering);
  EXPECT_FALSE(c.replica(1).is_primary());
  // Were it primary of view 1 again, op 2 would be op-11 on 1 and op-10 on 2.
  if (c.replica(1).is_primary()) {
    EXPECT_EQ(c.submit(1, 11), Status::kOk);
  }
  c.start(0);
  ASSERT_TRUE(c.settle());
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.applied(i), (std::vector<std::string>{"op-1", "op-10"})) << i;
}

// A primary cut off in an old view meets a restarted replica that committed more than it
// holds: that says a newer view exists, not that the sender lies.
TEST(ReplViewChange, ADeposedPrimaryCountsALaterRecoveryAsStaleNotBad) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.cut(0, 1);
  c.cut(0, 2);
  ASSERT_EQ(ElectAnotherPrimary(c, 0), 1);
  for (uint64_t t = 2; t <= 5; ++t)
    ASSERT_EQ(c.submit(1, t), Status::kOk);
  for (int i = 0; i < 20; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  ASSERT_EQ(c.replica(2).commit_number(), 5u);
  ASSERT_TRUE(c.replica(0).is_primary());  // of view 0, unaware of view 1
  c.uncut(0, 2);
  c.stop(2);
  c.start(2);
  c.replica(2).tick();  // Recovery to all, 0 included
  c.deliver_all();
  EXPECT_EQ(c.replica(0).stats().dropped_bad, 0u);
  EXPECT_GE(c.replica(0).stats().dropped_stale, 1u);
  c.heal();
  ASSERT_TRUE(c.settle());
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.applied(i), Ops(1, 5)) << i;
}

// A backup that missed the StartView keeps asking for it; the new primary answers each
// replica at most once per heartbeat, however many copies of the request arrive at once.
TEST(ReplViewChange, StartViewRetransmissionIsRateLimited) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  c.stop(0);
  ASSERT_EQ(ElectAnotherPrimary(c, 0), 1);
  ASSERT_TRUE(c.settle());
  const std::vector<std::byte> svc = Encode(StartViewChange{.view = 1, .replica = 2});
  for (int i = 0; i < 10; ++i) {  // well past the last StartView
    c.tick_all();
    c.deliver_all();
  }
  const uint64_t sent = c.replica(1).stats().out[static_cast<size_t>(MsgType::kStartView)];
  for (int i = 0; i < 10; ++i)
    c.replica(1).receive(2, svc);
  const uint64_t now_sent = c.replica(1).stats().out[static_cast<size_t>(MsgType::kStartView)];
  EXPECT_LE(now_sent - sent, 1u);
}

}  // namespace
}  // namespace wave::kv::repl
