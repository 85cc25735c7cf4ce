// The agents as actors of the NIC runtime: batches of link messages in, decisions out.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/runners/agent_actor.h"
#include "runtime/runtime.h"
#include "wave_sched_link.h"

namespace wave::agents::testing {
namespace {

class ReplyBox {
 public:
  rt::ReplySink sink() {
    return [this](rt::Reply&& r) {
      std::lock_guard lock(mu_);
      replies_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  rt::Reply wait(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return replies_.size() >= n; });
    return replies_.size() >= n ? replies_[n - 1] : rt::Reply{};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<rt::Reply> replies_;
};

template <typename T>
void add(std::vector<std::byte>* batch, uint16_t type, const T& msg) {
  AgentActors::append_message(batch, type, std::as_bytes(std::span<const T, 1>(&msg, 1)));
}

std::vector<ReplyRecord> records(const rt::Reply& r) {
  std::vector<ReplyRecord> out;
  EXPECT_TRUE(
      AgentActors::decode_reply(r.payload, [&](const ReplyRecord& rec) { out.push_back(rec); }));
  return out;
}

struct Rig {
  explicit Rig(uint32_t policy) : actors(config()) {
    EXPECT_TRUE(actors.register_types(reg));
    rt::RuntimeConfig cfg;
    cfg.sched.cores = 1;
    cfg.migration = false;
    runtime = std::make_unique<rt::Runtime>(cfg, reg, box.sink());
    EXPECT_TRUE(runtime->start());
    rt::ActorSpec spec;
    EXPECT_TRUE(AgentActors::spec_for(policy, "agent", &spec));
    EXPECT_TRUE(spec.pinned);
    EXPECT_EQ(runtime->create_actor(spec, &id), rt::Status::kOk);
  }
  ~Rig() { runtime->shutdown(rt::ShutdownMode::kDrain); }
  static AgentActorConfig config() {
    AgentActorConfig c;
    c.agent.nr_cpus = 2;
    c.agent.epoch = 4;
    return c;
  }
  rt::Reply post(std::vector<std::byte> batch) {
    rt::Message m;
    m.dst = id;
    m.request_id = ++posted;
    m.payload = std::move(batch);
    EXPECT_EQ(runtime->post(std::move(m)), rt::Status::kOk);
    return box.wait(posted);
  }

  rt::ActorRegistry reg;
  ReplyBox box;
  AgentActors actors;
  std::unique_ptr<rt::Runtime> runtime;
  rt::ActorId id = rt::kNoActorId;
  size_t posted = 0;
};

TEST(AgentActor, FifoDecidesThroughTheRuntime) {
  Rig rig(WAVE_SCHED_POLICY_FIFO);
  std::vector<std::byte> batch;
  for (uint32_t tid = 1; tid <= 3; tid++) {
    add(&batch, WAVE_MSG_TASK_NEW, make_event(tid, 0, 1));
    add(&batch, WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 2));
  }
  rt::Reply r = rig.post(batch);
  ASSERT_EQ(r.status, rt::Status::kOk);
  auto recs = records(r);
  ASSERT_EQ(recs.size(), 2u);  // two free CPUs
  EXPECT_EQ(recs[0].kind, kReplyRing);
  EXPECT_EQ(recs[0].decision.tid, 1u);
  EXPECT_EQ(recs[0].cpu, 0u);
  EXPECT_EQ(recs[0].decision.agent_epoch, 4u);
  EXPECT_EQ(recs[1].decision.tid, 2u);
  EXPECT_EQ(recs[1].cpu, 1u);

  // Commit the first: CPU 0 is busy, task 3 gets prestaged for it.
  batch.clear();
  add(&batch, WAVE_MSG_TXN_OUTCOME, make_outcome(recs[0].decision, WAVE_TXN_COMMITTED));
  recs = records(rig.post(batch));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, kReplyPrestage);
  EXPECT_EQ(recs[0].cpu, 0u);
  EXPECT_EQ(recs[0].decision.tid, 3u);

  AgentStats st;
  AgentActorStats glue;
  ASSERT_TRUE(rig.actors.stats(rig.id, &st, &glue));
  EXPECT_EQ(st.events, 6u);
  EXPECT_EQ(st.outcomes[WAVE_TXN_COMMITTED], 1u);
  EXPECT_EQ(glue.batches, 2u);
}

TEST(AgentActor, MalformedBatchesAreCountedNotFatal) {
  Rig rig(WAVE_SCHED_POLICY_SHINJUKU);
  std::vector<std::byte> batch;
  add(&batch, WAVE_MSG_TASK_NEW, make_event(1, 0, 1));
  add(&batch, WAVE_MSG_TASK_RUNNABLE, make_event(1, 0, 2));
  add(&batch, 99, make_event(1, 0, 3));  // unknown type: the agent drops it
  batch.push_back(std::byte{7});         // a truncated record header
  rt::Reply r = rig.post(batch);
  EXPECT_EQ(r.status, rt::Status::kOk);
  auto recs = records(r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].decision.tid, 1u);
  EXPECT_EQ(recs[0].decision.slice_ns, WAVE_SCHED_DEFAULT_SLICE_NS);

  batch.assign({std::byte{1}, std::byte{0}, std::byte{0xff}, std::byte{0xff}});  // len 65535
  r = rig.post(batch);
  EXPECT_EQ(r.status, rt::Status::kOk);
  AgentStats st;
  AgentActorStats glue;
  ASSERT_TRUE(rig.actors.stats(rig.id, &st, &glue));
  EXPECT_EQ(glue.bad_records, 2u);
  EXPECT_EQ(st.bad_type, 1u);
}

TEST(AgentActor, RepliesWithBadRecordsAreRejected) {
  std::vector<std::byte> bad(4 + sizeof(wave_decision));
  bad[0] = std::byte{9};  // unknown kind
  EXPECT_FALSE(AgentActors::decode_reply(bad, [](const ReplyRecord&) { FAIL(); }));
  bad.resize(3);
  EXPECT_FALSE(AgentActors::decode_reply(bad, [](const ReplyRecord&) { FAIL(); }));
  rt::ActorSpec spec;
  EXPECT_FALSE(AgentActors::spec_for(0, "none", &spec));
}

}  // namespace
}  // namespace wave::agents::testing
