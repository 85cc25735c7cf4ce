// The memory link's batch and decision formats: what one side encodes the other decodes
// unchanged, and every kind of damage is refused with its own reason.
#include "wave/mem_batch.h"

#include <endian.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "wave/message_queue.h"

namespace wave::mem {
namespace {

constexpr uint64_t kPage = WAVE_MEM_PAGE_SIZE;

std::vector<Region> SomeRegions() {
  return {
      {.start = 0x10000, .end = 0x20000, .target = 1, .age = 3, .nr_accesses = 0},
      {.start = 0x20000, .end = 0x80000, .target = 1, .age = 0, .nr_accesses = 20},
      {.start = 0x1000,
       .end = 0x3000,
       .target = 2,
       .age = 9,
       .nr_accesses = 5,
       .flags = WAVE_MEM_REGION_F_PAGED_OUT},
  };
}

BatchInfo SomeInfo() {
  return {.seq = 7, .collected_ns = 123456789, .aggr_us = 100000, .max_accesses = 20};
}

std::vector<uint8_t> Encode(const std::vector<Region>& regions) {
  std::vector<uint8_t> buf(BatchBytes(regions.size()));
  EXPECT_EQ(EncodeBatch(SomeInfo(), regions, buf), buf.size());
  return buf;
}

// Rewrites the checksum after a deliberate edit, so the check under test is the one that fires.
void Reseal(std::vector<uint8_t>& buf) {
  wave_mem_batch_hdr h;
  std::memcpy(&h, buf.data(), sizeof(h));
  h.checksum = 0;
  std::memcpy(buf.data(), &h, sizeof(h));
  h.checksum = htole64(BatchChecksum(buf));
  std::memcpy(buf.data(), &h, sizeof(h));
}

wave_mem_region* RegionAt(std::vector<uint8_t>& buf, size_t i) {
  return reinterpret_cast<wave_mem_region*>(buf.data() + sizeof(wave_mem_batch_hdr) +
                                            i * sizeof(wave_mem_region));
}

wave_mem_batch_hdr* Header(std::vector<uint8_t>& buf) {
  return reinterpret_cast<wave_mem_batch_hdr*>(buf.data());
}

BatchError Decode(const std::vector<uint8_t>& buf) {
  BatchInfo info;
  std::vector<Region> regions;
  return DecodeBatch(buf, &info, &regions);
}

TEST(MemBatch, RoundTripKeepsEveryField) {
  const auto regions = SomeRegions();
  const auto buf = Encode(regions);
  BatchInfo info;
  std::vector<Region> out;
  ASSERT_EQ(DecodeBatch(buf, &info, &out), BatchError::kOk);
  EXPECT_EQ(info.seq, 7u);
  EXPECT_EQ(info.collected_ns, 123456789u);
  EXPECT_EQ(info.aggr_us, 100000u);
  EXPECT_EQ(info.max_accesses, 20u);
  ASSERT_EQ(out.size(), regions.size());
  for (size_t i = 0; i < out.size(); i++) {
    EXPECT_EQ(out[i].start, regions[i].start);
    EXPECT_EQ(out[i].end, regions[i].end);
    EXPECT_EQ(out[i].target, regions[i].target);
    EXPECT_EQ(out[i].age, regions[i].age);
    EXPECT_EQ(out[i].nr_accesses, regions[i].nr_accesses);
    EXPECT_EQ(out[i].flags, regions[i].flags);
  }
}

TEST(MemBatch, AnEmptyBatchIsValid) {
  const auto buf = Encode({});
  EXPECT_EQ(buf.size(), sizeof(wave_mem_batch_hdr));
  EXPECT_EQ(Decode(buf), BatchError::kOk);
}

TEST(MemBatch, EncodeRefusesWhatDoesNotFit) {
  const auto regions = SomeRegions();
  std::vector<uint8_t> small(BatchBytes(regions.size()) - 1);
  EXPECT_EQ(EncodeBatch(SomeInfo(), regions, small), 0u);
  std::vector<Region> many(WAVE_MEM_MAX_REGIONS + 1, Region{.start = 0, .end = kPage});
  std::vector<uint8_t> big(BatchBytes(many.size()));
  EXPECT_EQ(EncodeBatch(SomeInfo(), many, big), 0u);
}

TEST(MemBatch, EveryFlippedByteIsCaught) {
  const auto good = Encode(SomeRegions());
  for (size_t i = 0; i < good.size(); i++) {
    auto bad = good;
    bad[i] ^= 0x40;
    EXPECT_NE(Decode(bad), BatchError::kOk) << "byte " << i;
  }
}

TEST(MemBatch, TruncatedBatchesAreRefused) {
  auto buf = Encode(SomeRegions());
  EXPECT_EQ(Decode(std::vector<uint8_t>(buf.begin(), buf.begin() + 10)), BatchError::kTruncated);
  buf.pop_back();
  EXPECT_EQ(Decode(buf), BatchError::kTruncated);
}

TEST(MemBatch, HeaderDamageHasItsReason) {
  auto buf = Encode(SomeRegions());
  Header(buf)->version = htole16(2);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kMagic);

  buf = Encode(SomeRegions());
  Header(buf)->flags = htole32(1);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kFlags);

  buf = Encode(SomeRegions());
  Header(buf)->region_count = htole32(2);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kCount);

  buf = Encode(SomeRegions());
  Header(buf)->region_count = htole32(WAVE_MEM_MAX_REGIONS + 1);
  Header(buf)->total_bytes = htole64(BatchBytes(WAVE_MEM_MAX_REGIONS + 1));
  EXPECT_EQ(Decode(buf), BatchError::kCount);

  buf = Encode(SomeRegions());
  Header(buf)->max_accesses = 0;
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kAccesses);
}

TEST(MemBatch, RegionDamageHasItsReason) {
  auto buf = Encode(SomeRegions());
  RegionAt(buf, 0)->end = RegionAt(buf, 0)->start;
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kRange);

  buf = Encode(SomeRegions());
  RegionAt(buf, 1)->start = htole64(0x20010);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kRange);

  buf = Encode(SomeRegions());
  RegionAt(buf, 1)->start = htole64(0x18000);  // overlaps region 0
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kOrder);

  buf = Encode(SomeRegions());
  RegionAt(buf, 2)->target = htole32(0);  // targets out of order
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kOrder);

  buf = Encode(SomeRegions());
  RegionAt(buf, 1)->nr_accesses = htole16(21);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kAccesses);

  buf = Encode(SomeRegions());
  RegionAt(buf, 0)->flags = htole16(0x80);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kRegionFlags);

  buf = Encode(SomeRegions());
  RegionAt(buf, 0)->reserved = htole32(1);
  Reseal(buf);
  EXPECT_EQ(Decode(buf), BatchError::kRegionFlags);
}

TEST(MemBatch, EachErrorHasAName) {
  for (int e = 0; e < static_cast<int>(BatchError::kCountOfErrors); e++)
    EXPECT_STRNE(BatchErrorName(static_cast<BatchError>(e)), "unknown");
}

TEST(MemDecision, WellFormedDecisionsPass) {
  const Region r{.start = 0x40000, .end = 0x48000, .target = 3};
  for (uint8_t action = WAVE_MEM_COLD; action <= WAVE_MEM_ACTION_MAX; action++) {
    const auto d = EncodeDecision(9, r, action, WAVE_MEM_SRC_MODEL);
    EXPECT_TRUE(ValidDecision(d));
    EXPECT_EQ(le64toh(d.batch_seq), 9u);
    EXPECT_EQ(le64toh(d.start), 0x40000u);
    EXPECT_EQ(le64toh(d.len), 0x8000u);
    EXPECT_EQ(le32toh(d.target), 3u);
  }
}

TEST(MemDecision, MalformedDecisionsAreRefused) {
  const Region r{.start = 0x40000, .end = 0x48000, .target = 3};
  auto d = EncodeDecision(1, r, WAVE_MEM_KEEP, WAVE_MEM_SRC_MODEL);
  EXPECT_FALSE(ValidDecision(d));
  d = EncodeDecision(1, r, WAVE_MEM_ACTION_MAX + 1, WAVE_MEM_SRC_MODEL);
  EXPECT_FALSE(ValidDecision(d));
  d = EncodeDecision(1, r, WAVE_MEM_COLD, 0);
  EXPECT_FALSE(ValidDecision(d));
  d = EncodeDecision(1, r, WAVE_MEM_COLD, WAVE_MEM_SRC_FALLBACK);
  d.reserved = 1;
  EXPECT_FALSE(ValidDecision(d));
  d = EncodeDecision(1, r, WAVE_MEM_COLD, WAVE_MEM_SRC_FALLBACK);
  d.len = 0;
  EXPECT_FALSE(ValidDecision(d));
  d.len = htole64(100);
  EXPECT_FALSE(ValidDecision(d));
  d.len = htole64(kPage);
  d.start = htole64(~0ull & ~(kPage - 1));  // wraps
  EXPECT_FALSE(ValidDecision(d));
}

TEST(MemMessages, TheRingConsumerAppliesTheSameRules) {
  Message m;
  m.type = WAVE_MSG_MEM_BATCH;
  m.len = sizeof(wave_mem_batch_ready);
  m.mem_batch = {.seq = htole64(1), .slot = htole32(0), .len = htole32(64)};
  EXPECT_TRUE(ValidMessage(m));
  m.mem_batch.slot = htole32(WAVE_MEM_BATCH_SLOTS);
  EXPECT_FALSE(ValidMessage(m));
  m.mem_batch = {.seq = htole64(1), .slot = htole32(0), .len = htole32(WAVE_MEM_BATCH_MAX + 1)};
  EXPECT_FALSE(ValidMessage(m));
  m.mem_batch = {.seq = 0, .slot = 0, .len = htole32(64)};
  EXPECT_FALSE(ValidMessage(m));

  m.type = WAVE_MSG_MEM_DECISION;
  m.len = sizeof(wave_mem_decision);
  m.mem_decision =
      EncodeDecision(1, Region{.start = 0, .end = kPage}, WAVE_MEM_PAGEOUT, WAVE_MEM_SRC_MODEL);
  EXPECT_TRUE(ValidMessage(m));
  m.mem_decision.action = 9;
  EXPECT_FALSE(ValidMessage(m));

  m.type = WAVE_MSG_MEM_BATCH_DONE;
  m.len = sizeof(wave_mem_batch_done);
  m.mem_done = {.seq = htole64(4),
                .slot = htole32(1),
                .status = htole32(WAVE_MEM_BATCH_LATE),
                .decisions = 0,
                .agent_ns = 0};
  EXPECT_TRUE(ValidMessage(m));
  m.mem_done.status = htole32(WAVE_MEM_BATCH_LATE + 1);
  EXPECT_FALSE(ValidMessage(m));
  m.len = sizeof(wave_mem_batch_done) - 1;
  m.mem_done.status = 0;
  EXPECT_FALSE(ValidMessage(m));
}

}  // namespace
}  // namespace wave::mem
