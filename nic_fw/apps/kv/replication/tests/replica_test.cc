// The replica in normal operation, scripted on the simulated network (sim_cluster.h): each
// test drives one path by hand and checks where every replica ends up. View changes,
// restarts and catching up are in replica_view_change_test.cc.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "sim_cluster.h"

namespace wave::kv::repl {
namespace {

using sim::Cluster;
using sim::Op;
using sim::Ops;

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

}  // namespace
}  // namespace wave::kv::repl
