// The hybrid scheduler in logical time: the tests drive it as NIC cores would, advancing a
// manual clock by each request's cost, so results do not depend on the machine's load.
#include "hybrid_scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace wave::rt {
namespace {

Message request(ActorId dst, uint64_t cost_ns, uint64_t id = 0) {
  Message m;
  m.dst = dst;
  m.cost_ns = cost_ns;
  m.request_id = id;
  return m;
}

CoreGroup group_of(const HybridScheduler& s, ActorId id) {
  for (const auto& a : s.actor_stats()) {
    if (a.id == id)
      return a.group;
  }
  ADD_FAILURE() << "no actor " << id;
  return CoreGroup::kFcfs;
}

// Runs one request on `core` to completion in logical time; false if there was none.
bool step(HybridScheduler& s, ManualClock& clock, uint32_t core,
          std::map<ActorId, uint64_t>* served = nullptr) {
  auto m = s.next(core);
  if (!m)
    return false;
  clock.advance(m->cost_ns);
  s.complete(core, *m, m->cost_ns);
  if (served != nullptr)
    (*served)[m->dst] += m->cost_ns;
  return true;
}

TEST(Scheduler, DrrSharesTimeFairlyAmongBackloggedActors) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.mode = SchedMode::kDrrOnly;
  cfg.cores = 1;
  cfg.drr_quantum_ns = 10'000;
  HybridScheduler s(cfg, clock);
  // Very different request costs; every actor always has work.
  const std::map<ActorId, uint64_t> cost = {{1, 1'000}, {2, 7'000}, {3, 50'000}};
  for (auto [id, c] : cost) {
    ASSERT_TRUE(s.add_actor(id, true, false));
    for (int i = 0; i < 4; ++i) {
      Message m = request(id, c);
      ASSERT_EQ(s.enqueue(m), HybridScheduler::Enqueued::kQueued);
    }
  }
  std::map<ActorId, uint64_t> served;
  while (clock.now_ns() < 30'000'000) {
    auto m = s.next(0);
    ASSERT_TRUE(m);
    clock.advance(m->cost_ns);
    s.complete(0, *m, m->cost_ns);
    served[m->dst] += m->cost_ns;
    Message again = request(m->dst, cost.at(m->dst));  // stays backlogged
    s.enqueue(again);
  }
  const double total = static_cast<double>(clock.now_ns());
  for (auto [id, c] : cost) {
    // Each gets a third of the core, within one large request per round's worth of slack.
    EXPECT_NEAR(served[id] / total, 1.0 / 3, 0.03) << "actor " << id;
  }
}

TEST(Scheduler, FcfsServesInArrivalOrder) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.mode = SchedMode::kFcfsOnly;
  cfg.cores = 1;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  s.add_actor(2, true, false);
  for (uint64_t i = 0; i < 10; ++i) {
    Message m = request(i % 2 ? 1 : 2, 100, i);
    s.enqueue(m);
  }
  for (uint64_t i = 0; i < 10; ++i) {
    auto m = s.next(0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->request_id, i);
    s.complete(0, *m, 100);
  }
}

TEST(Scheduler, DowngradeAndUpgradeExactlyAtThresholds) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 2;
  cfg.tail_threshold_ns = 100'000;
  cfg.alpha = 0.2;
  cfg.window = 16;
  cfg.min_samples = 4;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  LatencyStats mirror(cfg.window);  // the same statistic, computed independently
  bool in_drr = false;
  int downgrades = 0, upgrades = 0;
  // Phase 1 cheap, phase 2 dispersive (tail rises past 100 us), phase 3 cheap again.
  std::vector<uint64_t> costs;
  for (int i = 0; i < 20; ++i)
    costs.push_back(5'000);
  for (int i = 0; i < 30; ++i)
    costs.push_back(i % 3 ? 5'000 : 150'000);
  for (int i = 0; i < 80; ++i)
    costs.push_back(5'000);
  for (uint64_t c : costs) {
    Message m = request(1, c);
    s.enqueue(m);
    std::optional<Message> got;
    for (uint32_t core = 0; core < 2 && !got; ++core) {
      got = s.next(core);
      if (got) {
        clock.advance(c);
        s.complete(core, *got, c);
      }
    }
    ASSERT_TRUE(got);
    mirror.add(static_cast<double>(c));
    if (mirror.count() >= cfg.min_samples) {
      if (!in_drr && mirror.tail_ns() > 100'000) {
        in_drr = true;
        ++downgrades;
      } else if (in_drr && mirror.tail_ns() < 80'000) {
        in_drr = false;
        ++upgrades;
      }
    }
    ASSERT_EQ(group_of(s, 1), in_drr ? CoreGroup::kDrr : CoreGroup::kFcfs)
        << "after a sample, tail " << mirror.tail_ns();
  }
  EXPECT_EQ(downgrades, 1);
  EXPECT_EQ(upgrades, 1);
  auto st = s.actor_stats();
  EXPECT_EQ(st[0].to_drr, 1u);
  EXPECT_EQ(st[0].to_fcfs, 1u);
}

// An actor's requests run in arrival order across its moves between FCFS and DRR: the ones
// still in the shared queue when it is downgraded must not fall behind the ones that arrive
// in its DRR mailbox afterwards (a key-value shard would read before its own write).
TEST(Scheduler, RequestsKeepArrivalOrderAcrossGroupChanges) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 1;
  cfg.tail_threshold_ns = 100'000;
  cfg.alpha = 0.2;
  cfg.window = 8;
  cfg.min_samples = 2;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  uint64_t next_id = 0, expect = 0;
  int downgrades_seen = 0, upgrades_seen = 0;
  CoreGroup last = CoreGroup::kFcfs;
  // Bursts of requests queue up behind each other; every fifth burst is expensive, so the
  // actor's tail crosses the threshold both ways while requests wait in its queues.
  for (int burst = 0; burst < 60; ++burst) {
    for (int i = 0; i < 6; ++i) {
      Message m = request(1, burst % 5 == 4 ? 400'000 : 2'000, next_id++);
      s.enqueue(m);
    }
    for (int i = 0; i < 3; ++i) {
      auto m = s.next(0);
      ASSERT_TRUE(m);
      ASSERT_EQ(m->request_id, expect) << "burst " << burst;
      ++expect;
      clock.advance(m->cost_ns);
      s.complete(0, *m, m->cost_ns);
      Message more = request(1, 2'000, next_id++);  // arrives right after a possible move
      s.enqueue(more);
      const CoreGroup now = group_of(s, 1);
      downgrades_seen += last == CoreGroup::kFcfs && now == CoreGroup::kDrr;
      upgrades_seen += last == CoreGroup::kDrr && now == CoreGroup::kFcfs;
      last = now;
    }
  }
  while (auto m = s.next(0)) {
    ASSERT_EQ(m->request_id, expect);
    ++expect;
    clock.advance(m->cost_ns);
    s.complete(0, *m, m->cost_ns);
  }
  EXPECT_EQ(expect, next_id);
  EXPECT_GE(downgrades_seen, 1);
  EXPECT_GE(upgrades_seen, 1);
}

TEST(Scheduler, HysteresisKeepsActorInDrrBetweenThresholds) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 1;
  cfg.tail_threshold_ns = 100'000;
  cfg.alpha = 0.2;
  cfg.window = 4;
  cfg.min_samples = 1;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  auto run = [&](uint64_t c) {
    Message m = request(1, c);
    s.enqueue(m);
    ASSERT_TRUE(step(s, clock, 0));
    (void)c;
  };
  run(200'000);  // one sample: tail = mean = 200 us > 100 us
  EXPECT_EQ(group_of(s, 1), CoreGroup::kDrr);
  for (int i = 0; i < 40; ++i)
    run(90'000);  // converges to 90 us: between 80 and 100
  EXPECT_EQ(group_of(s, 1), CoreGroup::kDrr);
  for (int i = 0; i < 40; ++i)
    run(70'000);  // below (1 - alpha) * threshold
  EXPECT_EQ(group_of(s, 1), CoreGroup::kFcfs);
}

TEST(Scheduler, IdleFcfsCoreMovesToDrrAndBack) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 3;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, false, false);        // FCFS, may run on several cores
  s.add_actor(2, true, true);          // starts in DRR
  s.add_actor(3, true, true);          // DRR
  EXPECT_EQ(s.stats().drr_cores, 0u);  // all cores start FCFS, as in iPipe
  Message m2 = request(2, 10);
  s.enqueue(m2);
  auto g0 = s.next(0);  // DRR has work and no core: core 0 joins the DRR group
  ASSERT_TRUE(g0);
  EXPECT_EQ(g0->dst, 2u);
  EXPECT_EQ(s.core_group(0), CoreGroup::kDrr);
  // More DRR work while the only DRR core is busy: idle core 1 moves too.
  Message m3 = request(3, 10);
  s.enqueue(m3);
  auto g1 = s.next(1);
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->dst, 3u);
  EXPECT_EQ(s.core_group(1), CoreGroup::kDrr);
  // Actor 2 is on core 0 (serial): its new request waits for core 0, and core 2 stays FCFS,
  // the last core of a group that still has an actor.
  Message m4 = request(2, 10);
  s.enqueue(m4);
  EXPECT_FALSE(s.next(2));
  EXPECT_EQ(s.core_group(2), CoreGroup::kFcfs);
  s.complete(1, *g1, 10);
  // FCFS work while the FCFS core is busy and a DRR core is idle: the DRR core comes back.
  Message f1 = request(1, 10), f2 = request(1, 10);
  s.enqueue(f1);
  s.enqueue(f2);
  auto g2 = s.next(2);
  ASSERT_TRUE(g2);
  auto g1b = s.next(1);
  ASSERT_TRUE(g1b);
  EXPECT_EQ(g1b->dst, 1u);
  EXPECT_EQ(s.core_group(1), CoreGroup::kFcfs);
  EXPECT_EQ(s.core_group(0), CoreGroup::kDrr);  // kept: actor 2 still has work in DRR
  EXPECT_EQ(s.stats().core_moves, 3u);
}

TEST(Scheduler, SerialActorRunsOnOneCoreAtATime) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.mode = SchedMode::kFcfsOnly;
  cfg.cores = 2;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  s.add_actor(2, false, false);  // concurrent actor
  for (int i = 0; i < 2; ++i) {
    Message a = request(1, 1), b = request(2, 1);
    s.enqueue(a);
    s.enqueue(b);
  }
  // Queue: 1, 2, 1, 2. Core 0 takes actor 1; core 1 skips the busy serial actor... takes 2.
  auto c0 = s.next(0);
  auto c1 = s.next(1);
  ASSERT_TRUE(c0 && c1);
  EXPECT_EQ(c0->dst, 1u);
  EXPECT_EQ(c1->dst, 2u);
  // Core 1 finishes and takes the next: the second request of actor 1 must wait (parked),
  // so it runs actor 2 again, concurrently allowed.
  s.complete(1, *c1, 1);
  auto c1b = s.next(1);
  ASSERT_TRUE(c1b);
  EXPECT_EQ(c1b->dst, 2u);
  // When core 0 finishes actor 1, the parked request goes back to the head of the queue.
  s.complete(0, *c0, 1);
  auto c0b = s.next(0);
  ASSERT_TRUE(c0b);
  EXPECT_EQ(c0b->dst, 1u);
}

TEST(Scheduler, MigrationBuffersInOrderAndReplays) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 1;
  HybridScheduler s(cfg, clock);
  s.add_actor(1, true, false);
  for (uint64_t i = 0; i < 3; ++i) {
    Message m = request(1, 1, i);
    s.enqueue(m);
  }
  ASSERT_TRUE(s.begin_migration_out(1));
  EXPECT_FALSE(s.next(0));  // nothing runs while the actor is away
  for (uint64_t i = 3; i < 5; ++i) {
    Message m = request(1, 1, i);
    EXPECT_EQ(s.enqueue(m), HybridScheduler::Enqueued::kOutbox);
  }
  auto out = s.take_outbox(1);
  ASSERT_EQ(out.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i)
    EXPECT_EQ(out[i].request_id, i);
  s.set_location(1, ActorLocation::kReturning);
  Message late = request(1, 1, 99);
  s.enqueue(late);
  EXPECT_EQ(s.finish_migration_in(1), 1u);
  auto m = s.next(0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->request_id, 99u);
}

// An actor that leaves for the host from the DRR list stays in it until a DRR core pops it;
// a lone core in the FCFS group never does. The idle NIC's mean latency must decay anyway, or
// the actor would never be brought back.
TEST(Scheduler, IdleTicksDecayTheMeanAfterADrrActorMigrated) {
  ManualClock clock;
  SchedulerConfig cfg;
  cfg.cores = 1;
  HybridScheduler s(cfg, clock);
  ASSERT_TRUE(s.add_actor(1, true, false));  // FCFS: keeps the core in the FCFS group
  ASSERT_TRUE(s.add_actor(2, true, true));   // DRR from the start
  Message slow = request(1, 1'000, 1);
  ASSERT_EQ(s.enqueue(slow), HybridScheduler::Enqueued::kQueued);
  clock.advance(5'000'000);  // answered 5 ms late: the NIC's mean latency is 5 ms
  ASSERT_TRUE(step(s, clock, 0));
  Message waiting = request(2, 1'000, 2);
  ASSERT_EQ(s.enqueue(waiting), HybridScheduler::Enqueued::kQueued);
  ASSERT_TRUE(s.begin_migration_out(2));
  EXPECT_FALSE(s.next(0));  // nothing a core could take
  EXPECT_EQ(s.core_group(0), CoreGroup::kFcfs);
  const double before = s.nic_latency_mean_ns();
  for (int tick = 0; tick < 3; ++tick)
    s.sample_idle_tick();  // the first sees the completion since the last tick, not idle
  EXPECT_LT(s.nic_latency_mean_ns(), before);
}

}  // namespace
}  // namespace wave::rt
