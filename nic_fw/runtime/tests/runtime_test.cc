// The NIC runtime with real core threads: requests answered exactly once, isolation enforced
// through handlers, clean shutdown with work pending.
#include "runtime/runtime.h"
#include "dmo_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "test_support.h"

namespace wave::rt {
namespace {

using test::bytes_of;
using test::Replies;
using test::u64_of;

RuntimeConfig small_config(uint32_t cores = 2) {
  RuntimeConfig cfg;
  cfg.sched.cores = cores;
  cfg.migration = false;
  return cfg;
}

TEST(Runtime, EveryRequestAnsweredOnceAndStateKept) {
  ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(test::counter_type()));
  Replies replies;
  Runtime rt(small_config(), reg, replies.sink());
  ASSERT_TRUE(rt.start());
  ActorSpec spec;
  spec.type = "counter";
  spec.name = "c";
  ActorId id;
  ASSERT_EQ(rt.create_actor(spec, &id), Status::kOk);
  constexpr uint64_t kN = 2000;
  for (uint64_t i = 0; i < kN; ++i) {
    Message m;
    m.dst = id;
    m.request_id = i;
    ASSERT_EQ(rt.post(std::move(m)), Status::kOk);
  }
  ASSERT_TRUE(replies.wait_for(kN));
  replies.expect_exactly_once(0, kN);
  // A serial actor saw each request once: the counter values are exactly 1..N.
  std::set<uint64_t> values;
  for (auto& [rid, rs] : replies.all())
    values.insert(u64_of(rs[0].payload));
  EXPECT_EQ(values.size(), kN);
  EXPECT_EQ(*values.begin(), 1u);
  EXPECT_EQ(*values.rbegin(), kN);
  rt.shutdown(ShutdownMode::kDrain);
}

TEST(Runtime, UnknownActorAndUnknownTypeRefused) {
  ActorRegistry reg;
  Replies replies;
  Runtime rt(small_config(), reg, replies.sink());
  ASSERT_TRUE(rt.start());
  ActorSpec spec;
  spec.type = "nope";
  ActorId id;
  EXPECT_EQ(rt.create_actor(spec, &id), Status::kNoActor);
  Message m;
  m.dst = 42;
  m.request_id = 7;
  EXPECT_EQ(rt.post(std::move(m)), Status::kNoActor);
  ASSERT_TRUE(replies.wait_for(1));
  EXPECT_EQ(replies.get(7).status, Status::kNoActor);
}

// "thief" tries, through every call, to use an object id it received in the payload.
ActorType thief_type() {
  ActorType t;
  t.name = "thief";
  t.handler = [](ActorContext& ctx, const Message& msg) {
    const ObjectId victim = u64_of(msg.payload);
    std::array<std::byte, 8> buf{};
    Status s = Status::kOk;
    switch (msg.kind) {
      case 0:
        s = ctx.dmo_read(victim, 0, buf);
        break;
      case 1:
        s = ctx.dmo_write(victim, 0, buf);
        break;
      case 2:
        s = ctx.dmo_memset(victim, 0, 0, 8);
        break;
      case 3:
        s = ctx.dmo_memcpy(ctx.root(), 0, victim, 0, 8);
        break;
      case 4:
        s = ctx.dmo_memcpy(victim, 0, ctx.root(), 0, 8);
        break;
      case 5:
        s = ctx.dmo_memmove(victim, 0, ctx.root(), 0, 8);
        break;
      case 6:
        s = ctx.dmo_free(victim);
        break;
      case 7:
        s = ctx.dmo_read(ctx.root(), 60, buf);
        break;  // out of bounds on its own
    }
    ctx.reply(bytes_of(static_cast<uint64_t>(s)));
  };
  return t;
}

TEST(Runtime, ViolationFailsCallQuarantinesActorAndSparesVictim) {
  for (uint32_t kind = 0; kind < 8; ++kind) {
    ActorRegistry reg;
    ASSERT_TRUE(reg.register_type(test::counter_type()));
    ASSERT_TRUE(reg.register_type(thief_type()));
    Replies replies;
    Runtime rt(small_config(), reg, replies.sink());
    ASSERT_TRUE(rt.start());
    ActorSpec vs{.type = "counter", .name = "victim"};
    ActorSpec ts{.type = "thief", .name = "thief"};
    ActorId victim, thief;
    ASSERT_EQ(rt.create_actor(vs, &victim), Status::kOk);
    ASSERT_EQ(rt.create_actor(ts, &thief), Status::kOk);
    // Give the victim some state: counter = 5.
    for (uint64_t i = 0; i < 5; ++i)
      rt.post(Message{.request_id = i, .dst = victim});
    ASSERT_TRUE(replies.wait_for(5));
    // The victim's root id is the first object of its space: forge it exactly.
    const ObjectId victim_root = make_object_id(victim, 1, 0);
    rt.post(
        Message{.request_id = 100, .dst = thief, .kind = kind, .payload = bytes_of(victim_root)});
    ASSERT_TRUE(replies.wait_for(6));
    const auto s = static_cast<Status>(u64_of(replies.get(100).payload));
    EXPECT_TRUE(is_violation(s)) << "kind " << kind << " got " << status_name(s);
    // Quarantined: later requests are refused without running.
    rt.post(Message{.request_id = 101, .dst = thief});
    ASSERT_TRUE(replies.wait_for(7));
    EXPECT_EQ(replies.get(101).status, Status::kQuarantined);
    // The victim's state is intact and it keeps working.
    rt.post(Message{.request_id = 102, .dst = victim});
    ASSERT_TRUE(replies.wait_for(8));
    EXPECT_EQ(u64_of(replies.get(102).payload), 6u) << "kind " << kind;
    const RuntimeStats st = rt.stats();
    EXPECT_EQ(st.violations, 1u);
    EXPECT_EQ(st.quarantines, 1u);
  }
}

TEST(Runtime, MemoryCapAppliesToHandlers) {
  ActorRegistry reg;
  ActorType hog;
  hog.name = "hog";
  hog.handler = [](ActorContext& ctx, const Message&) {
    ObjectId id;
    ctx.reply({}, ctx.dmo_malloc(1 << 20, &id));
  };
  ASSERT_TRUE(reg.register_type(hog));
  Replies replies;
  Runtime rt(small_config(), reg, replies.sink());
  ASSERT_TRUE(rt.start());
  ActorSpec spec{.type = "hog", .name = "hog", .mem_cap_bytes = (1 << 20) + 4096};
  ActorId id;
  ASSERT_EQ(rt.create_actor(spec, &id), Status::kOk);
  rt.post(Message{.request_id = 1, .dst = id});
  ASSERT_TRUE(replies.wait_for(1));
  EXPECT_EQ(replies.get(1).status, Status::kOk);
  rt.post(Message{.request_id = 2, .dst = id});
  ASSERT_TRUE(replies.wait_for(2));
  EXPECT_EQ(replies.get(2).status, Status::kOverCap);
}

ActorType slow_type(std::chrono::microseconds d) {
  ActorType t;
  t.name = "slow";
  t.handler = [d](ActorContext& ctx, const Message&) {
    test::spin_for(d);
    ctx.reply({});
  };
  return t;
}

TEST(Runtime, ShutdownDrainRunsEverythingPending) {
  ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(slow_type(std::chrono::microseconds(20))));
  Replies replies;
  auto rt = std::make_unique<Runtime>(small_config(), reg, replies.sink());
  ASSERT_TRUE(rt->start());
  ActorId a, b;
  ASSERT_EQ(rt->create_actor({.type = "slow", .name = "a"}, &a), Status::kOk);
  ASSERT_EQ(rt->create_actor({.type = "slow", .name = "b", .start_in_drr = true}, &b), Status::kOk);
  constexpr uint64_t kN = 1000;
  for (uint64_t i = 0; i < kN; ++i)
    rt->post(Message{.request_id = i, .dst = i % 2 ? a : b});
  rt->shutdown(ShutdownMode::kDrain);
  replies.expect_exactly_once(0, kN);
  for (auto& [id, rs] : replies.all())
    EXPECT_EQ(rs[0].status, Status::kOk);
  // After shutdown, requests are refused, and answered.
  EXPECT_EQ(rt->post(Message{.request_id = kN, .dst = a}), Status::kShutdown);
  EXPECT_EQ(replies.get(kN).status, Status::kShutdown);
  rt.reset();
}

TEST(Runtime, ShutdownCancelAnswersPendingOnce) {
  ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(slow_type(std::chrono::microseconds(200))));
  Replies replies;
  Runtime rt(small_config(), reg, replies.sink());
  ASSERT_TRUE(rt.start());
  ActorId a;
  ASSERT_EQ(rt.create_actor({.type = "slow", .name = "a"}, &a), Status::kOk);
  constexpr uint64_t kN = 2000;  // 400 ms of work: most is still waiting at shutdown
  for (uint64_t i = 0; i < kN; ++i)
    rt.post(Message{.request_id = i, .dst = a});
  rt.shutdown(ShutdownMode::kCancel);
  replies.expect_exactly_once(0, kN);
  size_t ok = 0, cancelled = 0;
  for (auto& [id, rs] : replies.all()) {
    if (rs[0].status == Status::kOk)
      ++ok;
    if (rs[0].status == Status::kShutdown)
      ++cancelled;
  }
  EXPECT_EQ(ok + cancelled, kN);
  EXPECT_GT(cancelled, kN / 2);
}

TEST(Runtime, DestroyActorAnswersItsPendingRequests) {
  ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(slow_type(std::chrono::microseconds(100))));
  Replies replies;
  Runtime rt(small_config(1), reg, replies.sink());
  ASSERT_TRUE(rt.start());
  ActorId a;
  ASSERT_EQ(rt.create_actor({.type = "slow", .name = "a"}, &a), Status::kOk);
  constexpr uint64_t kN = 500;
  for (uint64_t i = 0; i < kN; ++i)
    rt.post(Message{.request_id = i, .dst = a});
  EXPECT_EQ(rt.destroy_actor(a), Status::kOk);
  ASSERT_TRUE(replies.wait_for(kN));
  replies.expect_exactly_once(0, kN);
  EXPECT_FALSE(rt.dmo_table().has_space(a));
}

}  // namespace
}  // namespace wave::rt
