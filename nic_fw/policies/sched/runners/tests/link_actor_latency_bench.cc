// Decision latency over a libwave shared-memory link, host event to decision in the ring,
// with the agent in three places:
//   thread   in a polling thread (LinkAgent, wave-nicd --sched-agent thread)
//   inline   an actor of the NIC runtime whose handler the link's poller runs itself on an
//            inline core (LinkActorPump, run to completion: --sched-agent actor, the default)
//   handoff  the same actor, each batch handed to a runtime core that polls 100 us before it
//            sleeps (--sched-agent handoff)
// All three in the same run, in interleaved rounds, so the machine's noise hits them alike.
// Per round: the p50 of each mode and the ratios inline/thread and handoff/thread; the
// reported actor_vs_thread_p50 is the median of the rounds' inline/thread ratios.
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

Result actor_mode(const std::string& name, uint32_t iters, bool run_inline) {
  Side s;
  if (!s.open(name))
    return Result{{}, false};
  rt::ActorRegistry reg;
  AgentActors actors(AgentActorConfig{});
  actors.register_types(reg);
  std::atomic<LinkActorPump*> pump_ptr{nullptr};
  rt::RuntimeConfig rc;
  rc.sched.cores = 1;  // wave-nicd's default runtime
  // wave-nicd: the hand-over mode's core polls 100 us; run to completion needs no spinning core.
  rc.core_spin_ns = run_inline ? 0 : 100'000;
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
  LinkActorPumpConfig pc;
  pc.run_inline = run_inline;
  Result r;
  {
    LinkActorPump pump(*s.nic, runtime, id, cfg.epoch, pc);
    pump_ptr = &pump;
    r = run(*s.host, iters, [&] { pump.poll_once(); });
    pump.drain(std::chrono::seconds(1));
    if (run_inline && pump.stats().inline_runs == 0)
      r.ok = false;  // the mode under test did not run
    pump_ptr = nullptr;
  }
  runtime.shutdown(rt::ShutdownMode::kDrain);
  return r;
}

double median(std::vector<double> v) {
  return pct(std::move(v), 0.5);
}

int Main(int argc, char** argv) {
  uint32_t rounds = 5, iters = 20000;
  std::string json;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0)
      rounds = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    else if (std::strcmp(argv[i], "--iters") == 0)
      iters = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    else if (std::strcmp(argv[i], "--json") == 0)
      json = argv[i + 1];
  }
  rounds = std::max<uint32_t>(rounds, 1);
  std::vector<double> th, in, ho;          // every sample, per mode
  std::vector<double> in_ratio, ho_ratio;  // per round: p50 of the mode / p50 of thread
  std::string per_round;
  for (uint32_t k = 0; k < rounds; k++) {
    const std::string base = "sched-lat-" + std::to_string(getpid()) + "-" + std::to_string(k);
    // Rotate the order, so that no mode always runs first (or right after another).
    Result res[3];
    for (uint32_t j = 0; j < 3; j++) {
      const uint32_t mode = (j + k) % 3;
      if (mode == 0)
        res[0] = thread_mode(base + "t", iters);
      else if (mode == 1)
        res[1] = actor_mode(base + "i", iters, true);
      else
        res[2] = actor_mode(base + "h", iters, false);
    }
    if (!res[0].ok || !res[1].ok || !res[2].ok) {
      std::fprintf(stderr, "link_actor_latency_bench: a decision did not come back\n");
      return 1;
    }
    const double t50 = pct(res[0].ns, 0.5), i50 = pct(res[1].ns, 0.5), h50 = pct(res[2].ns, 0.5);
    in_ratio.push_back(i50 / t50);
    ho_ratio.push_back(h50 / t50);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "%s{\"thread_p50_ns\":%.0f,\"inline_p50_ns\":%.0f,\"handoff_p50_ns\":%.0f,"
                  "\"inline_vs_thread\":%.3f,\"handoff_vs_thread\":%.3f}",
                  k == 0 ? "" : ",", t50, i50, h50, i50 / t50, h50 / t50);
    per_round += line;
    std::fprintf(stderr, "round %u: thread %.0f ns, inline %.0f ns, handoff %.0f ns p50\n", k, t50,
                 i50, h50);
    th.insert(th.end(), res[0].ns.begin(), res[0].ns.end());
    in.insert(in.end(), res[1].ns.begin(), res[1].ns.end());
    ho.insert(ho.end(), res[2].ns.begin(), res[2].ns.end());
  }
  char out[1024];
  std::snprintf(out, sizeof(out),
                "{\"samples\":%zu,\"rounds\":%u,\"thread_p10_ns\":%.0f,\"thread_p50_ns\":%.0f,"
                "\"thread_p99_ns\":%.0f,\"actor_p10_ns\":%.0f,\"actor_p50_ns\":%.0f,"
                "\"actor_p99_ns\":%.0f,\"handoff_p10_ns\":%.0f,\"handoff_p50_ns\":%.0f,"
                "\"handoff_p99_ns\":%.0f,\"actor_vs_thread_p50\":%.3f,"
                "\"actor_vs_thread_p99\":%.3f,\"handoff_vs_thread_p50\":%.3f,",
                th.size(), rounds, pct(th, 0.1), pct(th, 0.5), pct(th, 0.99), pct(in, 0.1),
                pct(in, 0.5), pct(in, 0.99), pct(ho, 0.1), pct(ho, 0.5), pct(ho, 0.99),
                median(in_ratio), pct(in, 0.99) / pct(th, 0.99), median(ho_ratio));
  const std::string all = std::string(out) + "\"per_round\":[" + per_round + "]}";
  std::printf("%s\n", all.c_str());
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (f != nullptr) {
      std::fprintf(f, "%s\n", all.c_str());
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
