// The replica in scripted scenarios on the simulated network (sim_cluster.h): each test drives
// one protocol path by hand and checks where every replica ends up.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "sim_cluster.h"

namespace wave::kv::repl {
namespace {

using sim::Cluster;
using sim::Op;

std::vector<std::string> Ops(uint64_t first, uint64_t last) {
  std::vector<std::string> out;
  for (uint64_t t = first; t <= last; ++t)
    out.push_back("op-" + std::to_string(t));
  return out;
}

// Ticks and delivers until some replica other than `not_this` is primary of a normal view.
int ElectAnotherPrimary(Cluster& c, int not_this, int rounds = 500) {
  for (int r = 0; r < rounds; ++r) {
    c.tick_all();
    c.deliver_all();
    int p = c.primary();
    if (p >= 0 && p != not_this)
      return p;
  }
  return -1;
}

TEST(ReplReplica, AFreshClusterIsNormalInViewZero) {
  Cluster c(3, Cluster::Logs::kMemory);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.replica(i).status(), ReplicaStatus::kNormal);
    EXPECT_EQ(c.replica(i).view(), 0u);
    EXPECT_EQ(c.replica(i).primary(), 0u);
    EXPECT_EQ(c.log(i).metadata().incarnation, 1u);  // bumped, and synced
    EXPECT_FALSE(c.log(i).dirty());
  }
  EXPECT_TRUE(c.replica(0).is_primary());
  EXPECT_EQ(c.submit(1, 1), Status::kNotPrimary);
  EXPECT_EQ(c.submit(2, 1), Status::kNotPrimary);
  EXPECT_TRUE(c.network().empty());  // nothing is sent before the first tick
  std::vector<std::byte> big(kMaxOpBytes + 1);
  EXPECT_EQ(c.replica(0).submit(1, big), Status::kTooLarge);
}

TEST(ReplReplica, ABadConfigFailsTheReplica) {
  MemoryLog log;
  struct NullEnv : Env {
    void send(uint32_t, std::span<const std::byte>) override {}
    void apply(uint64_t, std::span<const std::byte>) override {}
    void on_client_reply(uint64_t, uint64_t) override {}
  } env;
  for (ReplicaConfig cfg : {ReplicaConfig{.self = 3, .n = 3}, ReplicaConfig{.self = 0, .n = 0},
                            ReplicaConfig{.self = 0, .n = kMaxReplicas + 1}}) {
    Replica r(cfg, log, env);
    EXPECT_EQ(r.status(), ReplicaStatus::kFailed);
    EXPECT_EQ(r.submit(1, Op("x")), Status::kFailed);
  }
}

// A log whose sync can be made to fail, as a full or broken disk would.
class FailingLog final : public Log {
 public:
  Status sync() override {
    if (fail)
      return Status::kIoError;
    pending_.clear();
    ++syncs_;
    return Status::kOk;
  }
  bool fail = false;
};

// A replica whose log fails stops (fail-stop): it sends nothing more, in particular no
// acknowledgement of what it could not make durable, and answers no client.
TEST(ReplReplica, ALogFailureStopsTheReplica) {
  struct RecordingEnv : Env {
    void send(uint32_t, std::span<const std::byte>) override { ++sent; }
    void apply(uint64_t, std::span<const std::byte>) override { ++applied; }
    void on_client_reply(uint64_t, uint64_t) override { ++replies; }
    int sent = 0, applied = 0, replies = 0;
  };
  FailingLog log;
  RecordingEnv env;
  Replica primary(ReplicaConfig{.self = 0, .n = 3}, log, env);
  ASSERT_EQ(primary.status(), ReplicaStatus::kNormal);
  log.fail = true;
  ASSERT_EQ(primary.submit(1, Op("x")), Status::kOk);  // appended; Prepares sent at once
  const int sent_before = env.sent;
  primary.flush();  // the sync fails
  EXPECT_EQ(primary.status(), ReplicaStatus::kFailed);
  EXPECT_EQ(primary.stats().log_errors, 1u);
  // A backup's PrepareOk for the op would make a majority: it is not counted any more.
  primary.receive(1, Encode(PrepareOk{.view = 0, .op_number = 1, .replica = 1}));
  for (int i = 0; i < 100; ++i)
    primary.tick();
  EXPECT_EQ(env.sent, sent_before);
  EXPECT_EQ(env.replies, 0);
  EXPECT_EQ(env.applied, 0);
  EXPECT_EQ(primary.submit(2, Op("y")), Status::kFailed);

  // The constructor's own sync (the incarnation bump) failing fails the replica too.
  FailingLog broken;
  broken.fail = true;
  Replica never(ReplicaConfig{.self = 1, .n = 3}, broken, env);
  EXPECT_EQ(never.status(), ReplicaStatus::kFailed);
}

TEST(ReplReplica, AnOpIsAcknowledgedOnlyOnceAMajorityHoldsIt) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  c.replica(0).flush();  // the primary's own copy is durable: one of three
  EXPECT_TRUE(c.acknowledged().empty());
  EXPECT_TRUE(c.applied(0).empty());
  ASSERT_EQ(c.network().size(), 2u);  // the Prepares
  // The Prepare to 2 is lost; the one to 1 arrives, and 1's PrepareOk is held back.
  const uint32_t first_to = c.network()[0].to;
  c.network().erase(c.network().begin() + (first_to == 2 ? 0 : 1));
  c.deliver(0);
  EXPECT_EQ(c.log(1).last_op(), 1u);
  EXPECT_FALSE(c.log(1).dirty());  // synced before the PrepareOk left
  ASSERT_EQ(c.network().size(), 1u);
  EXPECT_EQ(c.network()[0].to, 0u);
  EXPECT_TRUE(c.acknowledged().empty());
  EXPECT_TRUE(c.applied(0).empty());
  c.deliver(0);  // two of three: committed, applied, answered
  ASSERT_EQ(c.acknowledged().size(), 1u);
  EXPECT_EQ(c.acknowledged().at(1), "op-1");
  EXPECT_EQ(c.applied(0), Ops(1, 1));
  EXPECT_TRUE(c.applied(1).empty());  // a backup applies once it hears the commit number
  ASSERT_TRUE(c.settle());
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.applied(i), Ops(1, 1)) << i;
}

TEST(ReplReplica, NoMajorityNoAnswer) {
  Cluster c(3, Cluster::Logs::kMemory);
  c.cut(0, 1);
  c.cut(0, 2);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  for (int i = 0; i < 40; ++i) {  // under the view change timeout: 0 stays primary
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_TRUE(c.replica(0).is_primary());
  EXPECT_TRUE(c.acknowledged().empty());
  EXPECT_TRUE(c.applied(0).empty());
  EXPECT_EQ(c.replica(0).commit_number(), 0u);
}

TEST(ReplReplica, ManyOpsApplyInOrderOnEveryReplica) {
  Cluster c(3, Cluster::Logs::kMemory);
  uint64_t token = 0;
  for (int burst = 0; burst < 10; ++burst) {
    const uint64_t syncs = c.log(0).syncs();
    for (int i = 0; i < 7; ++i)
      ASSERT_EQ(c.submit(0, ++token), Status::kOk);
    c.replica(0).flush();
    EXPECT_EQ(c.log(0).syncs(), syncs + 1);  // the ops submitted between two calls: one sync
    c.deliver_all();
  }
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.acknowledged().size(), token);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.applied(i), Ops(1, token)) << i;
    EXPECT_EQ(c.replica(i).stats().ops_committed, token);
  }
}

TEST(ReplReplica, DuplicatedAndReorderedTrafficChangesNothing) {
  Cluster c(3, Cluster::Logs::kMemory);
  std::mt19937_64 rng(7);
  uint64_t token = 0;
  for (int round = 0; round < 30; ++round) {
    if (c.primary() == 0) {
      ASSERT_EQ(c.submit(0, ++token), Status::kOk);
    }
    c.replica(0).flush();
    // Every packet twice, in a shuffled order.
    std::deque<sim::Packet>& net = c.network();
    const size_t n = net.size();
    for (size_t i = 0; i < n; ++i)
      net.push_back(net[i]);
    std::shuffle(net.begin(), net.end(), rng);
    while (!net.empty())
      c.deliver(rng() % net.size());
    if (round % 3 == 0)
      c.tick_all();
  }
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.primary(), 0);
  EXPECT_EQ(c.acknowledged().size(), token);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.applied(i), Ops(1, token)) << i;
    EXPECT_EQ(c.replica(i).stats().dropped_bad, 0u) << i;
  }
}

TEST(ReplReplica, APrimaryCrashElectsANewPrimaryThatKeepsTheCommittedOps) {
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

TEST(ReplReplica, APartitionedPrimarysUncommittedOpIsDiscardedNotApplied) {
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

TEST(ReplReplica, ABackupRestartedOnItsFileLogRecoversAndCatchesUp) {
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
TEST(ReplReplica, AFarBehindBackupCatchesUpInChunks) {
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

TEST(ReplReplica, AWholeClusterRestartKeepsEveryAcknowledgedOp) {
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

TEST(ReplReplica, GarbageIsCountedAndDropped) {
  Cluster c(3, Cluster::Logs::kMemory);
  ASSERT_EQ(c.submit(0, 1), Status::kOk);
  ASSERT_TRUE(c.settle());
  std::mt19937_64 rng(99);
  Replica& r1 = c.replica(1);
  const uint64_t before = r1.stats().dropped_bad;
  for (int i = 0; i < 500; ++i) {
    std::vector<std::byte> junk(rng() % 64);
    for (auto& b : junk)
      b = static_cast<std::byte>(rng());
    r1.receive(0, junk);
  }
  EXPECT_EQ(r1.stats().dropped_bad, before + 500);
  // A well-formed message from itself, from outside the group, or from the wrong primary.
  const std::vector<std::byte> commit = Encode(Commit{.view = 0, .commit_number = 1});
  r1.receive(1, commit);
  r1.receive(7, commit);
  r1.receive(2, commit);
  EXPECT_EQ(r1.stats().dropped_bad, before + 503);
  EXPECT_EQ(r1.status(), ReplicaStatus::kNormal);
  EXPECT_TRUE(c.network().empty());  // none of it was answered
  ASSERT_EQ(c.submit(0, 2), Status::kOk);
  ASSERT_TRUE(c.settle());
  EXPECT_EQ(c.applied(1), Ops(1, 2));
}

// A backup restarted in view v must not give up, to a late copy of v's StartView, the ops it
// acknowledged in v: the primary counts them as held, and may have answered clients for them.
TEST(ReplReplica, ALateStartViewDoesNotUndoAcknowledgedOps) {
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
TEST(ReplReplica, ANewPrimaryRetransmitsOnlyOpsOfItsOwnView) {
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
TEST(ReplReplica, ALateStartViewToARestartedBackupIsNotRefusedAsBad) {
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
TEST(ReplReplica, ARestartedPrimaryDoesNotRestartItsOwnView) {
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

// A backup that missed the StartView keeps asking for it; the new primary answers each
// replica at most once per heartbeat, however many copies of the request arrive at once.
TEST(ReplReplica, StartViewRetransmissionIsRateLimited) {
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
