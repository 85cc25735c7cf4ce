// The memtable as an actor of the NIC runtime: requests through post(), and a shard migrated
// to the host runtime and back under load with every request answered once and every value
// intact.
#include "kv/store/kv_actor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/host/host_runtime.h"
#include "runtime/migration/shm_link.h"
#include "runtime/runtime.h"

namespace wave::kv {
namespace {

class Results {
 public:
  rt::ReplySink sink() {
    return [this](rt::Reply&& r) {
      std::lock_guard lock(mu_);
      KvResult res;
      bool ok = r.status == rt::Status::kOk && DecodeResult(r.payload, &res);
      auto& entry = by_id_[r.request_id];
      entry.push_back(ok ? res : KvResult{});
      if (r.on_host)
        ++on_host_;
      ++count_;
      cv_.notify_all();
    };
  }
  bool wait_for(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return count_ >= n; });
  }
  std::map<uint64_t, std::vector<KvResult>> all() {
    std::lock_guard lock(mu_);
    return by_id_;
  }
  size_t on_host() {
    std::lock_guard lock(mu_);
    return on_host_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::vector<KvResult>> by_id_;
  size_t count_ = 0;
  size_t on_host_ = 0;
};

rt::Message OpMessage(uint64_t id, rt::ActorId dst, const KvOp& op) {
  return rt::Message{.request_id = id, .dst = dst, .kind = kKvOpKind, .payload = EncodeOp(op)};
}

TEST(KvActor, ServesOpsAndRefusesGarbage) {
  rt::ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(MemtableActorType()));
  Results results;
  rt::RuntimeConfig cfg;
  cfg.sched.cores = 2;
  cfg.migration = false;
  rt::Runtime nic(cfg, reg, results.sink());
  ASSERT_TRUE(nic.start());
  rt::ActorId shard;
  ASSERT_EQ(nic.create_actor({.type = kMemtableActorType, .name = "kv0"}, &shard), rt::Status::kOk);
  nic.post(OpMessage(1, shard, {.code = KvOpCode::kSet, .flags = 3, .key = "a", .value = "b"}));
  nic.post(OpMessage(2, shard, {.code = KvOpCode::kGet, .key = "a"}));
  nic.post(rt::Message{.request_id = 3,
                       .dst = shard,
                       .kind = kKvOpKind,
                       .payload = std::vector<std::byte>(5, std::byte{0xa7})});
  nic.post(rt::Message{.request_id = 4, .dst = shard, .kind = 1});
  ASSERT_TRUE(results.wait_for(4));
  auto all = results.all();
  EXPECT_EQ(all[1][0].code, KvResultCode::kStored);
  EXPECT_EQ(all[2][0].code, KvResultCode::kHit);
  EXPECT_EQ(all[2][0].value, "b");
  EXPECT_EQ(all[2][0].flags, 3u);
  EXPECT_EQ(all[3][0].code, KvResultCode::kBadRequest);
  EXPECT_EQ(all[4][0].code, KvResultCode::kBadRequest);
  nic.shutdown(rt::ShutdownMode::kDrain);
}

// Writes and reads race with migrations both ways; the last write of every key must be what a
// read after the end returns, and every request must be answered exactly once.
TEST(KvActor, MigrationUnderLoadKeepsEveryValueAndAnswersOnce) {
  rt::ActorRegistry reg;
  ASSERT_TRUE(reg.register_type(MemtableActorType()));
  Results results;
  auto link = rt::mig::ShmLink::create(1 << 20, 64 << 20);
  ASSERT_TRUE(link);
  rt::HostRuntime host(reg, link->open(rt::mig::LinkSide::kHost));
  rt::RuntimeConfig cfg;
  cfg.sched.cores = 2;
  cfg.migration = false;
  rt::Runtime nic(cfg, reg, results.sink());
  nic.attach_host_link(link->open(rt::mig::LinkSide::kNic));
  ASSERT_TRUE(host.start());
  ASSERT_TRUE(nic.start());
  rt::ActorId shard;
  ASSERT_EQ(nic.create_actor({.type = kMemtableActorType, .name = "kv0", .mem_cap_bytes = 48 << 20},
                             &shard),
            rt::Status::kOk);

  constexpr uint64_t kKeys = 2000;
  constexpr uint64_t kRequests = 12000;
  std::atomic<bool> done{false};
  std::thread client([&] {
    for (uint64_t i = 0; i < kRequests; ++i) {
      uint64_t k = i % kKeys;
      KvOp op = i % 3 == 2
                    ? KvOp{.code = KvOpCode::kGet, .key = "key:" + std::to_string(k)}
                    : KvOp{.code = KvOpCode::kSet,
                           .key = "key:" + std::to_string(k),
                           .value = std::string(200 + k % 300, 'a' + k % 26) + std::to_string(i)};
      ASSERT_EQ(nic.post(OpMessage(i, shard, op)), rt::Status::kOk);
      if (i % 128 == 0)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    done = true;
  });
  int trips = 0;
  while (!done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
    rt::MigrationRecord rec;
    ASSERT_EQ(nic.migrate_to_host(shard, &rec), rt::Status::kOk);
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
    ASSERT_EQ(nic.migrate_from_host(shard, &rec), rt::Status::kOk);
    ++trips;
  }
  client.join();
  ASSERT_TRUE(results.wait_for(kRequests));
  EXPECT_GE(trips, 1);
  EXPECT_GT(results.on_host(), 0u) << "no request ran on the host";

  // Every request answered exactly once, every write stored.
  auto all = results.all();
  ASSERT_EQ(all.size(), kRequests);
  for (auto& [id, rs] : all) {
    ASSERT_EQ(rs.size(), 1u) << id;
    if (id % 3 != 2) {
      ASSERT_EQ(rs[0].code, KvResultCode::kStored) << id;
    }
  }
  // Each read saw the key's last write before it (one client, one serial shard): the moves
  // neither reorder requests nor lose a write's effect.
  int stale_reads = 0;
  for (uint64_t i = 2; i < kRequests; i += 3) {
    const uint64_t k = i % kKeys;
    int64_t last = -1;
    for (int64_t j = static_cast<int64_t>(i) - static_cast<int64_t>(kKeys); j >= 0;
         j -= static_cast<int64_t>(kKeys)) {
      if (j % 3 != 2) {
        last = j;
        break;
      }
    }
    const KvResult& g = all[i][0];
    const std::string want = std::string(200 + k % 300, 'a' + k % 26) + std::to_string(last);
    const bool ok =
        last < 0 ? g.code == KvResultCode::kMiss : g.code == KvResultCode::kHit && g.value == want;
    if (!ok && stale_reads++ < 5)
      ADD_FAILURE() << "read " << i << " of key " << k << " wanted the write of request " << last
                    << ", got code " << static_cast<int>(g.code) << " '"
                    << g.value.substr(g.value.size() > 8 ? g.value.size() - 8 : 0) << "'"
                    << (results.all()[i].size() ? "" : "");
  }
  EXPECT_EQ(stale_reads, 0);
  // The final value of each key is its last write, after all the moves.
  for (uint64_t k = 0; k < kKeys; ++k) {
    uint64_t last = 0;
    for (uint64_t i = k; i < kRequests; i += kKeys) {
      if (i % 3 != 2)
        last = i;
    }
    nic.post(OpMessage(kRequests + k, shard,
                       {.code = KvOpCode::kGet, .key = "key:" + std::to_string(k)}));
    ASSERT_TRUE(results.wait_for(kRequests + k + 1));
    KvResult g = results.all()[kRequests + k][0];
    ASSERT_EQ(g.code, KvResultCode::kHit) << k;
    EXPECT_EQ(g.value, std::string(200 + k % 300, 'a' + k % 26) + std::to_string(last)) << k;
  }
  nic.shutdown(rt::ShutdownMode::kDrain);
  host.stop();
}

}  // namespace
}  // namespace wave::kv
