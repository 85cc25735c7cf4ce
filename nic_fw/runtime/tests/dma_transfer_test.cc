// The one-copy state transfer through the DMA window: objects are written once by the sender
// and adopted in place by the receiver; every descriptor the sender wrote is checked, a bad one
// fails the whole transfer, and no window range is lost either way.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dmo_table.h"
#include "migration/dma_window.h"
#include "migration/state_transfer.h"
#include "runtime/migration/frame.h"

namespace wave::rt::mig {
namespace {

constexpr ActorId kActor = 7;
constexpr uint64_t kWindow = 1 << 20;

// A channel that hands each frame straight to a receiver and feeds its grant back to the
// sender's slot, like the two runtimes do over the link.
class LoopChannel final : public FrameChannel {
 public:
  LoopChannel(StateReceiver& rx, DmaGrantSlot& slot, uint64_t window_size)
      : rx_(rx), slot_(slot), window_size_(window_size) {}
  bool send(FrameType type, uint32_t actor, uint16_t flags, uint64_t arg0, uint64_t arg1,
            std::span<const std::byte> payload) override {
    FrameHeader h{kFrameMagic, static_cast<uint16_t>(type),           flags,
                  actor,       static_cast<uint32_t>(payload.size()), arg0,
                  arg1};
    ++sent_;
    last = rx_.on_frame(h, payload);
    uint64_t off, len;
    if (last == StateReceiver::Step::kMore && rx_.take_grant(&off, &len))
      slot_.offer(actor, off, len, window_size_);
    if (last == StateReceiver::Step::kError)
      slot_.refused = slot_.actor != kNoActorId && !slot_.granted;
    return true;
  }
  Recv recv(const FrameFn&) override { return Recv::kEmpty; }
  bool ok() const override { return true; }
  uint64_t frames_sent() const override { return sent_; }
  StateReceiver::Step last = StateReceiver::Step::kMore;

 private:
  StateReceiver& rx_;
  DmaGrantSlot& slot_;
  uint64_t window_size_;
  uint64_t sent_ = 0;
};

struct Fixture : ::testing::Test {
  std::vector<std::byte> window_mem = std::vector<std::byte>(kWindow);
  std::shared_ptr<DmaWindowAllocator> alloc = DmaWindowAllocator::create(window_mem, nullptr);
  DmoTable nic, host;
  StateReceiver rx{host};
  std::vector<ObjectId> ids;

  void SetUp() override {
    rx.set_dma_window(alloc);
    ASSERT_EQ(nic.create_space(kActor, 1 << 20), Status::kOk);
    // Three objects of odd sizes, each with its own pattern; one freed in between.
    for (uint64_t size : {100u, 70000u, 5000u, 4096u}) {
      ObjectId id;
      ASSERT_EQ(nic.dmo_malloc(kActor, size, &id), Status::kOk);
      std::vector<std::byte> pat(size, static_cast<std::byte>(ids.size() + 1));
      ASSERT_EQ(nic.dmo_write(kActor, id, 0, pat), Status::kOk);
      ids.push_back(id);
    }
    ASSERT_EQ(nic.dmo_free(kActor, ids[2]), Status::kOk);
    ids.erase(ids.begin() + 2);
  }
  ActorImage image() const { return {kActor, "t", "n", 1 << 20, ids[0]}; }
  FrameHeader hdr(FrameType t, uint64_t a0 = 0, uint64_t a1 = 0, uint16_t flags = 0) const {
    return {kFrameMagic, static_cast<uint16_t>(t), flags, kActor, 0, a0, a1};
  }
  // Starts a one-copy transfer of `objects` objects, `bytes` in all; returns the grant.
  void begin(uint32_t objects, uint64_t bytes, uint64_t* off, uint64_t* len) {
    StateBegin b{};
    b.root = ids[0];
    b.mem_cap = 1 << 20;
    b.total_bytes = bytes;
    b.objects = objects;
    ASSERT_EQ(rx.on_frame(hdr(FrameType::kStateBegin, objects, bytes, kFlagDma),
                          std::as_bytes(std::span(&b, 1))),
              StateReceiver::Step::kMore);
    ASSERT_TRUE(rx.take_grant(off, len));
  }
  StateReceiver::Step object(ObjectId id, uint64_t off, uint64_t size) {
    const DmaDescriptor d{id, off, size};
    return rx.on_frame(hdr(FrameType::kDmaObject, id, size), std::as_bytes(std::span(&d, 1)));
  }
};

TEST_F(Fixture, ObjectsAreAdoptedInPlaceAndGivenBack) {
  DmaGrantSlot slot;
  LoopChannel ch(rx, slot, kWindow);
  ASSERT_TRUE(send_state_dma(ch, nic, image(), window_mem, slot, [] { return true; }));
  ASSERT_EQ(ch.last, StateReceiver::Step::kDone) << rx.error();
  EXPECT_EQ(host.usage(kActor).objects, 3u);
  uint32_t n = 0;
  host.for_each_object(kActor, [&](ObjectId id, std::span<const std::byte> d) {
    // The host's storage is the window range the sender wrote: no second copy.
    EXPECT_GE(d.data(), window_mem.data());
    EXPECT_LE(d.data() + d.size(), window_mem.data() + window_mem.size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(d.data()) % kDmaAlign,
              reinterpret_cast<uintptr_t>(window_mem.data()) % kDmaAlign);
    EXPECT_EQ(id, ids[n]);
    std::vector<std::byte> want(d.size());
    ASSERT_EQ(nic.dmo_read(kActor, id, 0, want), Status::kOk);
    EXPECT_EQ(std::memcmp(d.data(), want.data(), d.size()), 0);
    ++n;
  });
  EXPECT_EQ(n, 3u);
  // Only the adopted ranges are still out; freeing the objects returns them all.
  EXPECT_EQ(alloc->free_bytes(), kWindow - (4096 + 73728 + 4096));
  ASSERT_EQ(host.dmo_free(kActor, ids[1]), Status::kOk);
  EXPECT_EQ(alloc->free_bytes(), kWindow - 2 * 4096);
  host.destroy_space(kActor);
  EXPECT_EQ(alloc->free_bytes(), kWindow);
}

TEST_F(Fixture, DescriptorsOutsideTheGrantAreRefused) {
  const uint64_t bytes = 100 + 70000 + 4096;
  struct Bad {
    const char* what;
    int64_t off_delta;  // from the grant's start
    uint64_t size;
    ObjectId id;
  };
  const Bad bad[] = {
      {"misaligned", 8, 100, 0},
      {"before the grant", -4096, 100, 0},
      {"past the grant", 1 << 19, 100, 0},
      {"bigger than announced", 0, bytes + 1, 0},
      {"zero size", 0, 0, 0},
      {"other owner", 0, 100, make_object_id(kActor + 1, 1, 0)},
  };
  for (const Bad& b : bad) {
    uint64_t off, len;
    begin(3, bytes, &off, &len);
    EXPECT_GE(len, bytes);
    EXPECT_EQ(alloc->free_bytes(), kWindow - len);
    const ObjectId id = b.id != 0 ? b.id : ids[0];
    EXPECT_EQ(object(id, off + b.off_delta, b.size), StateReceiver::Step::kError) << b.what;
    EXPECT_FALSE(host.has_space(kActor)) << b.what;
    EXPECT_EQ(alloc->free_bytes(), kWindow) << b.what << ": window range lost";
  }
}

TEST_F(Fixture, OverlapsAndProtocolMixupsAreRefused) {
  uint64_t off, len;
  // Two objects in the same range: the second goes backwards.
  begin(3, 100 + 70000 + 4096, &off, &len);
  ASSERT_EQ(object(ids[0], off, 100), StateReceiver::Step::kMore) << rx.error();
  EXPECT_EQ(object(ids[1], off, 70000), StateReceiver::Step::kError);
  EXPECT_FALSE(host.has_space(kActor));
  EXPECT_EQ(alloc->free_bytes(), kWindow);
  // The descriptor's id disagrees with the frame's.
  begin(3, 100 + 70000 + 4096, &off, &len);
  const DmaDescriptor d{ids[0], off, 100};
  EXPECT_EQ(rx.on_frame(hdr(FrameType::kDmaObject, ids[1], 100), std::as_bytes(std::span(&d, 1))),
            StateReceiver::Step::kError);
  EXPECT_EQ(alloc->free_bytes(), kWindow);
  // A copied chunk inside a one-copy transfer.
  begin(3, 100 + 70000 + 4096, &off, &len);
  EXPECT_EQ(rx.on_frame(hdr(FrameType::kObject, ids[0], 100), {}), StateReceiver::Step::kError);
  EXPECT_EQ(alloc->free_bytes(), kWindow);
  // A descriptor with no transfer begun, and one of the wrong size.
  EXPECT_EQ(object(ids[0], 0, 100), StateReceiver::Step::kError);
  begin(3, 100 + 70000 + 4096, &off, &len);
  const uint64_t shortd[2] = {ids[0], off};
  EXPECT_EQ(rx.on_frame(hdr(FrameType::kDmaObject, ids[0], 100), std::as_bytes(std::span(shortd))),
            StateReceiver::Step::kError);
  EXPECT_EQ(alloc->free_bytes(), kWindow);
  // Ends early: objects missing.
  begin(3, 100 + 70000 + 4096, &off, &len);
  ASSERT_EQ(object(ids[0], off, 100), StateReceiver::Step::kMore);
  EXPECT_EQ(rx.on_frame(hdr(FrameType::kStateEnd, 3), {}), StateReceiver::Step::kError);
  EXPECT_EQ(alloc->free_bytes(), kWindow);
}

TEST_F(Fixture, NoWindowOrFullWindowRefusesTheTransfer) {
  // State bigger than the window.
  StateBegin b{};
  b.root = ids[0];
  b.mem_cap = 4 * kWindow;
  b.total_bytes = 2 * kWindow;
  b.objects = 2;
  EXPECT_EQ(rx.on_frame(hdr(FrameType::kStateBegin, 2, b.total_bytes, kFlagDma),
                        std::as_bytes(std::span(&b, 1))),
            StateReceiver::Step::kError);
  EXPECT_FALSE(host.has_space(kActor));
  EXPECT_EQ(alloc->free_bytes(), kWindow);
  // A receiver without a window.
  DmoTable other;
  StateReceiver plain(other);
  b.mem_cap = 1 << 20;
  b.total_bytes = 100;
  EXPECT_EQ(plain.on_frame(hdr(FrameType::kStateBegin, 2, 100, kFlagDma),
                           std::as_bytes(std::span(&b, 1))),
            StateReceiver::Step::kError);
  EXPECT_FALSE(other.has_space(kActor));
}

TEST(DmaGrantSlot, TheSenderChecksTheGrant) {
  DmaGrantSlot s;
  s.actor = 3;
  s.needed = 8192;
  EXPECT_FALSE(s.offer(4, 0, 8192, kWindow));               // another actor
  EXPECT_FALSE(s.offer(3, 100, 8192, kWindow));             // misaligned
  EXPECT_FALSE(s.offer(3, 0, 4096, kWindow));               // too short
  EXPECT_FALSE(s.offer(3, kWindow - 4096, 8192, kWindow));  // past the window
  EXPECT_FALSE(s.offer(3, ~0ull & ~4095ull, 8192, kWindow));
  EXPECT_TRUE(s.offer(3, 4096, 8192, kWindow));
  EXPECT_FALSE(s.offer(3, 0, 8192, kWindow));  // a second grant
  EXPECT_EQ(s.offset, 4096u);
  DmaGrantSlot idle;
  EXPECT_FALSE(idle.offer(kNoActorId, 0, 8192, kWindow));  // nobody waits
}

TEST(DmaWindowAllocator, CoalescesFreedRanges) {
  std::vector<std::byte> mem(64 * 1024);
  auto a = DmaWindowAllocator::create(mem, nullptr);
  uint64_t x, y, z;
  ASSERT_TRUE(a->allocate(5000, &x));  // rounded to two pages
  ASSERT_TRUE(a->allocate(4096, &y));
  ASSERT_TRUE(a->allocate(4096, &z));
  EXPECT_EQ(y, x + 8192);
  EXPECT_EQ(a->free_bytes(), 64u * 1024 - 4 * 4096);
  a->free(y, 4096);
  a->free(x, 8192);
  a->free(z, 4096);
  EXPECT_EQ(a->free_bytes(), 64u * 1024);
  uint64_t all;
  EXPECT_TRUE(a->allocate(64 * 1024, &all));  // one range again
  EXPECT_FALSE(a->allocate(4096, &x));
}

}  // namespace
}  // namespace wave::rt::mig
