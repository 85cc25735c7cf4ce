// Inline cores (runtime/inline_core.h): the caller's thread runs the handler, in order with
// posted requests, never at the same time as a runtime core, with quarantine, watchdog,
// destroy and migration behaving as on a runtime core. No timing assertions.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runtime/host/host_runtime.h"
#include "runtime/inline_core.h"
#include "runtime/migration/shm_link.h"
#include "runtime/runtime.h"
#include "test_support.h"

namespace wave::rt {
namespace {

using test::bytes_of;
using test::Replies;
using test::u64_of;

RuntimeConfig two_cores() {
  RuntimeConfig cfg;
  cfg.sched.cores = 2;
  cfg.migration = false;
  return cfg;
}

std::atomic<std::thread::id> g_ran_on{};

// Replies with how many requests it ran before this one (its root counter), and notes the
// thread it ran on. kind 1 reads out of its root's bounds: a DMO violation.
ActorType probe_type() {
  ActorType t;
  t.name = "probe";
  t.handler = [](ActorContext& ctx, const Message& msg) {
    g_ran_on.store(std::this_thread::get_id());
    if (msg.kind == 1) {
      std::byte buf[16];
      ctx.reply({}, ctx.dmo_read(ctx.root(), 60, buf));
      return;
    }
    uint64_t v = 0;
    ctx.load(ctx.root(), 0, &v);
    ctx.store(ctx.root(), 0, v + 1);
    ctx.reply(bytes_of(v));
  };
  return t;
}

// Counts handlers inside at once; any overlap is remembered.
std::atomic<int> g_inside{0};
std::atomic<bool> g_overlap{false};

ActorType overlap_type() {
  ActorType t;
  t.name = "overlap";
  t.handler = [](ActorContext& ctx, const Message&) {
    if (g_inside.fetch_add(1) != 0)
      g_overlap = true;
    for (int i = 0; i < 200; ++i)
      std::atomic_signal_fence(std::memory_order_seq_cst);
    uint64_t v = 0;
    ctx.load(ctx.root(), 0, &v);
    ctx.store(ctx.root(), 0, v + 1);
    g_inside.fetch_sub(1);
    ctx.reply(bytes_of(v));
  };
  return t;
}

ActorType spinner_type() {
  ActorType t;
  t.name = "spinner";
  t.handler = [](ActorContext& ctx, const Message&) {
    test::spin_for(std::chrono::seconds(10));  // far past the watchdog
    ctx.reply({});
  };
  return t;
}

struct Fixture {
  ActorRegistry reg;
  Replies replies;
  std::unique_ptr<Runtime> rt;
  explicit Fixture(RuntimeConfig cfg = two_cores()) {
    reg.register_type(probe_type());
    reg.register_type(overlap_type());
    reg.register_type(spinner_type());
    rt = std::make_unique<Runtime>(cfg, reg, replies.sink());
    EXPECT_TRUE(rt->start());
  }
  ActorId create(const char* type) {
    ActorId id = kNoActorId;
    EXPECT_EQ(rt->create_actor({.type = type, .name = type, .pinned = true}, &id), Status::kOk);
    return id;
  }
};

TEST(InlineCore, RunsTheHandlerOnTheCallersThreadWithTheActorsState) {
  Fixture f;
  const ActorId id = f.create("probe");
  auto core = f.rt->open_inline_core();
  ASSERT_TRUE(core);
  for (uint64_t i = 0; i < 3; ++i) {
    Message m{.request_id = i + 1, .dst = id};
    Reply r;
    ASSERT_EQ(core->run(m, &r), Status::kOk);
    EXPECT_EQ(g_ran_on.load(), std::this_thread::get_id());
    EXPECT_EQ(r.request_id, i + 1);
    EXPECT_EQ(r.status, Status::kOk);
    EXPECT_EQ(u64_of(r.payload), i);  // the root DMO keeps the count
  }
  EXPECT_EQ(f.replies.count(), 0u);  // inline replies do not go through the sink
  // Posted requests see the same state: a runtime core runs them.
  f.rt->post(Message{.request_id = 10, .dst = id});
  ASSERT_TRUE(f.replies.wait_for(1));
  EXPECT_EQ(u64_of(f.replies.get(10).payload), 3u);
  const RuntimeStats st = f.rt->stats();
  ASSERT_EQ(st.actors.size(), 1u);
  EXPECT_EQ(st.actors[0].sched.processed, 4u);  // the scheduler's statistics count inline runs
  EXPECT_EQ(st.requests, 4u);
  EXPECT_EQ(st.replies, 4u);
}

TEST(InlineCore, OrderKeptWhenPostsAndInlineRunsMix) {
  Fixture f;
  const ActorId id = f.create("probe");
  auto core = f.rt->open_inline_core();
  ASSERT_TRUE(core);
  constexpr uint64_t kN = 3000;
  std::map<uint64_t, uint64_t> inline_ran;  // request id -> requests run before it
  uint64_t posted = 0, refused = 0;
  for (uint64_t i = 1; i <= kN; ++i) {
    Message m{.request_id = i, .dst = id};
    if (i % 3 == 0) {  // every third request goes through the mailbox
      f.rt->post(std::move(m));
      ++posted;
      continue;
    }
    Reply r;
    const Status s = core->run(m, &r);
    if (s == Status::kOk) {
      inline_ran[i] = u64_of(r.payload);
      continue;
    }
    ASSERT_EQ(s, Status::kBusy);
    EXPECT_EQ(m.request_id, i);  // refused: untouched
    ++refused;
    f.rt->post(std::move(m));
    ++posted;
  }
  ASSERT_TRUE(f.replies.wait_for(posted));
  // Request i ran after exactly i - 1 others, whichever path it took.
  for (uint64_t i = 1; i <= kN; ++i) {
    const auto it = inline_ran.find(i);
    const uint64_t before = it != inline_ran.end() ? it->second : u64_of(f.replies.get(i).payload);
    ASSERT_EQ(before, i - 1) << "request " << i;
  }
  EXPECT_FALSE(inline_ran.empty());
  (void)refused;
}

TEST(InlineCore, ViolationQuarantinesLikeOnACoreAndLaterRunsAreRefused) {
  Fixture f;
  const ActorId id = f.create("probe");
  auto core = f.rt->open_inline_core();
  ASSERT_TRUE(core);
  Message bad{.request_id = 1, .dst = id, .kind = 1};
  Reply r;
  ASSERT_EQ(core->run(bad, &r), Status::kOk);
  EXPECT_TRUE(is_violation(r.status)) << status_name(r.status);
  RuntimeStats st = f.rt->stats();
  EXPECT_EQ(st.violations, 1u);
  EXPECT_EQ(st.quarantines, 1u);
  Message next{.request_id = 2, .dst = id};
  EXPECT_EQ(core->run(next, &r), Status::kQuarantined);
  EXPECT_EQ(next.request_id, 2u);
  // The fallback answers it with the same status through the sink.
  EXPECT_EQ(f.rt->post(std::move(next)), Status::kQuarantined);
  ASSERT_TRUE(f.replies.wait_for(1));
  EXPECT_EQ(f.replies.get(2).status, Status::kQuarantined);
}

TEST(InlineCore, WatchdogEvictsAnInlineRunOnTheCallersThread) {
  RuntimeConfig cfg = two_cores();
  cfg.watchdog_ns = 20'000'000;  // 20 ms of CPU time
  Fixture f(cfg);
  const ActorId id = f.create("spinner");
  auto core = f.rt->open_inline_core();
  ASSERT_TRUE(core);
  Message m{.request_id = 1, .dst = id};
  Reply r;
  ASSERT_EQ(core->run(m, &r), Status::kOk);
  EXPECT_EQ(r.status, Status::kEvicted);
  const RuntimeStats st = f.rt->stats();
  EXPECT_EQ(st.evictions, 1u);
  EXPECT_EQ(st.quarantines, 1u);
  Message again{.request_id = 2, .dst = id};
  EXPECT_EQ(core->run(again, &r), Status::kQuarantined);
  // This thread can be evicted again: the signal was unblocked after the jump.
  const ActorId id2 = f.create("spinner");
  Message m2{.request_id = 3, .dst = id2};
  ASSERT_EQ(core->run(m2, &r), Status::kOk);
  EXPECT_EQ(r.status, Status::kEvicted);
}

TEST(InlineCore, PostsAndInlineRunsNeverRunTheHandlerTwiceAtOnce) {
  Fixture f;
  const ActorId id = f.create("overlap");
  g_overlap = false;
  constexpr uint64_t kN = 4000;
  std::thread poster([&] {
    for (uint64_t i = 0; i < kN; ++i)
      f.rt->post(Message{.request_id = 1'000'000 + i, .dst = id});
  });
  auto core = f.rt->open_inline_core();
  ASSERT_TRUE(core);
  uint64_t posted = kN, inline_runs = 0;
  for (uint64_t i = 0; i < kN; ++i) {
    Message m{.request_id = i + 1, .dst = id};
    Reply r;
    if (core->run(m, &r) == Status::kOk) {
      ++inline_runs;
      continue;
    }
    f.rt->post(std::move(m));
    ++posted;
  }
  poster.join();
  ASSERT_TRUE(f.replies.wait_for(posted));
  EXPECT_FALSE(g_overlap.load());
  // Every request ran exactly once: the count the actor keeps is the number of requests.
  Message last{.request_id = 9'999'999, .dst = id};
  f.rt->post(std::move(last));
  ASSERT_TRUE(f.replies.wait_for(posted + 1));
  EXPECT_EQ(u64_of(f.replies.get(9'999'999).payload), kN + kN);
  (void)inline_runs;
}

TEST(InlineCore, DestroyWhileInlineRunsAreGoingOnIsSafe) {
  for (int round = 0; round < 20; ++round) {
    Fixture f;
    const ActorId id = f.create("overlap");
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> posted{0}, inline_ok{0}, refused_gone{0};
    std::thread runner([&] {
      auto core = f.rt->open_inline_core();
      ASSERT_TRUE(core);
      for (uint64_t i = 1; !stop.load(); ++i) {
        Message m{.request_id = i, .dst = id};
        Reply r;
        const Status s = core->run(m, &r);
        if (s == Status::kOk) {
          ++inline_ok;
        } else {
          if (s == Status::kNoActor)
            ++refused_gone;
          f.rt->post(std::move(m));
          ++posted;
        }
        if (s == Status::kNoActor)
          break;
      }
    });
    while (inline_ok.load() < 50)
      std::this_thread::yield();
    EXPECT_EQ(f.rt->destroy_actor(id), Status::kOk);
    stop = true;
    runner.join();
    // Every posted request was answered once (kNoActor for the late ones), none hangs.
    ASSERT_TRUE(f.replies.wait_for(posted.load()));
    EXPECT_EQ(f.replies.count(), posted.load());
  }
}

TEST(InlineCore, MigratedActorIsRefusedAndItsRequestsFollowIt) {
  ActorRegistry reg;
  reg.register_type(probe_type());
  Replies replies;
  auto link = mig::ShmLink::create(1 << 20, 0);
  ASSERT_TRUE(link);
  HostRuntime host(reg, link->open(mig::LinkSide::kHost));
  Runtime nic(two_cores(), reg, replies.sink());
  nic.attach_host_link(link->open(mig::LinkSide::kNic));
  ASSERT_TRUE(host.start());
  ASSERT_TRUE(nic.start());
  ActorId id;
  ASSERT_EQ(nic.create_actor({.type = "probe", .name = "probe"}, &id), Status::kOk);
  auto core = nic.open_inline_core();
  ASSERT_TRUE(core);
  // Inline runs on one thread while another moves the actor to the host and back. Like the
  // link's pump (one request in flight), a refused request is posted and answered before the
  // next is tried: a caller that kept trying while its posts waited would be refused for as
  // long as they did, and one that posted every refusal at once outran the cores without
  // bound (hundreds of thousands of requests, the replay of each trip growing with them).
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> inline_runs{0};
  uint64_t posted = 0;
  std::map<uint64_t, uint64_t> inline_ran;
  std::thread mover([&] {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(nic.migrate_to_host(id), Status::kOk);
      EXPECT_EQ(nic.migrate_from_host(id), Status::kOk);
      // Back on the NIC, the caller's thread runs it again before the next trip.
      const uint64_t before = inline_runs.load();
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (inline_runs.load() == before && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
      EXPECT_GT(inline_runs.load(), before) << "no inline run after trip " << i;
    }
    stop = true;
  });
  uint64_t i = 1;
  for (; !stop.load(); ++i) {
    Message m{.request_id = i, .dst = id};
    Reply r;
    const Status s = core->run(m, &r);
    if (s == Status::kOk) {
      inline_ran[i] = u64_of(r.payload);
      inline_runs.fetch_add(1);
    } else {
      ASSERT_EQ(s, Status::kBusy);
      nic.post(std::move(m));
      ++posted;
      ASSERT_TRUE(replies.wait_for(posted)) << "request " << i;
    }
  }
  mover.join();
  ASSERT_TRUE(replies.wait_for(posted));
  // The state went to the host and back with every request, each exactly once, in order.
  for (uint64_t k = 1; k < i; ++k) {
    const auto it = inline_ran.find(k);
    const uint64_t before = it != inline_ran.end() ? it->second : u64_of(replies.get(k).payload);
    ASSERT_EQ(before, k - 1) << "request " << k;
  }
  core.reset();
  nic.shutdown(ShutdownMode::kDrain);
  host.stop();
}

}  // namespace
}  // namespace wave::rt
