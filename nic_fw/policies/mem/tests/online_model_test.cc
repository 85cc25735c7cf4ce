// The online model's bookkeeping: granules keyed by address across DAMON's splits and merges,
// and its memory bounds (granule cap, target cap, forgetting, eviction).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "policies/mem/online_model.h"

namespace wave::mem {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kG = 2 * kMiB;
constexpr uint64_t kBase = 0x7f0000000000;

BatchInfo Info(uint64_t seq) {
  return BatchInfo{seq, seq * 100'000'000, 100'000, 20};
}

size_t Observe(OnlineModel* m, uint64_t seq, const std::vector<Region>& rs) {
  Budget b(nullptr, 0, 1);
  return m->Observe(Info(seq), rs, &b);
}

// n regions of one granule each in target t, all accessed.
std::vector<Region> Granules(uint32_t t, size_t n, uint64_t base = kBase) {
  std::vector<Region> rs;
  for (size_t i = 0; i < n; i++)
    rs.push_back(Region{base + i * kG, base + (i + 1) * kG, t, 0, 20, 0});
  return rs;
}

TEST(OnlineModel, GranulesFollowAddressesAcrossSplitsAndMerges) {
  OnlineModel m(ModelConfig{});
  // Seq 1: one region over 8 granules.
  std::vector<Region> one{{kBase, kBase + 8 * kG, 1, 0, 20, 0}};
  EXPECT_EQ(Observe(&m, 1, one), 1u);
  EXPECT_EQ(m.predictions().size(), 8u);
  EXPECT_EQ(m.span(0), std::make_pair(0u, 8u));
  EXPECT_EQ(m.batch_scored(), 0u);
  // Seq 2: split at unaligned boundaries (5 MiB, 9 MiB): the shared granules 2 and 4 are
  // observed once, by both regions' spans; all 8 are scored (they were predicted at seq 1).
  std::vector<Region> three{{kBase, kBase + 5 * kMiB, 1, 0, 20, 0},
                            {kBase + 5 * kMiB, kBase + 9 * kMiB, 1, 0, 0, 0},
                            {kBase + 9 * kMiB, kBase + 16 * kMiB, 1, 0, 20, 0}};
  EXPECT_EQ(Observe(&m, 2, three), 3u);
  EXPECT_EQ(m.predictions().size(), 8u);
  EXPECT_EQ(m.span(0), std::make_pair(0u, 3u));
  EXPECT_EQ(m.span(1), std::make_pair(2u, 5u));
  EXPECT_EQ(m.span(2), std::make_pair(4u, 8u));
  EXPECT_EQ(m.batch_scored(), 8u);
  EXPECT_EQ(m.granules_tracked(), 8u);
  for (const auto& p : m.predictions())
    EXPECT_EQ(p.history, 2u);
  // Seq 3: merged again, plus a gap: granules 3..4 no longer covered are dropped.
  std::vector<Region> gap{{kBase, kBase + 3 * kG, 1, 0, 20, 0},
                          {kBase + 5 * kG, kBase + 8 * kG, 1, 0, 20, 0}};
  EXPECT_EQ(Observe(&m, 3, gap), 2u);
  EXPECT_EQ(m.batch_scored(), 6u);
  EXPECT_EQ(m.granules_tracked(), 6u);
  EXPECT_EQ(m.span(1), std::make_pair(3u, 6u));
  // Seq 4 skipped (a late batch): seq 5 has nothing to score.
  EXPECT_EQ(Observe(&m, 5, gap), 2u);
  EXPECT_EQ(m.batch_scored(), 0u);
  for (const auto& p : m.predictions())
    EXPECT_EQ(p.history, 4u);
}

TEST(OnlineModel, ForcedWrongEmitsTheComplement) {
  OnlineModel a(ModelConfig{}), b(ModelConfig{});
  b.ForceWrongPredictions(true);
  auto rs = Granules(1, 16);
  for (uint64_t seq = 1; seq <= 5; seq++) {
    Observe(&a, seq, rs);
    Observe(&b, seq, rs);
    for (size_t i = 0; i < 16; i++)
      EXPECT_FLOAT_EQ(b.predictions()[i].p, 1.0f - a.predictions()[i].p);
  }
  // Training saw the same, so the weights agree; only the scoring differs.
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.batch_correct(), 16u);
  EXPECT_EQ(b.batch_correct(), 0u);
}

TEST(OnlineModel, GranuleCapHoldsAndTheOverflowIsUntracked) {
  ModelConfig c;
  c.max_granules = 100;
  OnlineModel m(c);
  // 3 targets of 60 granules: the first target fits, 40 of the second, none of the third.
  std::vector<Region> rs;
  for (uint32_t t = 1; t <= 3; t++) {
    auto g = Granules(t, 60);
    rs.insert(rs.end(), g.begin(), g.end());
  }
  for (uint64_t seq = 1; seq <= 5; seq++) {
    EXPECT_EQ(Observe(&m, seq, rs), rs.size());
    EXPECT_EQ(m.granules_tracked(), 100u);
    // Per batch: at most max_granules granules expanded; the regions beyond are untracked.
    EXPECT_EQ(m.predictions().size(), 100u);
    EXPECT_EQ(m.span(59), std::make_pair(59u, 60u));
    EXPECT_EQ(m.span(99), std::make_pair(99u, 100u));
    EXPECT_EQ(m.span(100).first, m.span(100).second);
    EXPECT_EQ(m.span(179).first, m.span(179).second);
  }
  EXPECT_EQ(m.granules_untracked(), 5 * 80u);
  EXPECT_EQ(m.targets_tracked(), 3u);
}

TEST(OnlineModel, HugeRegionIsNotExpanded) {
  OnlineModel m(ModelConfig{});
  // 1 TiB: 524288 granules, more than the 65536 the model tracks: not expanded at all.
  std::vector<Region> rs{
      {kBase, kBase + (uint64_t{1} << 40), 1, 0, 0, 0},
      {kBase + (uint64_t{1} << 40), kBase + (uint64_t{1} << 40) + kG, 1, 0, 20, 0}};
  EXPECT_EQ(Observe(&m, 1, rs), 2u);
  EXPECT_EQ(m.span(0).first, m.span(0).second);
  EXPECT_EQ(m.span(1), std::make_pair(0u, 1u));
  EXPECT_EQ(m.granules_tracked(), 1u);
  EXPECT_EQ(m.granules_untracked(), uint64_t{1} << 19);
}

TEST(OnlineModel, AbsentTargetsAreForgottenThenEvictedOldestFirstWhenFull) {
  ModelConfig c;
  c.max_granules = 100;
  c.forget_after = 3;
  OnlineModel m(c);
  Observe(&m, 1, Granules(1, 40));
  Observe(&m, 2, Granules(2, 40));  // target 1 absent since seq 1
  EXPECT_EQ(m.granules_tracked(), 80u);
  EXPECT_EQ(m.targets_tracked(), 2u);
  // Seq 3: target 3 needs 40: 20 fit, then target 1 (seen at 1, the oldest) is evicted.
  Observe(&m, 3, Granules(3, 40));
  EXPECT_EQ(m.targets_evicted(), 1u);
  EXPECT_EQ(m.granules_evicted(), 40u);
  EXPECT_EQ(m.granules_tracked(), 80u);
  EXPECT_EQ(m.granules_untracked(), 0u);
  // Seq 4..6: only target 3. Target 1 (last seen 1) is forgotten at seq 5 (absent > 3
  // batches), target 2 (last seen 2) at seq 6.
  Observe(&m, 4, Granules(3, 40));
  EXPECT_EQ(m.targets_tracked(), 3u);
  Observe(&m, 5, Granules(3, 40));
  EXPECT_EQ(m.targets_tracked(), 2u);
  EXPECT_EQ(m.targets_forgotten(), 1u);
  EXPECT_EQ(m.granules_tracked(), 80u);
  Observe(&m, 6, Granules(3, 40));
  EXPECT_EQ(m.targets_tracked(), 1u);
  EXPECT_EQ(m.targets_forgotten(), 2u);
  EXPECT_EQ(m.granules_tracked(), 40u);
}

TEST(OnlineModel, TargetCap) {
  ModelConfig c;
  c.max_targets = 4;
  OnlineModel m(c);
  std::vector<Region> rs;
  for (uint32_t t = 1; t <= 6; t++) {
    auto g = Granules(t, 2);
    rs.insert(rs.end(), g.begin(), g.end());
  }
  EXPECT_EQ(Observe(&m, 1, rs), rs.size());
  EXPECT_EQ(m.targets_tracked(), 4u);
  EXPECT_EQ(m.granules_tracked(), 8u);
  EXPECT_EQ(m.span(9).first, m.span(9).second);  // target 5
  EXPECT_EQ(m.granules_untracked(), 4u);
}

// Many targets and granules over many batches, layouts changing every batch: the caps hold.
TEST(OnlineModel, BoundedUnderChurn) {
  ModelConfig c;
  c.max_granules = 5000;
  c.max_targets = 32;
  OnlineModel m(c);
  uint64_t x = 12345;
  auto rnd = [&x]() {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  for (uint64_t seq = 1; seq <= 200; seq++) {
    std::vector<Region> rs;
    uint32_t first = static_cast<uint32_t>(seq % 50);
    for (uint32_t t = first; t < first + 40; t++) {
      uint64_t a = kBase;
      for (int k = 0; k < 50; k++) {
        uint64_t len = (1 + rnd() % 512) * 4096 * (1 + rnd() % 16);
        rs.push_back(Region{a, a + len, t, static_cast<uint32_t>(rnd() % 100),
                            static_cast<uint16_t>(rnd() % 21), 0});
        a += len + (rnd() % 4) * kG;
      }
    }
    EXPECT_EQ(Observe(&m, seq, rs), rs.size());
    ASSERT_LE(m.granules_tracked(), 5000u);
    ASSERT_LE(m.targets_tracked(), 32u);
    ASSERT_LE(m.predictions().size(), 5000u);
    for (size_t i = 0; i < rs.size(); i++)
      ASSERT_LE(m.span(i).second, m.predictions().size());
  }
  for (float w : m.weights())
    EXPECT_TRUE(std::isfinite(w));
}

TEST(OnlineModel, SeqGoingBackIsANewAttach) {
  OnlineModel m(ModelConfig{});
  for (uint64_t seq = 1; seq <= 5; seq++)
    Observe(&m, seq, Granules(1, 10));
  EXPECT_EQ(m.batch_scored(), 10u);
  auto w = m.weights();
  Observe(&m, 1, Granules(1, 10));
  EXPECT_EQ(m.batch_scored(), 0u);
  for (const auto& p : m.predictions())
    EXPECT_EQ(p.history, 1u);
  EXPECT_EQ(m.weights(), w);  // what it learned is kept
}

}  // namespace
}  // namespace wave::mem
