// The ring on its own, in one process: wraparound, full/empty edges, lazy credits, torn and
// fuzzed slots, fuzzed credits, descriptor validation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "wave/ring.h"
#include "wave_msg.h"

namespace wave {
namespace {

// A ring region in ordinary memory: header page + slots, credits in a second header.
class LocalRing {
 public:
  explicit LocalRing(uint32_t nr_slots, uint32_t slot_size = 64, uint32_t credit_batch = 0)
      : mem_(static_cast<uint8_t*>(std::aligned_alloc(4096, Size(nr_slots, slot_size)))),
        credit_hdr_(
            static_cast<wave_region_hdr*>(std::aligned_alloc(4096, sizeof(wave_region_hdr)))) {
    std::memset(mem_, 0, Size(nr_slots, slot_size));
    std::memset(credit_hdr_, 0, sizeof(wave_region_hdr));
    geo_.kind = WAVE_RING_KIND_RAW;
    geo_.slot_size = slot_size;
    geo_.nr_slots = nr_slots;
    geo_.credit_batch = credit_batch ? credit_batch : std::max(1u, nr_slots / 4);
    geo_.slots_off = WAVE_REGION_HDR_SIZE;
    WriteRingDesc(&hdr()->rings[0], geo_);
  }
  ~LocalRing() {
    std::free(mem_);
    std::free(credit_hdr_);
  }
  static size_t Size(uint32_t n, uint32_t s) { return WAVE_REGION_HDR_SIZE + size_t{n} * s; }
  wave_region_hdr* hdr() { return reinterpret_cast<wave_region_hdr*>(mem_); }
  uint8_t* slot(uint64_t pos) {
    return mem_ + geo_.slots_off + (pos % geo_.nr_slots) * geo_.slot_size;
  }
  wave_ring_credit* credit() { return &credit_hdr_->credits[0]; }
  uint64_t region_size() const { return Size(geo_.nr_slots, geo_.slot_size); }
  RingEndpoint endpoint() {
    RingEndpoint ep;
    ep.slots = mem_ + geo_.slots_off;
    ep.geo = geo_;
    ep.credit = credit();
    ep.consumer = &hdr()->consumers[0];
    return ep;
  }

 private:
  uint8_t* mem_;
  wave_region_hdr* credit_hdr_;
  RingGeometry geo_;
};

bool PushU64(RingProducer& p, uint64_t v) {
  return p.Enqueue(WAVE_MSG_RAW, &v, sizeof(v));
}

std::vector<uint64_t> PopAll(RingConsumer& c, uint32_t max = 1u << 30) {
  std::vector<uint64_t> out;
  c.DequeueBatch(max, [&](uint16_t type, const uint8_t* p, uint16_t len) {
    EXPECT_EQ(type, WAVE_MSG_RAW);
    EXPECT_EQ(len, 8);
    uint64_t v;
    std::memcpy(&v, p, 8);
    out.push_back(v);
  });
  return out;
}

// Random words in every slot of a ring of nr slots whose consumer is at pos; one slot in
// seq_one_in gets the sequence word its position will expect, with the rest still garbage.
void FillWithGarbage(LocalRing& r, uint32_t nr, uint64_t pos, uint32_t seq_one_in,
                     std::mt19937_64& rng) {
  for (uint32_t i = 0; i < nr; i++) {
    uint64_t* w = reinterpret_cast<uint64_t*>(r.slot(i));
    for (int k = 0; k < 8; k++)
      w[k] = rng();
    if (rng() % seq_one_in == 0)
      w[0] = pos + 1 + (i - pos % nr + nr) % nr;
  }
}

TEST(Ring, DescriptorRoundTrip) {
  LocalRing r(16);
  auto g = ReadRingDesc(&r.hdr()->rings[0], r.region_size());
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->nr_slots, 16u);
  EXPECT_EQ(g->slot_size, 64u);
}

TEST(Ring, WraparoundKeepsOrderOverManyLaps) {
  LocalRing r(8);
  RingProducer p(r.endpoint());
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  uint64_t next_in = 0, next_out = 0;
  std::mt19937 rng(1);
  while (next_out < 10000) {
    const uint32_t burst = 1 + rng() % 8;
    const uint32_t n = p.EnqueueBatch(burst, [&](uint32_t i, uint8_t* payload) {
      const uint64_t v = next_in + i;
      std::memcpy(payload, &v, 8);
      return std::pair<uint16_t, uint16_t>{WAVE_MSG_RAW, 8};
    });
    next_in += n;
    for (uint64_t v : PopAll(c, 1 + rng() % 8))
      ASSERT_EQ(v, next_out++);
  }
  EXPECT_GT(p.position(), 8u * 100);
  EXPECT_EQ(c.stats().bad_slots, 0u);
  EXPECT_EQ(c.stats().garbage_seqs, 0u);
}

// The across-the-link paths (two-pass batches with SFENCE, CLFLUSH before reads) are correct
// on ordinary memory too; run them over many laps.
TEST(Ring, LinkFencePathsKeepOrder) {
  LocalRing r(16);
  RingEndpoint pe = r.endpoint();
  pe.slot_mem = MemKind::kWriteCombining;
  pe.credit_mem = MemKind::kWriteThrough;
  RingEndpoint ce = r.endpoint();
  ce.slot_mem = MemKind::kWriteThrough;
  ce.credit_mem = MemKind::kWriteCombining;
  RingProducer p(pe);
  RingConsumer c(ce, RingConsumer::Start::kFresh);
  uint64_t next_in = 0, next_out = 0;
  while (next_out < 5000) {
    next_in += p.EnqueueBatch(5, [&](uint32_t i, uint8_t* payload) {
      const uint64_t v = next_in + i;
      std::memcpy(payload, &v, 8);
      return std::pair<uint16_t, uint16_t>{WAVE_MSG_RAW, 8};
    });
    for (uint64_t v : PopAll(c, 3))
      ASSERT_EQ(v, next_out++);
  }
  EXPECT_GT(p.stats().credit_reads, 0u);
  EXPECT_EQ(p.stats().bad_credits, 0u);
}

TEST(Ring, FullAndEmptyEdges) {
  LocalRing r(8, 64, 2);
  RingProducer p(r.endpoint());
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  EXPECT_TRUE(PopAll(c).empty());  // empty at start
  for (uint64_t i = 0; i < 8; i++)
    ASSERT_TRUE(PushU64(p, i));
  EXPECT_EQ(p.stats().credit_reads, 0u);  // never looked at credits while there was room
  EXPECT_FALSE(PushU64(p, 8));            // full: exactly nr_slots in flight
  EXPECT_EQ(p.stats().full, 1u);
  auto got = PopAll(c, 1);  // one consumed: below the credit batch, no credit yet
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(PushU64(p, 8));
  got = PopAll(c, 1);  // second: credit batch (2) reached, credits returned
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(PushU64(p, 8));
  EXPECT_TRUE(PushU64(p, 9));
  EXPECT_FALSE(PushU64(p, 10));
  got = PopAll(c);
  ASSERT_EQ(got.size(), 8u);
  for (uint64_t i = 0; i < 8; i++)
    EXPECT_EQ(got[i], i + 2);
  EXPECT_TRUE(PopAll(c).empty());  // empty again, and the dry poll returned every credit
  EXPECT_EQ(r.credit()->consumed, 10u);
}

TEST(Ring, TornSlotIsNeverAccepted) {
  LocalRing r(8);
  RingProducer p(r.endpoint());
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  ASSERT_TRUE(PushU64(p, 41));
  // A producer that died after writing payload and header but before the sequence word.
  uint8_t* s = r.slot(1);
  const uint64_t payload = 42;
  std::memcpy(s + 16, &payload, 8);
  const uint64_t meta = WAVE_MSG_RAW | (8ull << 16);
  std::memcpy(s + 8, &meta, 8);
  auto got = PopAll(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], 41u);
  EXPECT_TRUE(PopAll(c).empty());
  EXPECT_EQ(c.stats().garbage_seqs, 0u);
}

TEST(Ring, BadHeaderWithValidSequenceIsDroppedAndCounted) {
  LocalRing r(8);
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  uint8_t* s = r.slot(0);
  const uint64_t meta = WAVE_MSG_RAW | (4000ull << 16);  // len beyond the slot
  std::memcpy(s + 8, &meta, 8);
  const uint64_t seq = 1;
  std::memcpy(s, &seq, 8);
  EXPECT_TRUE(PopAll(c).empty());
  EXPECT_EQ(c.stats().bad_slots, 1u);
  EXPECT_EQ(c.position(), 1u);  // skipped, the stream goes on
}

// Garbage in every slot, polled with every batch size from 1 to 65 (one message at a time
// too): sometimes a right sequence word, sometimes a right header as well.
TEST(Ring, FuzzedSlotsNeverCrashAndAreCounted) {
  LocalRing r(64);
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  std::mt19937_64 rng(7);
  uint64_t delivered = 0;
  for (int round = 0; round < 4000; round++) {
    FillWithGarbage(r, 64, c.position(), 2, rng);
    for (uint32_t i = 0; i < 64; i++) {
      if (rng() % 3 == 0) {
        const uint64_t meta = WAVE_MSG_RAW | ((rng() % 49) << 16);
        std::memcpy(r.slot(i) + 8, &meta, 8);
      }
    }
    const uint32_t max = 1 + rng() % 65;
    const uint32_t n = c.DequeueBatch(max, [&](uint16_t, const uint8_t*, uint16_t len) {
      ASSERT_LE(len, 48);
      delivered++;
    });
    ASSERT_LE(n, max);
  }
  const RingStats& s = c.stats();
  EXPECT_GT(s.garbage_seqs, 0u);
  EXPECT_GT(s.bad_slots, 0u);
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(s.messages, delivered);
}

TEST(Ring, FuzzedCreditsAreRejectedAndNeverOverwriteUnreadSlots) {
  LocalRing r(8);
  RingProducer p(r.endpoint());
  for (uint64_t i = 0; i < 8; i++)
    ASSERT_TRUE(PushU64(p, i));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; i++) {
    uint64_t bogus = rng();
    if (bogus <= 8)
      bogus = 9 + i;  // beyond what was produced
    r.credit()->consumed = bogus;
    EXPECT_FALSE(PushU64(p, 100));
  }
  EXPECT_EQ(p.stats().bad_credits, 1000u);
  // The slots still hold 0..7 untouched.
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  r.credit()->consumed = 0;
  auto got = PopAll(c);
  ASSERT_EQ(got.size(), 8u);
  for (uint64_t i = 0; i < 8; i++)
    EXPECT_EQ(got[i], i);
  // A credit going backwards is rejected too: after 8 more the ring is full again, and a
  // credit of 3 (below the 8 seen before) must not open room.
  for (uint64_t i = 8; i < 16; i++)
    ASSERT_TRUE(PushU64(p, i));
  r.credit()->consumed = 3;
  EXPECT_FALSE(PushU64(p, 16));
  EXPECT_EQ(p.stats().bad_credits, 1001u);
}

TEST(Ring, FuzzedDescriptorsAreRejected) {
  std::mt19937_64 rng(11);
  wave_ring_desc d;
  int accepted = 0;
  for (int i = 0; i < 200000; i++) {
    auto* w = reinterpret_cast<uint64_t*>(&d);
    for (size_t k = 0; k < sizeof(d) / 8; k++)
      w[k] = rng();
    if (i % 2) {
      d.magic = WAVE_RING_MAGIC;
      d.version = WAVE_RING_VERSION;
      d.kind = static_cast<uint16_t>(1 + rng() % 5);
      d.slot_size = 64u << (rng() % 3);
      d.nr_slots = 1u << (rng() % 12);
      d.slots_off = (rng() % (1 << 14)) * 64;
      d.credit_batch = 1;
      d.flags = 0;
      d.credit_index = static_cast<uint32_t>(rng() % 5);
    }
    auto g = ReadRingDesc(&d, 1 << 20);
    if (!g.ok())
      continue;
    accepted++;
    EXPECT_LE(g->slots_off + g->slots_bytes(), 1u << 20);
    EXPECT_GE(g->slots_off, WAVE_REGION_HDR_SIZE);
  }
  EXPECT_GT(accepted, 0);
}

TEST(Ring, ConsumerResumesFromCommittedPosition) {
  LocalRing r(16);
  RingProducer p(r.endpoint());
  for (uint64_t i = 0; i < 10; i++)
    ASSERT_TRUE(PushU64(p, i));
  {
    RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
    ASSERT_EQ(PopAll(c, 3).size(), 3u);  // 0,1,2 consumed and committed; credit batch 4 not due
  }
  RingConsumer c2(r.endpoint(), RingConsumer::Start::kResume);
  auto got = PopAll(c2);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0], 3u);
  // A garbage restart point falls back to the credit cell (may repeat, never loses).
  r.hdr()->consumers[0].committed = 12345;
  RingConsumer c3(r.endpoint(), RingConsumer::Start::kResume);
  EXPECT_EQ(c3.position(), r.credit()->consumed);
  EXPECT_EQ(c3.stats().bad_credits, 1u);
}

// Writes slot pos by hand: payload v, then header, then sequence word pos + 1.
void PlantSlot(LocalRing& r, uint64_t pos, uint64_t v, uint64_t meta) {
  uint8_t* s = r.slot(pos);
  std::memcpy(s + 16, &v, 8);
  std::memcpy(s + 8, &meta, 8);
  const uint64_t seq = pos + 1;
  std::memcpy(s, &seq, 8);
}

constexpr uint64_t kRaw8 = WAVE_MSG_RAW | (8ull << 16);

// Every producer batch size against every consumer batch size, over laps of a small ring, so
// batches start at every offset and wrap the end of the slot array at every point; in
// coherent memory and with the across-the-link consumer (line flush before each read).
TEST(Ring, BatchesWrappingTheArrayKeepOrderAtEverySize) {
  for (const bool link_path : {false, true}) {
    for (uint32_t pb = 1; pb <= 8; pb++) {
      for (uint32_t cb = 1; cb <= 9; cb++) {
        LocalRing r(8, 64, 2);
        RingEndpoint ce = r.endpoint();
        if (link_path)
          ce.slot_mem = MemKind::kWriteThrough;
        RingProducer p(r.endpoint());
        RingConsumer c(ce, RingConsumer::Start::kFresh);
        uint64_t next_in = 0, next_out = 0;
        while (next_out < 200) {
          next_in += p.EnqueueBatch(pb, [&](uint32_t i, uint8_t* payload) {
            const uint64_t v = next_in + i;
            std::memcpy(payload, &v, 8);
            return std::pair<uint16_t, uint16_t>{WAVE_MSG_RAW, 8};
          });
          const std::vector<uint64_t> got = PopAll(c, cb);
          ASSERT_LE(got.size(), cb);
          for (uint64_t v : got)
            ASSERT_EQ(v, next_out++) << "producer batch " << pb << ", consumer batch " << cb;
        }
        EXPECT_EQ(c.stats().bad_slots + c.stats().garbage_seqs, 0u);
        EXPECT_EQ(c.stats().messages, next_out);
      }
    }
  }
}

// A dropped slot does not use up the caller's batch: the consumer looks one slot further.
TEST(Ring, DroppedSlotDoesNotCountAgainstTheBatch) {
  for (const uint32_t max : {1u, 2u, 8u}) {
    LocalRing r(8);
    RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
    PlantSlot(r, 0, 100, kRaw8);
    PlantSlot(r, 1, 101, kRaw8 | (1ull << 32));  // flags must be zero
    PlantSlot(r, 2, 102, kRaw8);
    PlantSlot(r, 3, 103, WAVE_MSG_RAW | (49ull << 16));  // one byte over the capacity
    PlantSlot(r, 4, 104, WAVE_MSG_RAW | (48ull << 16));  // exactly the capacity
    std::vector<uint64_t> got;
    for (int i = 0; i < 5 && got.size() < 3; i++) {
      c.DequeueBatch(max, [&](uint16_t, const uint8_t* payload, uint16_t) {
        uint64_t v;
        std::memcpy(&v, payload, 8);
        got.push_back(v);
      });
    }
    ASSERT_EQ(got.size(), 3u) << "max " << max;
    EXPECT_EQ(got[0], 100u);
    EXPECT_EQ(got[1], 102u);
    EXPECT_EQ(got[2], 104u);
    EXPECT_EQ(c.stats().bad_slots, 2u);
    EXPECT_EQ(c.position(), 5u);
    EXPECT_EQ(c.stats().messages, 3u);
  }
}

// Polling one message at a time, a bad first slot is dropped and the next valid one delivered.
TEST(Ring, SingleMessagePollSkipsABadFirstSlot) {
  LocalRing r(8);
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  PlantSlot(r, 0, 7, kRaw8 | (0xffffull << 16));
  PlantSlot(r, 1, 8, kRaw8);
  const std::vector<uint64_t> got = PopAll(c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], 8u);
  EXPECT_EQ(c.stats().bad_slots, 1u);
  EXPECT_EQ(c.position(), 2u);
}

TEST(Ring, ZeroBatchMovesNothingButReturnsCredits) {
  LocalRing r(8, 64, 4);
  RingProducer p(r.endpoint());
  RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
  ASSERT_TRUE(PushU64(p, 1));
  ASSERT_TRUE(PushU64(p, 2));
  EXPECT_TRUE(PopAll(c, 0).empty());
  EXPECT_EQ(c.position(), 0u);
  ASSERT_EQ(PopAll(c, 1).size(), 1u);  // below the credit batch: no credit yet
  EXPECT_EQ(r.credit()->consumed, 0u);
  EXPECT_TRUE(PopAll(c, 0).empty());  // nothing taken: like a dry poll, credits go back
  EXPECT_EQ(r.credit()->consumed, 1u);
  EXPECT_EQ(PopAll(c).size(), 1u);
}

// A garbage sequence word at the polled slot is counted once however often it is polled, one
// message at a time as in batches, and never delivered.
TEST(Ring, GarbageSequenceAtThePolledSlotIsCountedOnce) {
  for (const uint32_t max : {1u, 16u}) {
    LocalRing r(8);
    RingConsumer c(r.endpoint(), RingConsumer::Start::kFresh);
    PlantSlot(r, 0, 9, kRaw8);
    const uint64_t junk = 12345;
    std::memcpy(r.slot(0), &junk, 8);
    for (int i = 0; i < 10; i++)
      EXPECT_TRUE(PopAll(c, max).empty());
    EXPECT_EQ(c.stats().garbage_seqs, 1u);
    EXPECT_EQ(c.position(), 0u);
  }
}

}  // namespace
}  // namespace wave
