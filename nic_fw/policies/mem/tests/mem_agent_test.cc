// MemAgent on synthetic workloads over simulated time (sim_host.h): what the age policy and
// the learned model decide, and each safeguard.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "policies/mem/tests/sim_host.h"

namespace wave::mem::testing {
namespace {

constexpr uint64_t kBase = 0x7f0000000000;
constexpr size_t kAreas = 256;  // 2 MiB each: 64 hot (every 4th), 192 cold
constexpr size_t kHot = 64;
constexpr size_t kCold = 192;

AgentConfig Config(uint16_t policy) {
  AgentConfig c;
  c.policy = policy;
  return c;
}

void Skewed(SimHost* h) {
  h->AddSkewed(1, kBase, kAreas, kGranule, 4);
}
bool IsHot(size_t i) {
  return i % 4 == 0;
}

uint64_t Total(const Area& a) {
  uint64_t n = 0;
  for (auto& row : a.decided)
    for (uint64_t v : row)
      n += v;
  return n;
}

class FakeClock : public Clock {
 public:
  uint64_t NowNs() override {
    uint64_t v = t;
    t += step;
    return v;
  }
  uint64_t t = 1'000;
  uint64_t step = 0;
};

// The age policy alone: COLD from age cold_age (10), PAGEOUT at pageout_age (50), once.
TEST(MemAgent, AgePolicyOnSkewedWorkload) {
  SimHost h;
  Skewed(&h);
  MemAgent a(Config(WAVE_MEM_POLICY_AGE));
  for (int i = 0; i < 60; i++)
    ASSERT_EQ(h.Step(&a), BatchStatus::kDecided);
  for (size_t i = 0; i < kAreas; i++) {
    const Area& ar = h.areas()[i];
    if (IsHot(i)) {
      EXPECT_EQ(Total(ar), 0u) << i;
      continue;
    }
    // Seq s has age s - 1: COLD for seq 11..50, PAGEOUT at 51, then paged out and idle.
    EXPECT_EQ(ar.decided[WAVE_MEM_COLD][WAVE_MEM_SRC_FALLBACK], 40u) << i;
    EXPECT_EQ(ar.decided[WAVE_MEM_PAGEOUT][WAVE_MEM_SRC_FALLBACK], 1u) << i;
    EXPECT_EQ(ar.first_pageout_seq, 51u) << i;
    EXPECT_EQ(Total(ar), 41u) << i;
  }
  const MemAgentStats& s = a.stats();
  EXPECT_EQ(s.batches, 60u);
  EXPECT_EQ(s.regions, 60 * kAreas);
  EXPECT_EQ(s.age_regions, 60 * kAreas);
  EXPECT_EQ(s.model_regions, 0u);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_FALLBACK], kCold * 41);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_MODEL], 0u);
  EXPECT_EQ(s.by_action[WAVE_MEM_PAGEOUT], kCold);
  EXPECT_EQ(s.bytes_by_action[WAVE_MEM_PAGEOUT], kCold * kGranule);
  EXPECT_EQ(s.by_action[WAVE_MEM_COLD], kCold * 40);
  EXPECT_EQ(s.scored, 0u);
}

// The model learns the skewed working set: trusted after 8 batches, it pages out every cold
// granule once (at seq 9, where the age policy waits until 51) and never touches a hot one.
TEST(MemAgent, SolLearnsSkewedWorkingSet) {
  SimHost h;
  Skewed(&h);
  MemAgent a(Config(WAVE_MEM_POLICY_SOL));
  for (int i = 0; i < 8; i++) {
    h.Step(&a);
    EXPECT_FALSE(a.stats().model_trusted) << h.seq();
    EXPECT_TRUE(h.last().empty()) << h.seq();  // fallback: ages still below 10
  }
  h.Step(&a);
  EXPECT_TRUE(a.stats().model_trusted);
  EXPECT_EQ(h.last().size(), kCold);
  for (int i = 0; i < 51; i++)
    h.Step(&a);
  for (size_t i = 0; i < kAreas; i++) {
    const Area& ar = h.areas()[i];
    if (IsHot(i)) {
      EXPECT_EQ(Total(ar), 0u) << i;
    } else {
      EXPECT_EQ(ar.decided[WAVE_MEM_PAGEOUT][WAVE_MEM_SRC_MODEL], 1u) << i;
      EXPECT_EQ(Total(ar), 1u) << i;
      EXPECT_EQ(ar.first_pageout_seq, 9u) << i;
    }
  }
  const MemAgentStats& s = a.stats();
  EXPECT_EQ(s.batches, 60u);
  EXPECT_EQ(s.fallback[kAccuracy], 8 * kAreas);
  EXPECT_EQ(s.fallback[kUnsure], 0u);
  EXPECT_EQ(s.fallback[kModelSlow], 0u);
  EXPECT_EQ(s.fallback[kLate], 0u);
  EXPECT_EQ(s.model_regions, 52 * kAreas);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_MODEL], kCold);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_FALLBACK], 0u);
  EXPECT_EQ(s.accuracy_recoveries, 1u);
  EXPECT_EQ(s.accuracy_trips, 0u);
  EXPECT_EQ(s.scored, 59 * kAreas);
  EXPECT_DOUBLE_EQ(s.recent_accuracy, 1.0);
  EXPECT_GT(static_cast<double>(s.correct) / static_cast<double>(s.scored), 0.95);
  EXPECT_EQ(s.granules_tracked, kAreas);
}

// Same stream, same decisions: no hidden randomness or state.
TEST(MemAgent, Deterministic) {
  SimHost h1, h2;
  Skewed(&h1);
  Skewed(&h2);
  MemAgent a1(Config(WAVE_MEM_POLICY_SOL)), a2(Config(WAVE_MEM_POLICY_SOL));
  for (int i = 0; i < 40; i++) {
    h1.Step(&a1);
    h2.Step(&a2);
    ASSERT_EQ(h1.last().size(), h2.last().size());
    for (size_t k = 0; k < h1.last().size(); k++) {
      const Decision &d1 = h1.last()[k], &d2 = h2.last()[k];
      ASSERT_EQ(std::tie(d1.region.start, d1.region.end, d1.action, d1.source),
                std::tie(d2.region.start, d2.region.end, d2.action, d2.source));
    }
  }
  EXPECT_EQ(a1.model().weights(), a2.model().weights());
}

// A model that is always wrong is never trusted: SOL decides exactly what AGE decides.
TEST(MemAgent, WrongModelFromTheStartNeverDecides) {
  SimHost hs, ha;
  Skewed(&hs);
  Skewed(&ha);
  MemAgent sol(Config(WAVE_MEM_POLICY_SOL)), age(Config(WAVE_MEM_POLICY_AGE));
  sol.ForceWrongPredictions(true);
  for (int i = 0; i < 60; i++) {
    hs.Step(&sol);
    ha.Step(&age);
    ASSERT_EQ(hs.last().size(), ha.last().size()) << hs.seq();
    for (size_t k = 0; k < hs.last().size(); k++) {
      const Decision &d1 = hs.last()[k], &d2 = ha.last()[k];
      ASSERT_EQ(std::tie(d1.region.start, d1.region.end, d1.action, d1.source),
                std::tie(d2.region.start, d2.region.end, d2.action, d2.source));
    }
  }
  const MemAgentStats& s = sol.stats();
  EXPECT_FALSE(s.model_trusted);
  EXPECT_EQ(s.accuracy_recoveries, 0u);
  EXPECT_EQ(s.model_regions, 0u);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_MODEL], 0u);
  EXPECT_EQ(s.by_source[WAVE_MEM_SRC_FALLBACK], kCold * 41);
  EXPECT_EQ(s.fallback[kAccuracy], 60 * kAreas);
  EXPECT_LT(s.recent_accuracy, 0.1);
}

// A trusted model that turns wrong: its first wrong batch is decided (nothing can score it
// before the next batch), the next batch trips the bound and the fallback takes over until
// the model, still scored in shadow, is right again for a whole window.
TEST(MemAgent, AccuracyBoundCatchesAWrongModel) {
  SimHost h;
  Skewed(&h);
  MemAgent a(Config(WAVE_MEM_POLICY_SOL));
  for (int i = 0; i < 20; i++)
    h.Step(&a);
  ASSERT_TRUE(a.stats().model_trusted);
  ASSERT_EQ(a.stats().by_source[WAVE_MEM_SRC_MODEL], kCold);

  a.ForceWrongPredictions(true);
  h.Step(&a);  // seq 21: the inverted model decides once
  {
    size_t hot_pageouts = 0, willneeds = 0;
    for (const Decision& d : h.last()) {
      ASSERT_EQ(d.source, WAVE_MEM_SRC_MODEL);
      size_t i = (d.region.start - kBase) / kGranule;
      if (IsHot(i) && d.action == WAVE_MEM_PAGEOUT)
        hot_pageouts++;
      if (!IsHot(i) && d.action == WAVE_MEM_WILLNEED)
        willneeds++;
    }
    EXPECT_EQ(hot_pageouts, kHot);
    EXPECT_EQ(willneeds, kCold);
    EXPECT_EQ(h.last().size(), kAreas);
  }
  const uint64_t model_decisions = a.stats().by_source[WAVE_MEM_SRC_MODEL];
  EXPECT_EQ(model_decisions, kCold + kAreas);

  h.Step(&a);  // seq 22: batch 21's predictions all scored wrong: tripped
  EXPECT_FALSE(a.stats().model_trusted);
  EXPECT_EQ(a.stats().accuracy_trips, 1u);
  EXPECT_EQ(a.stats().fallback[kAccuracy], 8 * kAreas + kAreas);
  // The fallback repairs: hot areas paged out and accessed get WILLNEED; cold ones (brought
  // back, age 21) COLD.
  ASSERT_EQ(h.last().size(), kAreas);
  for (const Decision& d : h.last()) {
    size_t i = (d.region.start - kBase) / kGranule;
    EXPECT_EQ(d.source, WAVE_MEM_SRC_FALLBACK);
    EXPECT_EQ(d.action, IsHot(i) ? WAVE_MEM_WILLNEED : WAVE_MEM_COLD) << i;
  }
  for (int i = 0; i < 8; i++) {
    h.Step(&a);  // seq 23..30
    EXPECT_FALSE(a.stats().model_trusted);
  }
  EXPECT_EQ(a.stats().by_source[WAVE_MEM_SRC_MODEL], model_decisions);
  EXPECT_EQ(a.stats().model_regions, 13 * kAreas);  // seq 9..21
  EXPECT_EQ(a.stats().fallback[kAccuracy], 8 * kAreas + 9 * kAreas);
  EXPECT_LT(a.stats().recent_accuracy, 0.1);

  // Fixed: right in shadow from seq 31; scored from 32; the window is clean from 39.
  a.ForceWrongPredictions(false);
  for (uint64_t seq = 31; seq <= 38; seq++) {
    h.Step(&a);
    EXPECT_FALSE(a.stats().model_trusted) << seq;
  }
  EXPECT_EQ(a.stats().by_source[WAVE_MEM_SRC_MODEL], model_decisions);
  h.Step(&a);  // seq 39
  EXPECT_TRUE(a.stats().model_trusted);
  EXPECT_EQ(a.stats().accuracy_recoveries, 2u);
  EXPECT_DOUBLE_EQ(a.stats().recent_accuracy, 1.0);
  EXPECT_EQ(a.stats().fallback[kAccuracy], 8 * kAreas + 17 * kAreas);
}

// Inside the uncertainty band: a model that never learns (rate 0) says 0.5 for everything;
// all hot, its accuracy is perfect, yet the fallback decides every region as "unsure".
TEST(MemAgent, UnsureBandFallsBack) {
  SimHost h;
  for (size_t i = 0; i < 64; i++)
    h.Add(1, kBase + i * kGranule, kGranule, Hot());
  AgentConfig c = Config(WAVE_MEM_POLICY_SOL);
  c.model.learning_rate = 0;
  MemAgent a(c);
  for (int i = 0; i < 10; i++)
    h.Step(&a);
  const MemAgentStats& s = a.stats();
  EXPECT_TRUE(s.model_trusted);
  EXPECT_DOUBLE_EQ(s.recent_accuracy, 1.0);
  EXPECT_EQ(s.fallback[kAccuracy], 64u);  // seq 1: nothing scored yet
  EXPECT_EQ(s.fallback[kUnsure], 9 * 64u);
  EXPECT_EQ(s.model_regions, 0u);
  for (float w : a.model().weights())
    EXPECT_EQ(w, 0.0f);
}

// Too little history: a new target's regions are the fallback's for its first
// min_history - 1 batches, the model's from the third.
TEST(MemAgent, NewGranulesAreUnsureUntilTheyHaveHistory) {
  SimHost h;
  Skewed(&h);
  h.AddSkewed(2, kBase, 16, kGranule, 2);  // 8 hot, 8 cold
  h.SetPresent([](const Area& ar, uint64_t seq) { return ar.target == 1 || seq >= 21; });
  MemAgent a(Config(WAVE_MEM_POLICY_SOL));
  for (int i = 0; i < 20; i++)
    h.Step(&a);
  ASSERT_TRUE(a.stats().model_trusted);
  uint64_t unsure = a.stats().fallback[kUnsure];
  uint64_t model = a.stats().model_regions;
  EXPECT_EQ(unsure, 0u);
  for (uint64_t seq = 21; seq <= 22; seq++) {
    h.Step(&a);
    EXPECT_EQ(a.stats().fallback[kUnsure], unsure + (seq - 20) * 16) << seq;
    EXPECT_TRUE(h.last().empty()) << seq;
  }
  h.Step(&a);  // seq 23: three observations each
  EXPECT_EQ(a.stats().fallback[kUnsure], unsure + 32);
  EXPECT_EQ(a.stats().model_regions, model + 2 * kAreas + kAreas + 16);
  for (size_t i = kAreas; i < kAreas + 16; i++) {
    const Area& ar = h.areas()[i];
    if (i % 2 == 0) {
      EXPECT_EQ(Total(ar), 0u) << i;
    } else {
      EXPECT_EQ(ar.decided[WAVE_MEM_PAGEOUT][WAVE_MEM_SRC_MODEL], 1u) << i;
      EXPECT_EQ(ar.first_pageout_seq, 23u) << i;
    }
  }
  EXPECT_EQ(a.stats().targets_tracked, 2u);
  EXPECT_EQ(a.stats().granules_tracked, kAreas + 16);
}

// Late batches: nothing decided, reported; the boundary is inclusive (exactly at the deadline
// is on time). A late batch does not touch the model either.
TEST(MemAgent, LateBatchDecidesNothing) {
  SimHost h;
  Skewed(&h);
  AgentConfig c = Config(WAVE_MEM_POLICY_SOL);
  c.deadline_ns = 50'000'000;
  MemAgent a(c);
  for (int i = 0; i < 20; i++)
    ASSERT_EQ(h.Step(&a, 50'000'000), BatchStatus::kDecided);  // exactly at the deadline
  uint64_t scored = a.stats().scored;
  EXPECT_EQ(h.Step(&a, 50'000'001), BatchStatus::kLate);
  EXPECT_TRUE(h.last().empty());
  EXPECT_EQ(DoneStatus(BatchStatus::kLate), WAVE_MEM_BATCH_LATE);
  EXPECT_EQ(DoneStatus(BatchStatus::kDecided), WAVE_MEM_BATCH_OK);
  EXPECT_EQ(a.stats().late_batches, 1u);
  EXPECT_EQ(a.stats().fallback[kLate], kAreas);
  EXPECT_EQ(a.stats().scored, scored);
  EXPECT_EQ(a.stats().batches, 21u);
  // The next batch follows a gap: nothing to score, but decided (trust is kept).
  EXPECT_EQ(h.Step(&a), BatchStatus::kDecided);
  EXPECT_EQ(a.stats().scored, scored);
  EXPECT_TRUE(a.stats().model_trusted);
  EXPECT_EQ(a.stats().model_regions, 13 * kAreas);
  h.Step(&a);
  EXPECT_EQ(a.stats().scored, scored + kAreas);

  // The age policy is held to the deadline too; and a batch collected "in the future" (the
  // host's clock ahead of now_ns) is on time.
  MemAgent age(Config(WAVE_MEM_POLICY_AGE));
  std::vector<Decision> out;
  Region r{kBase, kBase + kGranule, 1, 100, 0, 0};
  BatchInfo info{1, 5'000'000'000, 100'000, kMaxAccesses};
  EXPECT_EQ(age.Decide(info, {&r, 1}, 6'000'000'001, &out), BatchStatus::kLate);  // default 1 s
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(age.Decide(info, {&r, 1}, 6'000'000'000, &out), BatchStatus::kDecided);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(age.Decide(info, {&r, 1}, 1'000, &out), BatchStatus::kDecided);
  EXPECT_EQ(age.stats().late_batches, 1u);
}

// Regions the model's walk could not rely on are refused, not decided.
TEST(MemAgent, MalformedBatchIsRefused) {
  for (uint16_t policy : {WAVE_MEM_POLICY_AGE, WAVE_MEM_POLICY_SOL}) {
    MemAgent a(Config(policy));
    std::vector<Decision> out;
    BatchInfo info{1, 1'000, 100'000, kMaxAccesses};
    Region r1{kBase, kBase + kGranule, 1, 100, 0, 0};
    Region r2{kBase + kGranule, kBase + 2 * kGranule, 1, 100, 0, 0};
    std::vector<std::vector<Region>> bad = {
        {r2, r1},                                                      // unsorted
        {r1, Region{kBase + 4096, kBase + kGranule * 3, 1, 0, 0, 0}},  // overlapping
        {Region{kBase, kBase, 1, 0, 0, 0}},                            // empty
        {Region{kBase, kBase + 4096, 1, 0, kMaxAccesses + 1, 0}},      // too many accesses
        {Region{kBase, kBase + 4096, 2, 0, 0, 0}, r1},                 // targets unsorted
    };
    for (const auto& rs : bad) {
      EXPECT_EQ(a.Decide(info, rs, 2'000, &out), BatchStatus::kRefused);
      EXPECT_TRUE(out.empty());
    }
    EXPECT_EQ(a.stats().refused_batches, bad.size());
    EXPECT_EQ(DoneStatus(BatchStatus::kRefused), WAVE_MEM_BATCH_REFUSED);
    std::vector<Region> good{r1, r2, Region{kBase, kBase + 4096, 2, 100, 0, 0}};
    EXPECT_EQ(a.Decide(info, good, 2'000, &out), BatchStatus::kDecided);
    BatchInfo zero = info;
    zero.max_accesses = 0;
    EXPECT_EQ(a.Decide(zero, good, 2'000, &out), BatchStatus::kRefused);
    EXPECT_EQ(a.Decide(zero, {}, 2'000, &out), BatchStatus::kDecided);
  }
}

// The model's time budget, on an injected clock that advances one unit per read: reads are
// one at the start, one per granule (pass 1) and one per region (pass 2), so a budget of
// 256 + 100 leaves exactly the first 100 regions to the model.
TEST(MemAgent, SlowModelFallsBackForTheRestOfTheBatch) {
  SimHost h;
  Skewed(&h);
  FakeClock clock;
  AgentConfig c = Config(WAVE_MEM_POLICY_SOL);
  c.clock = &clock;
  c.model_budget_ns = kAreas + 100;
  c.budget_check_every = 1;
  MemAgent a(c);
  for (int i = 0; i < 20; i++)
    h.Step(&a);  // the clock stands still
  ASSERT_TRUE(a.stats().model_trusted);
  uint64_t model = a.stats().model_regions;

  clock.step = 1;
  h.Step(&a);
  EXPECT_EQ(a.stats().model_regions, model + 100);
  EXPECT_EQ(a.stats().fallback[kModelSlow], kAreas - 100);
  EXPECT_EQ(a.stats().slow_batches, 1u);
  EXPECT_EQ(a.stats().scored, 20 * kAreas);  // seq 2..21: pass 1 finished, all scored

  // Slow from the start: not one granule gets through; the whole batch falls back and the
  // model learns nothing from it (so the next batch has nothing to score).
  clock.step = kAreas + 101;
  uint64_t scored = a.stats().scored;
  h.Step(&a);
  EXPECT_EQ(a.stats().model_regions, model + 100);
  EXPECT_EQ(a.stats().fallback[kModelSlow], 2 * kAreas - 100);
  EXPECT_EQ(a.stats().slow_batches, 2u);
  EXPECT_EQ(a.stats().scored, scored);

  clock.step = 0;
  h.Step(&a);
  EXPECT_EQ(a.stats().model_regions, model + 100 + kAreas);
  EXPECT_EQ(a.stats().slow_batches, 2u);
  EXPECT_EQ(a.stats().scored, scored);  // gap
  EXPECT_TRUE(a.stats().model_trusted);
}

// 512 cold areas (1 GiB) reach the page-out age together; 64 MiB/s lets them out at the
// rate, never faster in any one second (the bucket holds 100 ms of it), the rest sent as COLD.
TEST(MemAgent, RateLimitHoldsOverSimulatedTime) {
  constexpr uint64_t kRate = 64 * kMiB;
  SimHost h;
  h.AddSkewed(1, kBase, 512, kGranule, 1 << 30);  // area 0 hot, 511 cold
  AgentConfig c = Config(WAVE_MEM_POLICY_AGE);
  c.max_reclaim_bytes_per_s = kRate;
  c.age = AgeConfig{50, 50};  // no COLD of its own: every COLD is a rate-limited PAGEOUT
  MemAgent a(c);
  for (int i = 0; i < 300; i++)
    h.Step(&a);
  uint64_t total = 0;
  std::vector<uint64_t> per_batch(301, 0);
  for (auto [seq, bytes] : h.paged_bytes()) {
    per_batch[seq] = bytes;
    total += bytes;
  }
  EXPECT_EQ(total, 511 * kGranule);  // all out in the end
  // Any 10 consecutive batches (1 s): at most the rate. While draining, exactly 3 regions per
  // batch: the bucket (6.4 MiB) holds 3 of them and what is left over does not carry past it.
  for (size_t s = 1; s + 10 <= 301; s++) {
    uint64_t w = 0;
    for (size_t k = s; k < s + 10; k++)
      w += per_batch[k];
    EXPECT_LE(w, kRate) << s;
    if (s >= 51 && s + 10 <= 51 + 170) {
      EXPECT_EQ(w, 30 * kGranule) << s;
    }
  }
  EXPECT_EQ(per_batch[51 + 170], 1 * kGranule);  // 511 = 170 * 3 + 1
  const MemAgentStats& st = a.stats();
  EXPECT_EQ(st.by_action[WAVE_MEM_PAGEOUT], 511u);
  EXPECT_GT(st.rate_limited, 0u);
  EXPECT_EQ(st.by_action[WAVE_MEM_COLD], st.rate_limited);
  EXPECT_EQ(st.rate_limited_bytes, st.rate_limited * kGranule);
  EXPECT_EQ(st.bytes_by_action[WAVE_MEM_COLD], st.rate_limited_bytes);

  // Unlimited: all at seq 51.
  SimHost h2;
  h2.AddSkewed(1, kBase, 512, kGranule, 1 << 30);
  c.max_reclaim_bytes_per_s = 0;
  MemAgent b(c);
  for (int i = 0; i < 60; i++)
    h2.Step(&b);
  ASSERT_EQ(h2.paged_bytes().size(), 1u);
  EXPECT_EQ(h2.paged_bytes().begin()->first, 51u);
  EXPECT_EQ(b.stats().rate_limited, 0u);
}

// The budget binds the model's page-outs too: 40 MiB/s (a 4 MiB bucket) lets two of the
// model's 2 MiB page-outs through per 100 ms; the rest of its PAGEOUTs go out as COLD.
TEST(MemAgent, RateLimitAppliesToTheModel) {
  SimHost h;
  Skewed(&h);
  AgentConfig c = Config(WAVE_MEM_POLICY_SOL);
  c.max_reclaim_bytes_per_s = 40 * kMiB;
  MemAgent a(c);
  for (int i = 0; i < 8; i++)
    h.Step(&a);
  for (uint64_t seq = 9; seq < 9 + 96; seq++) {
    h.Step(&a);
    ASSERT_TRUE(a.stats().model_trusted) << seq;
    size_t pageouts = 0, colds = 0;
    for (const Decision& d : h.last()) {
      EXPECT_EQ(d.source, WAVE_MEM_SRC_MODEL);
      pageouts += d.action == WAVE_MEM_PAGEOUT;
      colds += d.action == WAVE_MEM_COLD;
    }
    EXPECT_EQ(pageouts, 2u) << seq;
    EXPECT_EQ(colds, kCold - 2 * (seq - 8)) << seq;
  }
  EXPECT_EQ(a.stats().by_action[WAVE_MEM_PAGEOUT], kCold);
  EXPECT_EQ(a.stats().rate_limited, a.stats().by_action[WAVE_MEM_COLD]);
  for (size_t i = 0; i < kAreas; i++)
    EXPECT_EQ(h.areas()[i].paged_out, !IsHot(i)) << i;
}

TEST(MemAgent, ConfigFromInfo) {
  AgentConfig c = ConfigFromInfo(WAVE_MEM_POLICY_SOL, 64, 0);
  EXPECT_EQ(c.policy, WAVE_MEM_POLICY_SOL);
  EXPECT_EQ(c.max_reclaim_bytes_per_s, 64 * kMiB);
  EXPECT_EQ(c.deadline_ns, 1'000'000'000u);
  c = ConfigFromInfo(WAVE_MEM_POLICY_AGE, 0, 250'000);
  EXPECT_EQ(c.max_reclaim_bytes_per_s, 0u);
  EXPECT_EQ(c.deadline_ns, 250'000'000u);
  c = ConfigFromInfo(WAVE_MEM_POLICY_AGE, UINT32_MAX, UINT32_MAX);
  EXPECT_EQ(c.max_reclaim_bytes_per_s, uint64_t{UINT32_MAX} << 20);
  EXPECT_EQ(c.deadline_ns, uint64_t{UINT32_MAX} * 1000);
  // An unknown policy runs the age policy.
  MemAgent a(ConfigFromInfo(7, 0, 0));
  EXPECT_EQ(a.config().policy, WAVE_MEM_POLICY_AGE);
  EXPECT_STREQ(FallbackReasonName(kModelSlow), "model_slow");
  EXPECT_STREQ(FallbackReasonName(kUnsure), "unsure");
}

// A region larger than the whole bucket goes when the bucket is full, and the debt it leaves
// holds back the next page-out until the rate has paid for it.
TEST(MemAgent, RateLimitRegionLargerThanTheBucket) {
  SimHost h;
  h.Add(1, kBase, 64 * kMiB, Cold());
  h.Add(1, kBase + 64 * kMiB, kGranule, Cold());
  AgentConfig c = Config(WAVE_MEM_POLICY_AGE);
  c.max_reclaim_bytes_per_s = 64 * kMiB;  // the bucket: 6.4 MiB
  c.age = AgeConfig{50, 50};
  MemAgent a(c);
  for (int i = 0; i < 80; i++)
    h.Step(&a);
  // Seq 51: both fit in order? The 2 MiB one is second: the big one empties the bucket.
  EXPECT_EQ(h.areas()[0].first_pageout_seq, 51u);
  // 57.6 MiB of debt plus 2 MiB at 6.4 MiB per 100 ms: 10 batches later.
  EXPECT_EQ(h.areas()[1].first_pageout_seq, 61u);
}

// The kill switch: nothing while on (not even the model's learning), counted; off again, the
// agent picks up where the host's state is.
TEST(MemAgent, KillSwitch) {
  SimHost h;
  Skewed(&h);
  MemAgent a(Config(WAVE_MEM_POLICY_AGE));
  for (int i = 0; i < 48; i++)
    h.Step(&a);
  a.SetKill(true);
  EXPECT_TRUE(a.killed());
  for (int i = 0; i < 8; i++) {  // seq 49..56: PAGEOUT would have been at 51
    EXPECT_EQ(h.Step(&a), BatchStatus::kKilled);
    EXPECT_TRUE(h.last().empty());
  }
  EXPECT_EQ(DoneStatus(BatchStatus::kKilled), WAVE_MEM_BATCH_OK);
  EXPECT_EQ(a.stats().killed_batches, 8u);
  EXPECT_EQ(a.stats().by_action[WAVE_MEM_PAGEOUT], 0u);
  a.SetKill(false);
  h.Step(&a);  // seq 57
  EXPECT_EQ(h.last().size(), kCold);
  EXPECT_EQ(a.stats().by_action[WAVE_MEM_PAGEOUT], kCold);
  EXPECT_EQ(a.stats().batches, 57u);

  SimHost hs;
  Skewed(&hs);
  MemAgent sol(Config(WAVE_MEM_POLICY_SOL));
  for (int i = 0; i < 8; i++)
    hs.Step(&sol);
  sol.SetKill(true);
  hs.Step(&sol);  // seq 9, where the model would have paged out
  EXPECT_TRUE(hs.last().empty());
  EXPECT_EQ(sol.stats().scored, 7 * kAreas);
  EXPECT_EQ(sol.stats().model_regions, 0u);
  EXPECT_EQ(sol.stats().killed_batches, 1u);
}

// A paged-out region accessed again is prefetched back (WILLNEED), once.
TEST(MemAgent, PagedOutRegionAccessedAgainGetsWillneed) {
  for (uint16_t policy : {WAVE_MEM_POLICY_AGE, WAVE_MEM_POLICY_SOL}) {
    SimHost h;
    Skewed(&h);
    // Area 1 (cold) wakes up at seq 70 and stays hot.
    h.areas()[1].accessed = [](uint64_t seq) { return seq >= 70; };
    MemAgent a(Config(policy));
    for (int i = 0; i < 69; i++)
      h.Step(&a);
    const Area& ar = h.areas()[1];
    ASSERT_TRUE(ar.paged_out);
    h.Step(&a);  // seq 70
    // Under SOL the model has never seen a granule wake up: its p is in the band, and the
    // fallback's rule brings the region back.
    EXPECT_EQ(ar.decided[WAVE_MEM_WILLNEED][WAVE_MEM_SRC_FALLBACK], 1u) << policy;
    if (policy == WAVE_MEM_POLICY_SOL) {
      EXPECT_EQ(a.stats().fallback[kUnsure], 1u);
      EXPECT_EQ(ar.decided[WAVE_MEM_PAGEOUT][WAVE_MEM_SRC_MODEL], 1u);
    }
    EXPECT_FALSE(ar.paged_out);
    ASSERT_EQ(h.last().size(), 1u) << policy;
    EXPECT_EQ(h.last()[0].action, WAVE_MEM_WILLNEED);
    EXPECT_EQ(h.last()[0].region.start, kBase + kGranule);
    for (int i = 0; i < 20; i++)
      h.Step(&a);
    // Its PAGEOUT and one WILLNEED (and under AGE the 40 COLDs before the PAGEOUT).
    EXPECT_EQ(Total(ar), policy == WAVE_MEM_POLICY_AGE ? 42u : 2u) << policy;
    EXPECT_EQ(a.stats().by_action[WAVE_MEM_WILLNEED], 1u);
  }
}

}  // namespace
}  // namespace wave::mem::testing
