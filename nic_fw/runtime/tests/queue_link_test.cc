// Frames over a Wave device's queues (queue_link.h, slot_frame_channel.h) on a shm: device:
// framing of every size class, back-pressure, a peer that writes garbage into the ring, link
// discovery that refuses garbage descriptors, and a receiver that sleeps until rung.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "migration/slot_frame_channel.h"
#include "runtime/migration/queue_link.h"
#include "wave/device.h"
#include "wave/ring.h"
#include "wave_frame_link.h"

namespace wave::rt::mig {
namespace {

std::string unique_spec() {
  static int n = 0;
  return "shm:qlink-test-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

std::vector<std::byte> pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return v;
}

struct Pair {
  std::shared_ptr<Device> host_dev;
  std::unique_ptr<QueueLink> host;
  std::unique_ptr<QueueLink> nic;

  explicit Pair(QueueLinkConfig cfg = {}, uint64_t window = 1 << 20) {
    std::string why;
    const std::string spec = unique_spec();
    DeviceOptions opts;
    opts.host_window_size = window;
    auto d = Device::Open(spec, Role::kHost, opts);
    EXPECT_TRUE(d) << d.error().message;
    host_dev = std::move(d.value());
    host = QueueLink::create(host_dev, cfg, &why);
    EXPECT_TRUE(host) << why;
    nic = QueueLink::open(spec, LinkSide::kNic, cfg, window, &why);
    EXPECT_TRUE(nic) << why;
  }
};

struct Got {
  FrameHeader h{};
  std::vector<std::byte> payload;
};

FrameChannel::Recv recv_one(FrameChannel& ch, Got* got) {
  return ch.recv([&](const FrameHeader& h, std::span<const std::byte> p) {
    got->h = h;
    got->payload.assign(p.begin(), p.end());
  });
}

// 0 bytes, a full first slot, one byte more (two slots), many slots, the largest frame.
TEST(QueueLink, FramingRoundTripsEverySize) {
  Pair p;
  ASSERT_TRUE(p.host && p.nic);
  const size_t first = 1024 - 16 - 8 - sizeof(FrameHeader);
  const std::vector<size_t> sizes = {0, 1, first, first + 1, 100000, kMaxFramePayload};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto data = pattern(sizes[i], static_cast<uint8_t>(i));
    for (int dir = 0; dir < 2; ++dir) {
      FrameChannel& tx = dir == 0 ? p.host->tx() : p.nic->tx();
      FrameChannel& rx = dir == 0 ? p.nic->rx() : p.host->rx();
      ASSERT_TRUE(tx.send(FrameType::kChunk, 7 + i, 3, 0x1122334455667788ull, i, data)) << sizes[i];
      Got got;
      ASSERT_EQ(recv_one(rx, &got), FrameChannel::Recv::kFrame) << sizes[i];
      EXPECT_EQ(got.h.type, static_cast<uint16_t>(FrameType::kChunk));
      EXPECT_EQ(got.h.actor, 7 + i);
      EXPECT_EQ(got.h.flags, 3);
      EXPECT_EQ(got.h.arg0, 0x1122334455667788ull);
      EXPECT_EQ(got.h.arg1, i);
      EXPECT_EQ(got.h.len, sizes[i]);
      EXPECT_EQ(got.payload, data) << sizes[i];
      EXPECT_EQ(recv_one(rx, &got), FrameChannel::Recv::kEmpty);
    }
  }
  EXPECT_EQ(p.host->tx_stats().frames, sizes.size());
  EXPECT_EQ(p.nic->rx_stats().frames, sizes.size());
  EXPECT_EQ(p.host->tx_stats().slots, 1 + 1 + 1 + 2 + SlotFrameChannel::slots_for(1024, 100000) +
                                          SlotFrameChannel::slots_for(1024, kMaxFramePayload));
  EXPECT_TRUE(p.host->ok() && p.nic->ok());
}

TEST(QueueLink, OversizePayloadIsRefusedBySender) {
  Pair p;
  ASSERT_TRUE(p.host && p.nic);
  const auto big = pattern(kMaxFramePayload + 1, 1);
  EXPECT_FALSE(p.host->tx().send(FrameType::kChunk, 1, 0, 0, 0, big));
  EXPECT_TRUE(p.host->tx().ok());
  EXPECT_EQ(p.host->tx_stats().slots, 0u);
}

// A full ring refuses whole frames (send false), loses nothing, keeps the order, and takes
// frames again once the consumer has returned credits.
TEST(QueueLink, FullRingBackPressureKeepsOrder) {
  QueueLinkConfig cfg;
  cfg.nr_slots = 512;  // a largest frame (261 slots) fits once
  Pair p(cfg);
  ASSERT_TRUE(p.host && p.nic);
  const auto data = pattern(5000, 9);  // 6 slots a frame
  uint64_t sent = 0;
  while (p.host->tx().send(FrameType::kRequest, 1, 0, sent, 0, data))
    ++sent;
  EXPECT_EQ(sent, 512u / SlotFrameChannel::slots_for(1024, data.size()));
  EXPECT_GE(p.host->tx_stats().full, 1u);
  EXPECT_TRUE(p.host->tx().ok());
  uint64_t next = 0;
  Got got;
  // Half the frames out, then the sender must have room again.
  while (next < sent / 2) {
    ASSERT_EQ(recv_one(p.nic->rx(), &got), FrameChannel::Recv::kFrame);
    EXPECT_EQ(got.h.arg0, next++);
    EXPECT_EQ(got.payload, data);
  }
  // The consumer returns credits every nr_slots/4 slots or when it runs dry; drain fully.
  while (recv_one(p.nic->rx(), &got) == FrameChannel::Recv::kFrame) {
    EXPECT_EQ(got.h.arg0, next++);
    EXPECT_EQ(got.payload, data);
  }
  EXPECT_EQ(next, sent);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(p.host->tx().send(FrameType::kRequest, 1, 0, sent + i, 0, data));
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(recv_one(p.nic->rx(), &got), FrameChannel::Recv::kFrame);
    EXPECT_EQ(got.h.arg0, sent + i);
  }
  EXPECT_TRUE(p.nic->rx().ok());
}

// A producer on the host-to-NIC ring that bypasses the channel: the misbehaving peer.
RingProducer raw_producer(QueueLink& host) {
  Device& dev = host.device();
  auto ring = dev.MapQueue(host.tx_queue());
  auto credit = dev.MapQueue(host.rx_queue());
  EXPECT_TRUE(ring && credit);
  auto* hdr = reinterpret_cast<wave_region_hdr*>(ring->base);
  auto geo = ReadRingDesc(&hdr->rings[0], ring->size);
  EXPECT_TRUE(geo);
  RingEndpoint ep;
  ep.slots = ring->base + geo->slots_off;
  ep.geo = geo.value();
  ep.credit = &reinterpret_cast<wave_region_hdr*>(credit->base)->credits[geo->credit_index];
  ep.consumer = &hdr->consumers[0];
  return RingProducer(ep);
}

struct RawSlot {
  uint16_t type = WAVE_FRAME_SLOT_FIRST;
  uint32_t seq = 0;
  uint32_t index = 0;
  bool with_header = true;
  FrameHeader h{kFrameMagic, static_cast<uint16_t>(FrameType::kRequest), 0, 1, 0, 0, 0};
  size_t data = 0;  // payload bytes after the prefix (and header)
};

void put(RingProducer& prod, const std::vector<RawSlot>& slots) {
  ASSERT_EQ(prod.EnqueueBatch(static_cast<uint32_t>(slots.size()),
                              [&](uint32_t i, uint8_t* p) -> std::pair<uint16_t, uint16_t> {
                                const RawSlot& s = slots[i];
                                const wave_frame_slot_prefix pre{s.seq, s.index};
                                std::memcpy(p, &pre, sizeof pre);
                                size_t len = sizeof pre;
                                if (s.with_header) {
                                  std::memcpy(p + len, &s.h, sizeof s.h);
                                  len += sizeof s.h;
                                }
                                std::memset(p + len, 0xab, s.data);
                                return {s.type, static_cast<uint16_t>(len + s.data)};
                              }),
            slots.size());
}

// The garbage of one case breaks the NIC's receiving channel, counted under `counter`.
void expect_broken(const std::vector<RawSlot>& garbage, uint64_t FrameLinkStats::*counter) {
  Pair p;
  ASSERT_TRUE(p.host && p.nic);
  RingProducer prod = raw_producer(*p.host);
  // One good frame first: it is delivered; the garbage after it is not.
  RawSlot good;
  put(prod, {good});
  put(prod, garbage);
  Got got;
  EXPECT_EQ(recv_one(p.nic->rx(), &got), FrameChannel::Recv::kFrame);
  EXPECT_EQ(recv_one(p.nic->rx(), &got), FrameChannel::Recv::kBroken);
  EXPECT_FALSE(p.nic->rx().ok());
  EXPECT_FALSE(p.nic->ok());
  EXPECT_EQ(p.nic->rx_stats().*counter, 1u);
  // Broken for good, even when good frames follow.
  RawSlot later;
  later.seq = 2;
  put(prod, {later});
  EXPECT_EQ(recv_one(p.nic->rx(), &got), FrameChannel::Recv::kBroken);
  EXPECT_EQ(p.nic->rx_stats().frames, 1u);
}

TEST(QueueLinkGarbage, BadMagicBreaksTheChannel) {
  RawSlot s;
  s.seq = 1;
  s.h.magic = 0xdeadbeef;
  expect_broken({s}, &FrameLinkStats::bad_header);
}

TEST(QueueLinkGarbage, UnknownFrameTypeBreaksTheChannel) {
  RawSlot s;
  s.seq = 1;
  s.h.type = kMaxFrameType + 1;
  expect_broken({s}, &FrameLinkStats::bad_header);
}

TEST(QueueLinkGarbage, UnknownSlotTypeBreaksTheChannel) {
  RawSlot s;
  s.seq = 1;
  s.type = 77;
  expect_broken({s}, &FrameLinkStats::bad_header);
}

TEST(QueueLinkGarbage, SlotLengthDisagreeingWithHeaderBreaksTheChannel) {
  RawSlot s;
  s.seq = 1;
  s.h.len = 10;
  s.data = 3;
  expect_broken({s}, &FrameLinkStats::bad_header);
}

TEST(QueueLinkGarbage, OversizeLengthBreaksTheChannel) {
  RawSlot s;
  s.seq = 1;
  s.h.len = kMaxFramePayload + 1;
  s.data = 1024 - 16 - 40;
  expect_broken({s}, &FrameLinkStats::oversize);
}

TEST(QueueLinkGarbage, ContinuationOutOfOrderBreaksTheChannel) {
  const size_t first = 1024 - 16 - 40, cont = 1024 - 16 - 8;
  RawSlot a;
  a.seq = 1;
  a.h.len = static_cast<uint32_t>(first + 2 * cont);
  a.data = first;
  RawSlot b;
  b.type = WAVE_FRAME_SLOT_CONT;
  b.seq = 1;
  b.index = 2;  // skips 1
  b.with_header = false;
  b.data = cont;
  expect_broken({a, b}, &FrameLinkStats::bad_continuation);
}

TEST(QueueLinkGarbage, ContinuationOfAnotherFrameBreaksTheChannel) {
  const size_t first = 1024 - 16 - 40, cont = 1024 - 16 - 8;
  RawSlot a;
  a.seq = 1;
  a.h.len = static_cast<uint32_t>(first + cont);
  a.data = first;
  RawSlot b;
  b.type = WAVE_FRAME_SLOT_CONT;
  b.seq = 5;
  b.index = 1;
  b.with_header = false;
  b.data = cont;
  expect_broken({a, b}, &FrameLinkStats::bad_continuation);
}

TEST(QueueLinkGarbage, NewFrameBeforeTheLastEndedBreaksTheChannel) {
  const size_t first = 1024 - 16 - 40;
  RawSlot a;
  a.seq = 1;
  a.h.len = static_cast<uint32_t>(first + 1);
  a.data = first;
  RawSlot b;
  b.seq = 2;
  expect_broken({a, b}, &FrameLinkStats::bad_continuation);
}

TEST(QueueLinkGarbage, ContinuationWithoutAFrameBreaksTheChannel) {
  RawSlot b;
  b.type = WAVE_FRAME_SLOT_CONT;
  b.seq = 1;
  b.index = 1;
  b.with_header = false;
  expect_broken({b}, &FrameLinkStats::bad_continuation);
}

TEST(QueueLinkGarbage, FirstSlotOutOfSequenceBreaksTheChannel) {
  RawSlot s;
  s.seq = 9;
  expect_broken({s}, &FrameLinkStats::bad_continuation);
}

// Discovery: the NIC side refuses descriptors and info blocks that do not make a link.
class QueueLinkAttach : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = unique_spec();
    auto d = Device::Open(spec_, Role::kHost, {});
    ASSERT_TRUE(d);
    dev_ = std::move(d.value());
    std::string why;
    host_ = QueueLink::create(dev_, {}, &why);
    ASSERT_TRUE(host_) << why;
  }
  uint8_t* region(uint32_t id) { return dev_->MapQueue(id)->base; }
  std::string attach_error(const std::string& name = kMigrationLinkName) {
    std::string why;
    auto nic = QueueLink::open(spec_, LinkSide::kNic, {.name = name}, 1 << 20, &why);
    return nic ? "" : why;
  }
  std::string spec_;
  std::shared_ptr<Device> dev_;
  std::unique_ptr<QueueLink> host_;
};

TEST_F(QueueLinkAttach, FindsTheLinkByName) {
  EXPECT_EQ(attach_error(), "");
  EXPECT_NE(attach_error("storage").find("no frame link called 'storage'"), std::string::npos);
}

TEST_F(QueueLinkAttach, TwoLinksOnOneDeviceAreFoundApart) {
  std::string why;
  auto other = QueueLink::create(dev_, {.name = "storage", .nr_slots = 512}, &why);
  ASSERT_TRUE(other) << why;
  auto nic_a = QueueLink::open(spec_, LinkSide::kNic, {}, 1 << 20, &why);
  auto nic_b = QueueLink::open(spec_, LinkSide::kNic, {.name = "storage"}, 1 << 20, &why);
  ASSERT_TRUE(nic_a && nic_b) << why;
  ASSERT_TRUE(host_->tx().send(FrameType::kRequest, 1, 0, 0, 0, {}));
  ASSERT_TRUE(other->tx().send(FrameType::kRequest, 2, 0, 0, 0, {}));
  Got got;
  ASSERT_EQ(recv_one(nic_a->rx(), &got), FrameChannel::Recv::kFrame);
  EXPECT_EQ(got.h.actor, 1u);
  ASSERT_EQ(recv_one(nic_b->rx(), &got), FrameChannel::Recv::kFrame);
  EXPECT_EQ(got.h.actor, 2u);
}

TEST_F(QueueLinkAttach, RefusesGarbageRingDescriptor) {
  auto* hdr = reinterpret_cast<wave_region_hdr*>(region(host_->tx_queue()));
  hdr->rings[0].slot_size = 1000;  // not a power of two
  EXPECT_NE(attach_error().find("slot size"), std::string::npos) << attach_error();
}

TEST_F(QueueLinkAttach, RefusesRingTooSmallForALargestFrame) {
  auto* hdr = reinterpret_cast<wave_region_hdr*>(region(host_->tx_queue()));
  hdr->rings[0].nr_slots = 64;
  hdr->rings[0].credit_batch = 16;
  EXPECT_NE(attach_error().find("cannot hold a largest frame"), std::string::npos)
      << attach_error();
}

TEST_F(QueueLinkAttach, RefusesCrossedCreditCells) {
  auto* hdr = reinterpret_cast<wave_region_hdr*>(region(host_->rx_queue()));
  hdr->rings[0].credit_queue = host_->rx_queue();  // its own region instead of the peer's
  EXPECT_NE(attach_error().find("not a frame ring of this link"), std::string::npos)
      << attach_error();
}

TEST_F(QueueLinkAttach, RefusesPeerThatDoesNotPointBack) {
  auto* info =
      reinterpret_cast<wave_frame_link_info*>(region(host_->rx_queue()) + WAVE_FRAME_LINK_INFO_OFF);
  info->link_id ^= 1;
  EXPECT_NE(attach_error().find("do not describe one link"), std::string::npos) << attach_error();
}

TEST_F(QueueLinkAttach, RefusesAPeerQueueThatIsNotThere) {
  auto* info =
      reinterpret_cast<wave_frame_link_info*>(region(host_->tx_queue()) + WAVE_FRAME_LINK_INFO_OFF);
  info->peer_queue = WAVE_MAX_QUEUES + 5;
  EXPECT_NE(attach_error().find("peer queue"), std::string::npos) << attach_error();
}

TEST_F(QueueLinkAttach, RefusesAnUnknownVersion) {
  auto* info =
      reinterpret_cast<wave_frame_link_info*>(region(host_->tx_queue()) + WAVE_FRAME_LINK_INFO_OFF);
  info->version = 9;
  EXPECT_NE(attach_error().find("version 9"), std::string::npos) << attach_error();
}

TEST_F(QueueLinkAttach, GoneOnceTheHostDestroysIt) {
  host_.reset();
  EXPECT_NE(attach_error().find("no frame link"), std::string::npos) << attach_error();
}

// An idle receiver sleeps in wait_rx and is woken by the sender's notification, well before
// its timeout.
TEST(QueueLink, WaitingReceiverIsWokenBySend) {
  Pair p;
  ASSERT_TRUE(p.host && p.nic);
  for (int dir = 0; dir < 2; ++dir) {
    QueueLink& tx = dir == 0 ? *p.host : *p.nic;
    QueueLink& rx = dir == 0 ? *p.nic : *p.host;
    std::atomic<bool> woke{false};
    std::chrono::steady_clock::duration waited{};
    std::thread waiter([&] {
      const auto start = std::chrono::steady_clock::now();
      EXPECT_TRUE(rx.wait_rx(std::chrono::seconds(10)));
      waited = std::chrono::steady_clock::now() - start;
      woke = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(woke.load());
    ASSERT_TRUE(tx.tx().send(FrameType::kRequest, 1, 0, 0, 0, {}));
    waiter.join();
    EXPECT_LT(waited, std::chrono::seconds(5));
    Got got;
    EXPECT_EQ(recv_one(rx.rx(), &got), FrameChannel::Recv::kFrame);
  }
  // With nothing sent, the wait ends at its timeout.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(p.nic->wait_rx(std::chrono::milliseconds(30)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(29));
}

// The doorbell after a frame is skipped only for a receiver that announces its sleeps and is
// not asleep now; a receiver that never waits is rung after every frame, and a sleeping one
// is still woken (the test above).
TEST(QueueLink, DoorbellSkippedOnlyWhileTheReceiverSaysItPolls) {
  Pair p;
  ASSERT_TRUE(p.host && p.nic);
  Got got;
  // The NIC never waits here: every host frame rings it.
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(p.host->tx().send(FrameType::kRequest, 1, 0, i, 0, {}));
  EXPECT_EQ(p.host->doorbells_rung(), 10u);
  EXPECT_EQ(p.host->doorbells_skipped(), 0u);
  // The host has slept once (announcing its sleeps) and is awake now: NIC frames skip it.
  EXPECT_TRUE(p.host->wait_rx(std::chrono::milliseconds(1)));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(p.nic->tx().send(FrameType::kReply, 1, 0, i, 0, {}));
  EXPECT_EQ(p.nic->doorbells_skipped(), 10u);
  EXPECT_EQ(p.nic->doorbells_rung(), 0u);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(recv_one(p.host->rx(), &got), FrameChannel::Recv::kFrame);
  // Asleep again: the next frame rings and wakes it.
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    EXPECT_TRUE(p.host->wait_rx(std::chrono::seconds(10)));
    woke = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(woke.load());
  ASSERT_TRUE(p.nic->tx().send(FrameType::kReply, 1, 0, 99, 0, {}));
  waiter.join();
  EXPECT_EQ(p.nic->doorbells_rung(), 1u);
  EXPECT_EQ(recv_one(p.host->rx(), &got), FrameChannel::Recv::kFrame);
}

}  // namespace
}  // namespace wave::rt::mig
