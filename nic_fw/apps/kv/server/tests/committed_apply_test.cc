// CommittedApplier against a scripted shard: committed writes reach each shard once and in op
// order, including those a shard answered kStalled and that were posted again.
#include "kv/server/committed_apply.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace wave::kv {
namespace {

constexpr rt::ActorId kShardA = 11;
constexpr rt::ActorId kShardB = 12;

// What the applier posted, as the shard's mailbox would see it.
class Mailbox {
 public:
  rt::Status Post(rt::Message&& m) {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(m));
    cv_.notify_all();
    return rt::Status::kOk;
  }
  // Waits (bounded) until `n` messages were posted; the posted ones.
  std::vector<rt::Message> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return posted_.size() >= n; });
    return posted_;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return posted_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<rt::Message> posted_;
};

uint64_t OpNumberOf(const rt::Message& m) {
  KvOp op;
  EXPECT_TRUE(DecodeOp(m.payload, &op));
  return op.op_number;
}

rt::Reply Answer(const rt::Message& m, KvResultCode code) {
  return rt::Reply{.request_id = m.request_id,
                   .actor = m.dst,
                   .status = rt::Status::kOk,
                   .payload = EncodeResult({.code = code})};
}

struct Fixture {
  Mailbox box;
  CommittedApplier applier{{kShardA, kShardB},
                           [this](rt::Message&& m) { return box.Post(std::move(m)); },
                           [](const std::string& key) { return key.starts_with("a") ? 0u : 1u; }};
  void Write(uint64_t op_number, const std::string& key, uint64_t token = 0) {
    applier.Apply({.code = KvOpCode::kSet, .op_number = op_number, .key = key, .value = "v"},
                  token);
  }
};

TEST(CommittedApplier, StalledWritesArePostedAgainInOpOrderOnceTheMailboxIsEmpty) {
  Fixture f;
  f.Write(1, "a1");
  f.Write(2, "a2");
  f.Write(3, "a3");
  std::vector<rt::Message> m = f.box.WaitFor(3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_FALSE(f.applier.OnReply(Answer(m[0], KvResultCode::kStored)));
  EXPECT_TRUE(f.applier.OnReply(Answer(m[1], KvResultCode::kStalled)));
  // Behind a stalled write a new one waits here rather than being posted.
  f.Write(4, "a4");
  EXPECT_EQ(f.applier.Waiting(0), 2u);
  // Nothing is posted again while op 3's answer (it may be kStalled) is still to come.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(f.box.size(), 3u);
  EXPECT_TRUE(f.applier.OnReply(Answer(m[2], KvResultCode::kStalled)));
  // The stalled one alone first.
  m = f.box.WaitFor(4);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(OpNumberOf(m[3]), 2u);
  EXPECT_EQ(m[3].request_id, m[1].request_id);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(f.box.size(), 4u);
  // Still no room: it waits again, and is tried again.
  EXPECT_TRUE(f.applier.OnReply(Answer(m[3], KvResultCode::kStalled)));
  m = f.box.WaitFor(5);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(OpNumberOf(m[4]), 2u);
  // It went in: the rest follow together, in op order.
  EXPECT_FALSE(f.applier.OnReply(Answer(m[4], KvResultCode::kStored)));
  m = f.box.WaitFor(7);
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(OpNumberOf(m[5]), 3u);
  EXPECT_EQ(OpNumberOf(m[6]), 4u);
  EXPECT_FALSE(f.applier.OnReply(Answer(m[5], KvResultCode::kStored)));
  EXPECT_FALSE(f.applier.OnReply(Answer(m[6], KvResultCode::kStored)));
  EXPECT_EQ(f.applier.Waiting(0), 0u);
  const ApplyStats s = f.applier.stats();
  EXPECT_EQ(s.applied, 4u);
  EXPECT_EQ(s.stalls, 3u);
  EXPECT_EQ(s.reposts, 4u);
  EXPECT_EQ(s.waiting, 0u);
  // Once drained, writes go straight to the shard again.
  f.Write(5, "a5");
  m = f.box.WaitFor(8);
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(OpNumberOf(m[7]), 5u);
}

TEST(CommittedApplier, OneShardStallingDoesNotHoldTheOtherBack) {
  Fixture f;
  f.Write(1, "a1");
  std::vector<rt::Message> m = f.box.WaitFor(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(f.applier.OnReply(Answer(m[0], KvResultCode::kStalled)));
  f.Write(2, "b2");
  m = f.box.WaitFor(3);
  bool b_posted = false;
  for (const rt::Message& msg : m)
    b_posted |= msg.dst == kShardB && OpNumberOf(msg) == 2;
  EXPECT_TRUE(b_posted);
  EXPECT_EQ(f.applier.Waiting(1), 0u);
}

TEST(CommittedApplier, WritesTheHostHoldsAreSkippedAndFlushAllReachesEveryShard) {
  Fixture f;
  f.applier.SetCovered({10, 0});
  f.Write(7, "a7");  // shard 0 holds up to op 10 on the host
  f.Write(8, "b8");  // shard 1 holds nothing
  f.applier.Apply({.code = KvOpCode::kFlushAll, .op_number = 11}, 0x5000);
  std::vector<rt::Message> m = f.box.WaitFor(3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].dst, kShardB);
  EXPECT_EQ(OpNumberOf(m[0]), 8u);
  EXPECT_EQ(m[1].dst, kShardA);
  EXPECT_EQ(m[1].request_id, 0x5000u);
  EXPECT_EQ(m[2].dst, kShardB);
  EXPECT_EQ(m[2].request_id, 0x5001u);
  EXPECT_EQ(f.applier.stats().skipped, 1u);
  // Replies that are not for a committed write pass through untouched.
  EXPECT_FALSE(f.applier.OnReply(rt::Reply{.request_id = 99, .actor = kShardA}));
  EXPECT_FALSE(f.applier.OnReply(rt::Reply{.request_id = 99, .actor = 1234}));
}

}  // namespace
}  // namespace wave::kv
