// The batch encoder of uapi/wave_mem_kpath.h (C, the one wave.ko runs) against libwave's
// EncodeBatch and DecodeBatch: the same bytes, and batches the NIC's decoder accepts.
#include <endian.h>

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "wave/mem_batch.h"
#include "wave_mem_kpath.h"

namespace wave::mem {
namespace {

// What wave.ko does: regions after the header, then the header and checksum.
std::vector<uint8_t> KernelEncode(const BatchInfo& info, const std::vector<Region>& regions) {
  std::vector<uint8_t> buf(BatchBytes(regions.size()));
  auto* w = reinterpret_cast<wave_mem_region*>(buf.data() + sizeof(wave_mem_batch_hdr));
  for (size_t i = 0; i < regions.size(); i++) {
    const Region& r = regions[i];
    wave_mem_region_fill(&w[i], r.start, r.end, r.target, r.age, r.nr_accesses, r.flags);
  }
  const uint64_t total =
      wave_mem_batch_finish(buf.data(), static_cast<uint32_t>(regions.size()), info.seq,
                            info.collected_ns, info.aggr_us, info.max_accesses);
  EXPECT_EQ(total, buf.size());
  return buf;
}

std::vector<Region> RandomRegions(std::mt19937_64& rng, size_t n, uint16_t max_accesses) {
  std::vector<Region> out;
  uint32_t target = 1;
  uint64_t at = 0x10000;
  for (size_t i = 0; i < n; i++) {
    if (rng() % 8 == 0) {
      target += 1 + static_cast<uint32_t>(rng() % 3);
      at = 0x10000;
    }
    Region r;
    r.target = target;
    r.start = at + (rng() % 4) * WAVE_MEM_PAGE_SIZE;
    r.end = r.start + (1 + rng() % 64) * WAVE_MEM_PAGE_SIZE;
    r.age = static_cast<uint32_t>(rng());
    r.nr_accesses = static_cast<uint16_t>(rng() % (max_accesses + 1u));
    at = r.end;
    out.push_back(r);
  }
  return out;
}

TEST(MemKpath, SameBytesAsEncodeBatch) {
  std::mt19937_64 rng(7);
  for (size_t n : {0, 1, 2, 15, 100, 1000, static_cast<int>(WAVE_MEM_MAX_REGIONS)}) {
    BatchInfo info;
    info.seq = 1 + rng() % 1000;
    info.collected_ns = rng();
    info.aggr_us = 100000;
    info.max_accesses = 20;
    const std::vector<Region> regions = RandomRegions(rng, n, info.max_accesses);
    std::vector<uint8_t> lib(WAVE_MEM_BATCH_MAX);
    const size_t len = EncodeBatch(info, regions, lib);
    ASSERT_EQ(len, BatchBytes(n));
    lib.resize(len);
    EXPECT_EQ(KernelEncode(info, regions), lib) << n << " regions";
  }
}

TEST(MemKpath, DecodesToWhatWasEncoded) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 50; round++) {
    BatchInfo info;
    info.seq = rng();
    info.collected_ns = rng();
    info.aggr_us = static_cast<uint32_t>(1 + rng() % 1000000);
    info.max_accesses = static_cast<uint16_t>(1 + rng() % 100);
    const std::vector<Region> regions = RandomRegions(rng, rng() % 300, info.max_accesses);
    std::vector<uint8_t> buf = KernelEncode(info, regions);
    BatchInfo got;
    std::vector<Region> out;
    ASSERT_EQ(DecodeBatch(buf, &got, &out), BatchError::kOk);
    EXPECT_EQ(got.seq, info.seq);
    EXPECT_EQ(got.collected_ns, info.collected_ns);
    EXPECT_EQ(got.aggr_us, info.aggr_us);
    EXPECT_EQ(got.max_accesses, info.max_accesses);
    ASSERT_EQ(out.size(), regions.size());
    for (size_t i = 0; i < out.size(); i++) {
      EXPECT_EQ(out[i].start, regions[i].start);
      EXPECT_EQ(out[i].end, regions[i].end);
      EXPECT_EQ(out[i].target, regions[i].target);
      EXPECT_EQ(out[i].age, regions[i].age);
      EXPECT_EQ(out[i].nr_accesses, regions[i].nr_accesses);
    }
    EXPECT_EQ(le64toh(reinterpret_cast<const wave_mem_batch_hdr*>(buf.data())->checksum),
              BatchChecksum(buf));
    // Any flipped byte of a region or of the checksummed header fails the decode.
    if (!regions.empty()) {
      const size_t at = sizeof(wave_mem_batch_hdr) + rng() % (buf.size() - 64);
      buf[at] ^= static_cast<uint8_t>(1 + rng() % 255);
      EXPECT_NE(DecodeBatch(buf, &got, &out), BatchError::kOk);
    }
  }
}

}  // namespace
}  // namespace wave::mem
