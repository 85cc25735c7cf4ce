#include "ablation.h"

#include <atomic>
#include <deque>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "wave/link.h"
#include "wave/txn.h"

namespace wave::bench {
namespace {

constexpr uint32_t kCpus = 4;
constexpr uint32_t kTasks = 32;
constexpr uint32_t kPrefetchDistance = 2;
constexpr uint32_t kSwitchWorkNs = 300;  // the mechanism's own work per decision

wave_task_event Event(uint32_t tid, uint32_t cpu, uint64_t seq) {
  wave_task_event e{};
  e.tid = tid;
  e.cpu = cpu;
  e.task_seq = seq;
  return e;
}

// The NIC side: FIFO run queue; answers CPU_IDLE with a ring decision, or keeps prestaged
// slots full (restaging a CPU once the host reports the outcome of its previous decision).
void Agent(NicLink& nic, bool prestage, const std::atomic<bool>& stop) {
  wave::PinCurrentThreadTo(1);
  std::deque<uint32_t> runq;
  std::unordered_map<uint32_t, uint64_t> seen_seq;
  std::vector<bool> staged(kCpus, false);
  std::deque<uint32_t> waiting_cpus;  // CPUs that asked while the run queue was empty
  uint64_t txn = 0;
  auto decide = [&](uint32_t cpu) {
    if (runq.empty())
      return false;
    const uint32_t tid = runq.front();
    runq.pop_front();
    wave_decision d{};
    d.txn_id = ++txn;
    d.tid = tid;
    d.cpu = cpu;
    d.task_seq = seen_seq[tid];
    d.agent_epoch = 1;
    if (prestage) {
      d.flags = WAVE_DECISION_F_PRESTAGED;
      nic.decisions().Prestage(cpu, d);
    } else {
      while (!nic.decisions().Push(d) && !stop.load(std::memory_order_relaxed)) {
      }
    }
    return true;
  };
  Message m[32];
  while (!stop.load(std::memory_order_relaxed)) {
    const uint32_t n = nic.messages().Poll(m);
    for (uint32_t i = 0; i < n; i++) {
      switch (m[i].type) {
        case WAVE_MSG_TASK_NEW:
        case WAVE_MSG_TASK_RUNNABLE:
          seen_seq[m[i].event.tid] = m[i].event.task_seq;
          runq.push_back(m[i].event.tid);
          break;
        case WAVE_MSG_CPU_IDLE:
          if (m[i].event.cpu < kCpus)
            waiting_cpus.push_back(m[i].event.cpu);
          break;
        case WAVE_MSG_TXN_OUTCOME:
          if (prestage && m[i].outcome.cpu < kCpus)
            staged[m[i].outcome.cpu] = false;
          break;
        default:
          break;
      }
    }
    while (!waiting_cpus.empty() && decide(waiting_cpus.front()))
      waiting_cpus.pop_front();
    if (prestage) {
      for (uint32_t c = 0; c < kCpus; c++) {
        if (!staged[c] && decide(c))
          staged[c] = true;
      }
    }
  }
}

}  // namespace

const char* MitigationName(Mitigation mode) {
  switch (mode) {
    case Mitigation::kNone:
      return "no_mitigation";
    case Mitigation::kWcWt:
      return "wc_wt";
    case Mitigation::kPrestage:
      return "prestage_prefetch";
  }
  return "?";
}

AblationResult RunAblation(Mitigation mode, const LinkModel& model, uint32_t decisions,
                           const std::string& shm_name) {
  AblationResult r;
  auto host_dev = Device::Open("shm:" + shm_name, Role::kHost);
  if (!host_dev.ok())
    return AblationResult{0, 0, 0, 0, 0, false};
  LinkConfig cfg;
  cfg.nr_cpus = kCpus;
  cfg.dma_slots = 0;
  cfg.cache_mode = mode == Mitigation::kNone ? WAVE_CACHE_UC : WAVE_CACHE_DEFAULT;
  cfg.model = &model;
  auto host = HostLink::Create(*host_dev.value(), cfg);
  auto nic_dev = Device::Open("shm:" + shm_name, Role::kNic);
  if (!host.ok() || !nic_dev.ok())
    return AblationResult{0, 0, 0, 0, 0, false};
  auto nic = NicLink::Attach(*nic_dev.value());
  if (!nic.ok())
    return AblationResult{0, 0, 0, 0, 0, false};
  const bool prestage = mode == Mitigation::kPrestage;

  std::atomic<bool> stop{false};
  std::thread agent([&] { Agent(*nic.value(), prestage, stop); });
  wave::PinCurrentThreadTo(0);
  HostLink& h = *host.value();
  TxnManager txn(kCpus);
  for (uint32_t t = 1; t <= kTasks; t++) {
    while (!h.messages().SendEvent(WAVE_MSG_TASK_NEW,
                                   Event(t, 0, txn.OnTaskEvent(t, WAVE_MSG_TASK_NEW)))) {
    }
  }
  std::vector<uint32_t> running(kCpus, 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t k = 0; r.committed < decisions; k++) {
    const uint32_t cpu = k % kCpus;
    wave_decision d{};
    bool have = false;
    if (prestage) {
      while (!have) {
        have = h.decisions().TakePrestaged(cpu, &d) == DecisionConsumer::Take::kOk;
      }
      h.decisions().Prefetch((cpu + kPrefetchDistance) % kCpus);
    } else {
      while (!h.messages().SendEvent(WAVE_MSG_CPU_IDLE, Event(WAVE_TID_NONE, cpu, 0))) {
      }
      while (!have)
        have = h.decisions().PollRing(std::span<wave_decision>(&d, 1)) == 1;
    }
    const wave_txn_outcome o = txn.Commit(d);
    while (!h.messages().SendOutcome(o)) {
    }
    if (o.outcome != WAVE_TXN_COMMITTED) {
      r.not_committed++;
      continue;
    }
    r.committed++;
    LinkModel::Spin(kSwitchWorkNs);  // the context switch itself
    // The task that ran on this CPU is preempted and runnable again.
    if (running[cpu] != 0) {
      const uint32_t prev = running[cpu];
      while (!h.messages().SendEvent(
          WAVE_MSG_TASK_RUNNABLE,
          Event(prev, cpu, txn.OnTaskEvent(prev, WAVE_MSG_TASK_RUNNABLE)))) {
      }
    }
    running[cpu] = d.tid;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop.store(true);
  agent.join();
  r.decisions_per_s = double(r.committed) / s;
  r.prefetch_hits = h.decisions().stats().prefetch_hits;
  r.prefetch_misses = h.decisions().stats().prefetch_misses;
  r.ok = r.not_committed == 0;
  return r;
}

}  // namespace wave::bench
