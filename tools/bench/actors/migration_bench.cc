#include "migration_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/host/host_runtime.h"
#include "runtime/migration/device_window_link.h"
#include "runtime/migration/shm_link.h"
#include "runtime/runtime.h"

namespace wave::bench {
namespace {

using rt::ActorContext;
using rt::Message;
using rt::ObjectId;
using rt::Status;

constexpr uint32_t kFill = 0;
constexpr uint32_t kChecksum = 1;

// "memtable": root = [count, id0, id1, ...]; kFill allocates `count` objects of the size in the
// payload and writes a pattern; kChecksum sums every byte.
rt::ActorType memtable_type() {
  rt::ActorType t;
  t.name = "memtable";
  t.handler = [](ActorContext& ctx, const Message& m) {
    uint64_t count = 0;
    if (m.kind == kFill) {
      uint64_t args[2];  // objects, object size
      if (m.payload.size() != sizeof args)
        return ctx.reply({}, Status::kInvalid);
      std::memcpy(args, m.payload.data(), sizeof args);
      for (uint64_t i = 0; i < args[0]; ++i) {
        ObjectId id;
        Status s = ctx.dmo_malloc(args[1], &id);
        if (s != Status::kOk)
          return ctx.reply({}, s);
        ctx.dmo_memset(id, 0, static_cast<uint8_t>(i * 7 + 1), args[1]);
        ctx.store(ctx.root(), 8 * (i + 1), id);
      }
      ctx.store(ctx.root(), 0, args[0]);
      return ctx.reply({});
    }
    ctx.load(ctx.root(), 0, &count);
    uint64_t sum = 0;
    std::vector<std::byte> buf(1 << 16);
    for (uint64_t i = 0; i < count; ++i) {
      ObjectId id;
      uint64_t size = 0;
      ctx.load(ctx.root(), 8 * (i + 1), &id);
      if (ctx.dmo_size(id, &size) != Status::kOk)
        return ctx.reply({}, Status::kInvalid);
      for (uint64_t off = 0; off < size; off += buf.size()) {
        const uint64_t n = std::min<uint64_t>(buf.size(), size - off);
        ctx.dmo_read(id, off, std::span(buf).first(n));
        for (uint64_t k = 0; k < n; ++k)
          sum += static_cast<uint8_t>(buf[k]);
      }
    }
    std::vector<std::byte> out(sizeof sum);
    std::memcpy(out.data(), &sum, sizeof sum);
    ctx.reply(out);
  };
  return t;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

PhaseTimes medians(const std::vector<rt::MigrationRecord>& recs) {
  std::vector<double> stop, ship, rec, replay, total, cleanup;
  for (const auto& r : recs) {
    stop.push_back(r.stop_ns / 1e6);
    ship.push_back(r.ship_ns / 1e6);
    rec.push_back(r.recreate_ns / 1e6);
    replay.push_back(r.replay_ns / 1e6);
    total.push_back(r.total_ns() / 1e6);
    cleanup.push_back(r.cleanup_ns / 1e6);
  }
  return {median(stop), median(ship), median(rec), median(replay), median(total), median(cleanup)};
}

// Posts one request and waits for its reply (the bench's own tiny client).
struct Client {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, rt::Reply> replies;
  rt::ReplySink sink() {
    return [this](rt::Reply&& r) {
      std::lock_guard lock(mu);
      replies[r.request_id] = std::move(r);
      cv.notify_all();
    };
  }
  std::optional<rt::Reply> call(rt::Runtime& nic, Message m) {
    const uint64_t id = m.request_id;
    nic.post(std::move(m));
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return replies.count(id) != 0; })) {
      return std::nullopt;
    }
    return replies[id];
  }
};

}  // namespace

MigrationBenchResult run_migration_bench(uint64_t bytes, uint32_t object_bytes, int reps) {
  MigrationBenchResult res;
  res.repetitions = reps;
  rt::ActorRegistry reg;
  reg.register_type(memtable_type());
  // Frames go through the link's rings; the DMA window (the state once, plus room for objects
  // rounded to pages) is the host memory of a libwave shm device, which each side opens.
  const uint64_t window_bytes = 2 * bytes + (16 << 20);
  auto link = rt::mig::ShmLink::create(8 << 20);
  if (!link) {
    res.error = "cannot create the link";
    return res;
  }
  const std::string device = "shm:actors-bench-" + std::to_string(getpid());
  std::string why;
  auto host_link = rt::mig::DeviceWindowLink::open(link->open(rt::mig::LinkSide::kHost), device,
                                                   rt::mig::LinkSide::kHost, window_bytes, &why);
  auto nic_link = host_link ? rt::mig::DeviceWindowLink::open(link->open(rt::mig::LinkSide::kNic),
                                                              device, rt::mig::LinkSide::kNic,
                                                              window_bytes, &why)
                            : nullptr;
  if (!host_link || !nic_link) {
    res.error = "cannot open the DMA window: " + why;
    return res;
  }
  Client client;
  rt::RuntimeConfig cfg;
  cfg.sched.cores = 2;
  cfg.migration = false;
  // Filling and checksumming 32 MB are deliberately long requests: keep the watchdog away.
  cfg.watchdog_ns = 30'000'000'000;
  rt::HostRuntime host(reg, std::move(host_link));
  rt::Runtime nic(cfg, reg, client.sink());
  nic.attach_host_link(std::move(nic_link));
  if (!host.start() || !nic.start()) {
    res.error = "cannot start the runtimes";
    return res;
  }
  const uint64_t objects = bytes / object_bytes;
  rt::ActorSpec spec;
  spec.type = "memtable";
  spec.name = "memtable";
  spec.root_bytes = 8 * (objects + 1);
  spec.mem_cap_bytes = bytes + spec.root_bytes + 4096;
  rt::ActorId id;
  if (nic.create_actor(spec, &id) != Status::kOk) {
    res.error = "cannot create the actor";
    return res;
  }
  uint64_t rid = 1;
  Message fill;
  fill.request_id = rid++;
  fill.dst = id;
  fill.kind = kFill;
  const uint64_t args[2] = {objects, object_bytes};
  fill.payload.resize(sizeof args);
  std::memcpy(fill.payload.data(), args, sizeof args);
  auto r = client.call(nic, std::move(fill));
  if (!r || r->status != Status::kOk) {
    res.error = std::string("fill failed: ") + (r ? rt::status_name(r->status) : "no reply");
    return res;
  }
  auto checksum = [&]() -> std::optional<std::vector<std::byte>> {
    Message m;
    m.request_id = rid++;
    m.dst = id;
    m.kind = kChecksum;
    auto rep = client.call(nic, std::move(m));
    if (!rep || rep->status != Status::kOk) {
      std::fprintf(stderr, "checksum request: %s\n",
                   rep ? rt::status_name(rep->status) : "no reply in 30 s");
      return std::nullopt;
    }
    return rep->payload;
  };
  const auto reference = checksum();
  bool intact = reference.has_value();
  std::vector<rt::MigrationRecord> out, back;
  for (int i = 0; i < reps && intact; ++i) {
    rt::MigrationRecord a, b;
    if (nic.migrate_to_host(id, &a) != Status::kOk) {
      res.error = "migration to the host failed";
      break;
    }
    out.push_back(a);
    res.bytes = a.bytes;
    res.objects = static_cast<uint32_t>(a.objects);
    if (intact && checksum() != reference) {  // computed on the host
      intact = false;
      res.error = "state differs on the host after trip " + std::to_string(i);
    }
    if (nic.migrate_from_host(id, &b) != Status::kOk) {
      res.error = "migration back failed";
      break;
    }
    back.push_back(b);
    if (intact && checksum() != reference) {  // on the NIC again
      intact = false;
      res.error = "state differs on the NIC after trip " + std::to_string(i);
    }
  }
  res.state_intact = intact && static_cast<int>(out.size()) == reps;
  res.to_host = medians(out);
  res.to_nic = medians(back);
  if (!out.empty()) {
    res.to_host_min_ms = res.to_host_max_ms = res.to_host_first_ms = out[0].total_ns() / 1e6;
    for (const auto& m : out) {
      res.to_host_min_ms = std::min(res.to_host_min_ms, m.total_ns() / 1e6);
      res.to_host_max_ms = std::max(res.to_host_max_ms, m.total_ns() / 1e6);
    }
  }
  nic.shutdown(rt::ShutdownMode::kDrain);
  host.stop();
  return res;
}

}  // namespace wave::bench
