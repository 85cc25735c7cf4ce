// The migration link's ring treats everything the peer wrote as untrusted: bad positions, bad
// headers and bad lengths break the ring (counted) instead of being followed.
#include "migration/shm_ring.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dmo_table.h"
#include "migration/state_transfer.h"
#include "runtime/migration/shm_link.h"

namespace wave::rt::mig {
namespace {

struct RingPair {
  std::vector<std::byte> mem = std::vector<std::byte>(ShmRing::bytes_for(8192));
  RingPair() { EXPECT_TRUE(ShmRing::format(mem)); }
  RingShared* shared() { return reinterpret_cast<RingShared*>(mem.data()); }
};

std::vector<std::byte> payload(size_t n, uint8_t v) {
  return std::vector<std::byte>(n, std::byte{v});
}

TEST(ShmRing, FramesRoundTripAcrossWrap) {
  RingPair p;
  ShmRing tx(p.mem), rx(p.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  uint64_t sent = 0, got = 0;
  for (int round = 0; round < 200; ++round) {
    const size_t n = 100 + (round * 37) % 1500;
    auto data = payload(n, static_cast<uint8_t>(round));
    ASSERT_TRUE(tx.send(FrameType::kRequest, 1, 0, round, n, data));
    ++sent;
    ASSERT_EQ(rx.recv([&](const FrameHeader& h, std::span<const std::byte> p) {
      EXPECT_EQ(h.arg0, static_cast<uint64_t>(round));
      ASSERT_EQ(p.size(), n);
      EXPECT_EQ(p[n - 1], std::byte{static_cast<uint8_t>(round)});
      ++got;
    }),
              FrameChannel::Recv::kFrame);
  }
  EXPECT_EQ(sent, got);
  EXPECT_EQ(rx.recv([](auto&, auto) {}), FrameChannel::Recv::kEmpty);
}

TEST(ShmRing, FullRingRefusesUntilConsumed) {
  RingPair p;
  ShmRing tx(p.mem), rx(p.mem);
  auto data = payload(1000, 1);
  int n = 0;
  while (tx.send(FrameType::kRequest, 1, 0, 0, 0, data))
    ++n;
  EXPECT_GT(n, 4);
  EXPECT_TRUE(tx.ok());  // full is not broken
  ASSERT_EQ(rx.recv([](auto&, auto) {}), FrameChannel::Recv::kFrame);
  EXPECT_TRUE(tx.send(FrameType::kRequest, 1, 0, 0, 0, data));
}

TEST(ShmRing, ProducerPositionBeyondBufferBreaksConsumer) {
  RingPair p;
  ShmRing rx(p.mem);
  p.shared()->head.store(1 << 20);
  EXPECT_EQ(rx.recv([](auto&, auto) { FAIL(); }), FrameChannel::Recv::kBroken);
  EXPECT_FALSE(rx.ok());
}

TEST(ShmRing, ConsumerPositionAheadOfProducerBreaksProducer) {
  RingPair p;
  ShmRing tx(p.mem);
  p.shared()->tail.store(4096);
  EXPECT_FALSE(tx.send(FrameType::kRequest, 1, 0, 0, 0, {}));
  EXPECT_FALSE(tx.ok());
}

TEST(ShmRing, BadMagicTypeOrLengthBreaksConsumer) {
  for (int which = 0; which < 3; ++which) {
    RingPair p;
    ShmRing tx(p.mem), rx(p.mem);
    ASSERT_TRUE(tx.send(FrameType::kRequest, 1, 0, 0, 0, payload(64, 0)));
    FrameHeader h;
    std::memcpy(&h, p.shared()->data, sizeof h);
    if (which == 0)
      h.magic ^= 1;
    if (which == 1)
      h.type = 77;
    if (which == 2)
      h.len = 1 << 30;  // claims more than the producer published
    std::memcpy(p.shared()->data, &h, sizeof h);
    EXPECT_EQ(rx.recv([](auto&, auto) { FAIL(); }), FrameChannel::Recv::kBroken) << which;
  }
}

TEST(ShmRing, LyingSizeInHeaderRefused) {
  RingPair p;
  p.shared()->size = 1u << 30;  // larger than the mapping
  ShmRing r(p.mem);
  EXPECT_FALSE(r.ok());
}

TEST(StateReceiver, RefusesInconsistentStates) {
  DmoTable table;
  StateReceiver rx(table);
  StateBegin b{};
  b.root = make_object_id(5, 1, 0);
  b.mem_cap = 4096;
  b.total_bytes = 64;
  b.objects = 1;
  FrameHeader h{kFrameMagic, static_cast<uint16_t>(FrameType::kStateBegin), 0, 5, sizeof b, 1, 64};
  auto begin = [&] { return rx.on_frame(h, std::as_bytes(std::span(&b, 1))); };
  ASSERT_EQ(begin(), StateReceiver::Step::kMore);
  // An object bigger than announced.
  FrameHeader obj{kFrameMagic, static_cast<uint16_t>(FrameType::kObject), 0, 5, 0, b.root, 65};
  EXPECT_EQ(rx.on_frame(obj, {}), StateReceiver::Step::kError);
  EXPECT_FALSE(table.has_space(5));  // the partial actor is gone
  // A chunk past the object's end.
  ASSERT_EQ(begin(), StateReceiver::Step::kMore);
  obj.arg1 = 64;
  ASSERT_EQ(rx.on_frame(obj, {}), StateReceiver::Step::kMore);
  auto data = payload(65, 1);
  FrameHeader chunk{kFrameMagic, static_cast<uint16_t>(FrameType::kChunk), 0, 5, 65, b.root, 0};
  EXPECT_EQ(rx.on_frame(chunk, data), StateReceiver::Step::kError);
  // End before the bytes arrived.
  ASSERT_EQ(begin(), StateReceiver::Step::kMore);
  ASSERT_EQ(rx.on_frame(obj, {}), StateReceiver::Step::kMore);
  FrameHeader end{kFrameMagic, static_cast<uint16_t>(FrameType::kStateEnd), 0, 5, 0, 1, 64};
  EXPECT_EQ(rx.on_frame(end, {}), StateReceiver::Step::kError);
  // A root that belongs to another actor.
  b.root = make_object_id(6, 1, 0);
  EXPECT_EQ(begin(), StateReceiver::Step::kError);
  // The complete, consistent sequence works.
  b.root = make_object_id(5, 1, 0);
  ASSERT_EQ(begin(), StateReceiver::Step::kMore);
  ASSERT_EQ(rx.on_frame(obj, {}), StateReceiver::Step::kMore);
  chunk.len = 64;
  ASSERT_EQ(rx.on_frame(chunk, std::span(data).first(64)), StateReceiver::Step::kMore);
  EXPECT_EQ(rx.on_frame(end, {}), StateReceiver::Step::kDone);
  EXPECT_EQ(table.usage(5).used_bytes, 64u);
}

TEST(ShmLink, SeparateViewsSeeEachOther) {
  auto link = ShmLink::create(1 << 16);
  ASSERT_TRUE(link);
  auto nic = link->open(LinkSide::kNic);
  auto host = link->open(LinkSide::kHost);
  ASSERT_TRUE(nic && host && nic->ok() && host->ok());
  ASSERT_TRUE(nic->tx().send(FrameType::kPull, 3, 0, 0, 0, {}));
  int got = 0;
  EXPECT_EQ(host->rx().recv([&](const FrameHeader& h, auto) { got = h.actor; }),
            FrameChannel::Recv::kFrame);
  EXPECT_EQ(got, 3);
  ASSERT_TRUE(host->tx().send(FrameType::kStateAck, 4, 0, 0, 0, {}));
  EXPECT_EQ(nic->rx().recv([&](const FrameHeader& h, auto) { got = h.actor; }),
            FrameChannel::Recv::kFrame);
  EXPECT_EQ(got, 4);
}

}  // namespace
}  // namespace wave::rt::mig
