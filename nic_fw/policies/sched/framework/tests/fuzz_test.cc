// Random events, outcomes and bytes: the agent never crashes, accepts exactly the events an
// independent model of the rules accepts, keeps its own bookkeeping consistent, and never
// produces a decision that names a dead task, a CPU outside the task's mask, or an old seq.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/shinjuku/prio_table.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"

namespace wave::agents::testing {
namespace {

constexpr uint32_t kCpus = 6;
constexpr uint32_t kMaxTid = 40;

// What the agent must have accepted, computed from the rules alone.
struct Oracle {
  struct T {
    bool alive = false;
    uint64_t seq = 0;
    uint64_t mask = 0;
  };
  std::map<uint32_t, T> tasks;
  uint64_t cpu_mask = (uint64_t{1} << kCpus) - 1;

  bool accept(uint32_t type, const wave_task_event& ev) {
    bool task_ev = type >= WAVE_MSG_TASK_NEW && type <= WAVE_MSG_TASK_RUNNING;
    bool cpu_ev = type >= WAVE_MSG_CPU_IDLE && type <= WAVE_MSG_CPU_UNAVAILABLE;
    if (!task_ev && !cpu_ev)
      return false;
    if (ev.flags != 0 || ev.cpu >= kCpus)
      return false;
    if (cpu_ev)
      return ev.tid == 0;
    if (ev.tid == 0)
      return false;
    uint64_t mask = ev.cpumask & cpu_mask;
    T& t = tasks[ev.tid];
    if (type == WAVE_MSG_TASK_NEW) {
      if (mask == 0)
        return false;
      if (t.alive && ev.task_seq <= t.seq)
        return false;
      t = T{true, ev.task_seq, mask};
      return true;
    }
    if (!t.alive || ev.task_seq <= t.seq)
      return false;
    if (type == WAVE_MSG_TASK_AFFINITY && mask == 0)
      return false;
    t.seq = ev.task_seq;
    if (type == WAVE_MSG_TASK_DEAD)
      t.alive = false;
    if (type == WAVE_MSG_TASK_AFFINITY)
      t.mask = mask;
    return true;
  }
};

// Checks every decision against the oracle at the moment it is made.
class CheckingSink final : public DecisionSink {
 public:
  CheckingSink(const Oracle& o, uint64_t epoch) : oracle_(o), epoch_(epoch) {}

  bool decide(const wave_decision& d) override {
    check(d, d.cpu);
    made.push_back(d);
    return true;
  }
  void prestage(uint32_t cpu, const wave_decision* d) override {
    if (d != nullptr)
      check(*d, cpu);
  }

  std::vector<std::string> errors;
  std::vector<wave_decision> made;

 private:
  void check(const wave_decision& d, uint32_t cpu) {
    auto fail = [&](const std::string& what) {
      errors.push_back(what + " (tid " + std::to_string(d.tid) + " cpu " + std::to_string(d.cpu) +
                       ")");
    };
    if (d.cpu != cpu || cpu >= kCpus)
      return fail("CPU out of range or wrong slot");
    auto it = oracle_.tasks.find(d.tid);
    if (it == oracle_.tasks.end() || !it->second.alive)
      return fail("decision for a dead task");
    if (!(it->second.mask & (uint64_t{1} << d.cpu)))
      return fail("decision outside the mask");
    if (d.task_seq != it->second.seq)
      return fail("decision with an old seq");
    if (d.agent_epoch != epoch_)
      return fail("decision with a wrong epoch");
    if (d.reserved != 0)
      return fail("reserved bits set");
  }

  const Oracle& oracle_;
  uint64_t epoch_;
};

uint32_t random_type(std::mt19937_64& rng) {
  static const uint32_t kTypes[] = {
      WAVE_MSG_TASK_NEW,       WAVE_MSG_TASK_RUNNABLE,   WAVE_MSG_TASK_BLOCKED,
      WAVE_MSG_TASK_PREEMPTED, WAVE_MSG_TASK_YIELD,      WAVE_MSG_TASK_DEAD,
      WAVE_MSG_TASK_AFFINITY,  WAVE_MSG_CPU_IDLE,        WAVE_MSG_CPU_TICK,
      WAVE_MSG_CPU_AVAILABLE,  WAVE_MSG_CPU_UNAVAILABLE, WAVE_MSG_TASK_RUNNING};
  if (rng() % 20 == 0)
    return static_cast<uint32_t>(rng() % 70);  // mostly invalid
  return kTypes[rng() % std::size(kTypes)];
}

void fuzz(Agent& a, uint64_t seed, int rounds) {
  std::mt19937_64 rng(seed);
  Oracle oracle;
  CheckingSink sink(oracle, a.config().epoch);
  std::map<uint32_t, uint64_t> seqs;  // a plausible next seq per tid, to reach deep states
  uint64_t now = 1'000'000;

  for (int r = 0; r < rounds; r++) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 6) {
      uint32_t type = random_type(rng);
      bool cpu_ev = type >= WAVE_MSG_CPU_IDLE && type <= WAVE_MSG_CPU_UNAVAILABLE;
      uint32_t tid = cpu_ev ? (rng() % 30 == 0 ? 1 : 0) : static_cast<uint32_t>(rng() % kMaxTid);
      uint64_t& s = seqs[tid];
      uint64_t seq = rng() % 8 == 0 ? rng() % (s + 2) : ++s;  // sometimes backwards
      uint32_t cpu = rng() % 25 == 0 ? static_cast<uint32_t>(rng()) : rng() % kCpus;
      uint64_t mask = rng() % 3 == 0 ? rng() : ~uint64_t{0};
      now += rng() % 40'000;
      wave_task_event ev = make_event(tid, cpu, seq, now, mask);
      if (rng() % 40 == 0)
        ev.flags = static_cast<uint32_t>(rng());
      bool expect = oracle.accept(type, ev);
      ASSERT_EQ(send(a, type, ev), expect) << "round " << r << " type " << type << " tid " << tid;
    } else if (kind < 9 && !sink.made.empty()) {
      // An outcome for one of the agent's decisions, with a random kind, sometimes mangled.
      const wave_decision& d = sink.made[rng() % sink.made.size()];
      wave_txn_outcome o =
          make_outcome(d, static_cast<uint32_t>(rng() % (WAVE_TXN_OUTCOME_MAX + 2)));
      if (rng() % 10 == 0)
        o.cpu = static_cast<uint32_t>(rng() % (kCpus + 2));
      if (rng() % 10 == 0)
        o.txn_id = rng() % 1000;
      if (rng() % 20 == 0)
        o.reserved = 1;
      send(a, WAVE_MSG_TXN_OUTCOME, o);
    } else {
      // Random bytes of a random length under a random message type.
      std::vector<std::byte> junk(rng() % 64);
      for (auto& b : junk)
        b = static_cast<std::byte>(rng());
      uint32_t type = rng() % 2 ? WAVE_MSG_TXN_OUTCOME : random_type(rng);
      if (junk.size() == sizeof(wave_task_event) && type != WAVE_MSG_TXN_OUTCOME) {
        wave_task_event ev;
        std::memcpy(&ev, junk.data(), sizeof(ev));
        bool expect = oracle.accept(type, ev);
        ASSERT_EQ(a.handle(type, junk), expect);
      } else {
        a.handle(type, junk);
      }
    }
    if (rng() % 3 == 0)
      a.schedule(sink);
    std::string why;
    ASSERT_TRUE(a.consistent(&why)) << "round " << r << ": " << why;
    ASSERT_TRUE(sink.errors.empty()) << "round " << r << ": " << sink.errors.front();
  }
  EXPECT_GT(a.stats().events, 0u);
  EXPECT_GT(a.stats().dropped(), 0u);
  EXPECT_GT(a.stats().decisions, 0u);
}

TEST(Fuzz, FifoNeverViolatesTheRules) {
  for (uint64_t seed = 1; seed <= 6; seed++) {
    AgentConfig cfg;
    cfg.nr_cpus = kCpus;
    cfg.max_tasks = 64;
    cfg.epoch = 5;
    FifoPolicy a(cfg);
    fuzz(a, seed, 20'000);
    if (HasFatalFailure())
      return;
  }
}

TEST(Fuzz, ShinjukuNeverViolatesTheRules) {
  std::vector<uint64_t> mem(64);
  ASSERT_TRUE(PrioTableWriter::format(mem.data(), mem.size() * 8, 24));
  PrioTableWriter w(mem.data(), mem.size() * 8);
  for (uint32_t k = 0; k < 24; k++)
    w.set(k, k + 1, k % WAVE_SCHED_QOS_CLASSES);
  PrioTableReader r(mem.data(), mem.size() * 8);
  for (uint64_t seed = 1; seed <= 6; seed++) {
    AgentConfig cfg;
    cfg.nr_cpus = kCpus;
    cfg.max_tasks = 64;
    cfg.epoch = 9;
    ShinjukuConfig sj;
    sj.slice_ns = 20'000;
    ShinjukuPolicy a(cfg, sj);
    a.set_prio_table(&r);
    fuzz(a, seed * 7919, 20'000);
    if (HasFatalFailure())
      return;
  }
}

}  // namespace
}  // namespace wave::agents::testing
