#include "batch_assembler.h"

#include <gtest/gtest.h>

namespace wave::mem {
namespace {

wave_mem_collect_rec R(uint32_t idx, uint32_t nr, uint64_t s, uint64_t e, uint32_t acc = 0,
                       uint32_t age = 0, uint64_t ns = 1000) {
  wave_mem_collect_rec r{};
  r.target_idx = idx;
  r.nr_regions = nr;
  r.start = s;
  r.end = e;
  r.nr_accesses = acc;
  r.age = age;
  r.ktime_ns = ns;
  return r;
}

struct Sink {
  std::vector<BatchInfo> infos;
  std::vector<std::vector<Region>> batches;
  BatchCallback cb() {
    return [this](const BatchInfo& i, std::span<const Region> r) {
      infos.push_back(i);
      batches.emplace_back(r.begin(), r.end());
    };
  }
};

BatchAssembler::Options Opts() {
  BatchAssembler::Options o;
  o.aggr_us = 100000;
  o.max_accesses = 20;
  o.timeout_ns = 50000000;
  return o;
}

// Every batch passes the link's own checks once encoded.
void ExpectEncodable(const BatchInfo& info, const std::vector<Region>& r) {
  std::vector<uint8_t> buf(BatchBytes(r.size()));
  ASSERT_EQ(EncodeBatch(info, r, buf), buf.size());
  BatchInfo back;
  std::vector<Region> regions;
  EXPECT_EQ(DecodeBatch(buf, &back, &regions), BatchError::kOk);
}

TEST(BatchAssembler, OneBatchPerAggregationSortedByTargetId) {
  Sink sink;
  BatchAssembler a(Opts(), sink.cb());
  // Index 0 is target 7, index 1 is target 3: the batch is sorted by target id.
  a.SetTargets({{7, 0}, {3, 0}});
  for (int round = 0; round < 3; round++) {
    a.Add(R(0, 2, 0x1000, 0x5000, 3));
    a.Add(R(0, 2, 0x5000, 0x9000, 0));
    EXPECT_EQ(sink.batches.size(), static_cast<size_t>(round));
    a.Add(R(1, 1, 0x10000, 0x20000, 25));  // above max_accesses: clamped
    ASSERT_EQ(sink.batches.size(), static_cast<size_t>(round + 1));
  }
  const auto& b = sink.batches[0];
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].target, 3u);
  EXPECT_EQ(b[0].nr_accesses, 20);
  EXPECT_EQ(b[1].target, 7u);
  EXPECT_EQ(b[1].start, 0x1000u);
  EXPECT_EQ(b[2].start, 0x5000u);
  EXPECT_EQ(sink.infos[0].seq, 1u);
  EXPECT_EQ(sink.infos[2].seq, 3u);
  EXPECT_EQ(sink.infos[0].max_accesses, 20);
  EXPECT_EQ(a.counters().clamped, 3u);
  EXPECT_EQ(a.counters().cut, 0u);
  ExpectEncodable(sink.infos[0], b);
}

TEST(BatchAssembler, RestartCutsAndTimeoutFlushes) {
  Sink sink;
  BatchAssembler a(Opts(), sink.cb());
  a.SetTargets({{1, 0}, {2, 0}});
  a.Add(R(0, 3, 0x1000, 0x2000));
  a.Add(R(0, 3, 0x2000, 0x3000));
  a.Add(R(0, 3, 0x1000, 0x2000));  // index 0 starts again: the previous one is cut
  ASSERT_EQ(sink.batches.size(), 1u);
  EXPECT_EQ(sink.batches[0].size(), 2u);
  EXPECT_EQ(a.counters().cut, 1u);
  EXPECT_TRUE(a.pending());
  a.Tick(1000 + 49000000);
  EXPECT_EQ(sink.batches.size(), 1u);
  a.Tick(1000 + 50000000);
  EXPECT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(a.counters().timed_out, 1u);
  EXPECT_FALSE(a.pending());
}

TEST(BatchAssembler, UnknownIndexAndSettlingDropped) {
  Sink sink;
  BatchAssembler a(Opts(), sink.cb());
  a.SetTargets({{1, 0}, {0, 0}, {3, 5000}});
  a.Add(R(0, 1, 0x1000, 0x2000, 0, 0, 1000));
  a.Add(R(1, 1, 0x1000, 0x2000, 0, 0, 1000));  // slot without a target
  a.Add(R(2, 1, 0x1000, 0x2000, 0, 0, 1000));  // before valid_from
  ASSERT_EQ(sink.batches.size(), 1u);
  EXPECT_EQ(sink.batches[0].size(), 1u);
  a.Add(R(0, 1, 0x1000, 0x2000, 0, 0, 6000));
  a.Add(R(5, 1, 0x1000, 0x2000, 0, 0, 6000));  // past the list: unknown, ends the batch
  ASSERT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(a.counters().unknown_target, 3u);
}

TEST(BatchAssembler, PageAlignedNonOverlappingAndPagedOutFlag) {
  Sink sink;
  PagedOutSet paged;
  paged.Add(1, 0x8000, 0x9000);
  BatchAssembler a(Opts(), sink.cb(), &paged);
  a.SetTargets({{1, 0}});
  a.Add(R(0, 4, 0x1234, 0x2100));  // -> [0x1000, 0x3000)
  a.Add(R(0, 4, 0x2100, 0x2200));  // -> [0x2000, 0x3000): clipped away
  a.Add(R(0, 4, 0x2200, 0x8800));  // -> [0x3000, 0x9000) after clipping: paged out
  a.Add(R(0, 4, 0x9000, 0x9000));  // empty: dropped
  ASSERT_EQ(sink.batches.size(), 1u);
  const auto& b = sink.batches[0];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].start, 0x1000u);
  EXPECT_EQ(b[0].end, 0x3000u);
  EXPECT_EQ(b[0].flags, 0);
  EXPECT_EQ(b[1].start, 0x3000u);
  EXPECT_EQ(b[1].end, 0x9000u);
  EXPECT_EQ(b[1].flags, WAVE_MEM_REGION_F_PAGED_OUT);
  EXPECT_EQ(a.counters().bad_range, 2u);
  ExpectEncodable(sink.infos[0], b);
}

TEST(BatchAssembler, TooManyRegionsMergedToFit) {
  Sink sink;
  BatchAssembler a(Opts(), sink.cb());
  a.SetTargets({{1, 0}, {2, 0}});
  const uint32_t n = 3000;
  for (uint32_t t = 0; t < 2; t++) {
    for (uint32_t i = 0; i < n; i++)
      a.Add(R(t, n, (i + 1) * 0x1000ull, (i + 2) * 0x1000ull, i % 21, i));
  }
  ASSERT_EQ(sink.batches.size(), 1u);
  const auto& b = sink.batches[0];
  EXPECT_LE(b.size(), WAVE_MEM_MAX_REGIONS);
  EXPECT_EQ(a.counters().merged, 2 * n - b.size());
  EXPECT_EQ(a.counters().overflow, 0u);
  uint64_t bytes = 0;
  for (const Region& r : b)
    bytes += r.bytes();
  EXPECT_EQ(bytes, 2ull * n * 0x1000);
  ExpectEncodable(sink.infos[0], b);
}

}  // namespace
}  // namespace wave::mem
