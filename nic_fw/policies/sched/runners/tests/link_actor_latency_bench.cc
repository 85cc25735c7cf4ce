// Decision latency over a libwave shared-memory link, host event to decision in the ring,
// with the agent in a polling thread (LinkAgent, wave-nicd --sched-agent thread) and as an
// actor of the NIC runtime fed by the link's poller (LinkActorPump, --sched-agent actor).
// Both in the same run, alternating rounds, so the machine's noise hits both alike.
//
// One host CPU, one task: the host sends RUNNABLE, waits for the decision in the ring,
// reports COMMITTED and BLOCKED, and goes again. The time from the RUNNABLE send to the
// decision read is one sample.
//   link_actor_latency_bench [--rounds N] [--iters N] [--json FILE]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/runners/agent_actor.h"
#include "policies/sched/runners/link_actor_pump.h"
#include "policies/sched/runners/link_agent.h"
#include "wave/link.h"
#include "wave_sched_link.h"

namespace wave::agents {
namespace {

using Clock = std::chrono::steady_clock;

wave_task_event event(uint32_t tid, uint64_t seq, uint64_t time_ns) {
  return testing::make_event(tid, 0, seq, time_ns, 1);
}

struct Result {
  std::vector<double> ns;
  bool ok = true;
};

// The host's side of the ping-pong; `nic_poll` runs the NIC side in another thread.
Result run(HostLink& host, uint32_t iters, const std::function<void()>& nic_poll) {
  std::atomic<bool> stop{false};
  std::thread nic([&] {
    while (!stop.load(std::memory_order_relaxed))
      nic_poll();
  });
  Result r;
  r.ns.reserve(iters);
  MessageProducer& to_nic = host.messages();
  uint64_t seq = 1, t = 1;
  to_nic.SendEvent(WAVE_MSG_TASK_NEW, event(1, seq++, t++));
  for (uint32_t i = 0; i < iters && r.ok; i++) {
    const auto t0 = Clock::now();
    to_nic.SendEvent(WAVE_MSG_TASK_RUNNABLE, event(1, seq++, t++));
    wave_decision d{};
    uint32_t n = 0;
    for (;;) {
      std::span<wave_decision> one(&d, 1);
      n = host.decisions().PollRing(one);
      if (n != 0 || Clock::now() - t0 > std::chrono::seconds(2))
        break;
    }
    const auto t1 = Clock::now();
    if (n == 0 || d.tid != 1) {
      r.ok = false;
      break;
    }
    r.ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    to_nic.SendOutcome(testing::make_outcome(d, WAVE_TXN_COMMITTED));
    to_nic.SendEvent(WAVE_MSG_TASK_BLOCKED, event(1, seq++, t++));
  }
  stop = true;
  nic.join();
  return r;
}

double pct(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Side {
  std::unique_ptr<Device> host_dev, nic_dev;
  std::unique_ptr<HostLink> host;
  std::unique_ptr<NicLink> nic;
  bool open(const std::string& name) {
    LinkConfig lc;
    lc.nr_cpus = 1;
    lc.dma_slots = 0;
    auto h = Device::Open("shm:" + name, Role::kHost);
    if (!h.ok())
      return false;
    host_dev = std::move(h.value());
    auto hl = HostLink::Create(*host_dev, lc);
    if (!hl.ok())
      return false;
    host = std::move(hl.value());
    auto n = Device::Open("shm:" + name, Role::kNic);
    if (!n.ok())
      return false;
    nic_dev = std::move(n.value());
    auto nl = NicLink::Attach(*nic_dev);
    if (!nl.ok())
      return false;
    nic = std::move(nl.value());
    return true;
  }
};

Result thread_mode(const std::string& name, uint32_t iters) {
  Side s;
  if (!s.open(name))
    return Result{{}, false};
  AgentConfig cfg;
  cfg.nr_cpus = 1;
  cfg.epoch = link_agent_epoch(*s.nic);
  FifoPolicy agent(cfg);
  LinkAgent pump(*s.nic, agent);
  return run(*s.host, iters, [&] { pump.poll_once(); });
}

Result actor_mode(const std::string& name, uint32_t iters, uint64_t core_spin_ns) {
  Side s;
  if (!s.open(name))
    return Result{{}, false};
  rt::ActorRegistry reg;
  AgentActors actors(AgentActorConfig{});
  actors.register_types(reg);
  std::atomic<LinkActorPump*> pump_ptr{nullptr};
  rt::RuntimeConfig rc;
  rc.sched.cores = 1;              // wave-nicd's default runtime
  rc.core_spin_ns = core_spin_ns;  // wave-nicd: 100 us with the agent actor
  rc.migration = false;
  rt::Runtime runtime(rc, reg, [&](rt::Reply&& r) {
    if (LinkActorPump* p = pump_ptr.load())
      p->on_reply(std::move(r));
  });
  if (!runtime.start())
    return Result{{}, false};
  AgentConfig cfg;
  cfg.nr_cpus = 1;
  cfg.epoch = link_agent_epoch(*s.nic);
  rt::ActorId id;
  if (actors.create(runtime, WAVE_SCHED_POLICY_FIFO, "fifo", cfg, ShinjukuConfig{}, &id) !=
      rt::Status::kOk)
    return Result{{}, false};
  LinkActorPump pump(*s.nic, runtime, id, cfg.epoch);
  pump_ptr = &pump;
  Result r = run(*s.host, iters, [&] { pump.poll_once(); });
  pump.drain(std::chrono::seconds(1));
  runtime.shutdown(rt::ShutdownMode::kDrain);
  pump_ptr = nullptr;
  return r;
}

int Main(int argc, char** argv) {
  uint32_t rounds = 3, iters = 20000;
  std::string json;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0)
      rounds = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    else if (std::strcmp(argv[i], "--iters") == 0)
      iters = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    else if (std::strcmp(argv[i], "--json") == 0)
      json = argv[i + 1];
  }
  std::vector<double> th, ac, sl;
  for (uint32_t k = 0; k < rounds; k++) {
    const std::string base = "sched-lat-" + std::to_string(getpid()) + "-" + std::to_string(k);
    Result a = thread_mode(base + "t", iters);
    Result b = actor_mode(base + "a", iters, 100'000);
    Result c = actor_mode(base + "s", iters, 0);  // the runtime's default: cores sleep at once
    if (!a.ok || !b.ok || !c.ok) {
      std::fprintf(stderr, "link_actor_latency_bench: a decision did not come back\n");
      return 1;
    }
    th.insert(th.end(), a.ns.begin(), a.ns.end());
    ac.insert(ac.end(), b.ns.begin(), b.ns.end());
    sl.insert(sl.end(), c.ns.begin(), c.ns.end());
  }
  char out[768];
  std::snprintf(out, sizeof(out),
                "{\"samples\":%zu,\"thread_p10_ns\":%.0f,\"thread_p50_ns\":%.0f,"
                "\"thread_p99_ns\":%.0f,\"actor_p10_ns\":%.0f,\"actor_p50_ns\":%.0f,"
                "\"actor_p99_ns\":%.0f,\"actor_sleeping_core_p50_ns\":%.0f,"
                "\"actor_sleeping_core_p99_ns\":%.0f,\"actor_vs_thread_p50\":%.2f,"
                "\"actor_vs_thread_p99\":%.2f}",
                th.size(), pct(th, 0.1), pct(th, 0.5), pct(th, 0.99), pct(ac, 0.1), pct(ac, 0.5),
                pct(ac, 0.99), pct(sl, 0.5), pct(sl, 0.99), pct(ac, 0.5) / pct(th, 0.5),
                pct(ac, 0.99) / pct(th, 0.99));
  std::printf("%s\n", out);
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (f != nullptr) {
      std::fprintf(f, "%s\n", out);
      std::fclose(f);
    }
  }
  return 0;
}

}  // namespace
}  // namespace wave::agents

int main(int argc, char** argv) {
  return wave::agents::Main(argc, argv);
}
