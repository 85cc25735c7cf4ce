#include "memtable_migration.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "kv/store/kv_actor.h"
#include "runtime/host/host_runtime.h"
#include "runtime/migration/shm_link.h"
#include "runtime/runtime.h"

namespace wave::bench {
namespace {

constexpr size_t kValueBytes = 4000;

std::string ValueOf(uint64_t k) {
  std::string v(kValueBytes, static_cast<char>('a' + k % 26));
  std::string tag = std::to_string(k);
  v.replace(0, tag.size(), tag);
  return v;
}

}  // namespace

MemtableMigrationResult RunMemtableMigration(uint64_t table_bytes) {
  MemtableMigrationResult res;
  rt::ActorRegistry reg;
  reg.register_type(kv::MemtableActorType());
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<kv::KvResult>> replies;
  uint64_t count = 0;
  auto sink = [&](rt::Reply&& r) {
    kv::KvResult k;
    if (r.status != rt::Status::kOk || !kv::DecodeResult(r.payload, &k))
      k.code = kv::KvResultCode::kBadRequest;
    std::lock_guard lock(mu);
    replies[r.request_id].push_back(std::move(k));
    ++count;
    cv.notify_all();
  };
  auto wait_for = [&](uint64_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return count >= n; });
  };
  auto link = rt::mig::ShmLink::create(1 << 20, table_bytes * 2 + (64 << 20));
  if (!link)
    return res;
  rt::HostRuntime host(reg, link->open(rt::mig::LinkSide::kHost));
  rt::RuntimeConfig cfg;
  cfg.sched.cores = 2;
  cfg.migration = false;
  rt::Runtime nic(cfg, reg, sink);
  nic.attach_host_link(link->open(rt::mig::LinkSide::kNic));
  if (!host.start() || !nic.start())
    return res;
  rt::ActorId shard;
  if (nic.create_actor(
          {.type = kv::kMemtableActorType, .name = "kv.shard0", .mem_cap_bytes = table_bytes * 2},
          &shard) != rt::Status::kOk)
    return res;
  const uint64_t keys = table_bytes / (kValueBytes + 128);
  uint64_t id = 0;
  for (uint64_t k = 0; k < keys; ++k) {
    nic.post(rt::Message{
        .request_id = id++,
        .dst = shard,
        .kind = kv::kKvOpKind,
        .payload = kv::EncodeOp(
            {.code = kv::KvOpCode::kSet, .key = "k" + std::to_string(k), .value = ValueOf(k)})});
  }
  if (!wait_for(id))
    return res;
  const uint64_t first_get = id;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> next{first_get};
  std::thread client([&] {
    while (!stop) {
      uint64_t rid = next++;
      uint64_t k = rid % keys;
      nic.post(rt::Message{
          .request_id = rid,
          .dst = shard,
          .kind = kv::kKvOpKind,
          .payload = kv::EncodeOp({.code = kv::KvOpCode::kGet, .key = "k" + std::to_string(k)})});
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  rt::MigrationRecord to, back;
  rt::Status s1 = nic.migrate_to_host(shard, &to);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  rt::Status s2 = nic.migrate_from_host(shard, &back);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  client.join();
  const uint64_t last = next.load();
  wait_for(last);
  res.ok = s1 == rt::Status::kOk && s2 == rt::Status::kOk && to.ok && back.ok;
  res.bytes = to.bytes;
  res.objects = to.objects;
  res.to_host_ms = to.total_ns() / 1e6;
  res.back_ms = back.total_ns() / 1e6;
  std::unique_lock lock(mu);
  for (uint64_t rid = first_get; rid < last; ++rid) {
    ++res.requests;
    auto it = replies.find(rid);
    if (it == replies.end() || it->second.size() != 1)
      continue;
    ++res.answered_once;
    const kv::KvResult& r = it->second[0];
    if (r.code == kv::KvResultCode::kHit && r.value == ValueOf(rid % keys))
      ++res.values_intact;
  }
  lock.unlock();
  nic.shutdown(rt::ShutdownMode::kDrain);
  host.stop();
  return res;
}

}  // namespace wave::bench
