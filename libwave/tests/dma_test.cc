// DMA queue: scatter-gather both ways through the emulated engine, and hostile descriptors.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "test_util.h"
#include "wave/link.h"

namespace wave {
namespace {

struct DmaPair {
  std::unique_ptr<Device> host_dev, nic_dev;
  std::unique_ptr<HostLink> host;
  std::unique_ptr<NicLink> nic;
};

DmaPair Make() {
  DmaPair p;
  const std::string name = test::UniqueName("dma");
  p.host_dev = std::move(Device::Open("shm:" + name, Role::kHost).value());
  p.host = std::move(HostLink::Create(*p.host_dev, LinkConfig{}).value());
  p.nic_dev = std::move(Device::Open("shm:" + name, Role::kNic).value());
  p.nic = std::move(NicLink::Attach(*p.nic_dev).value());
  return p;
}

TEST(Dma, GatherToNicThenScatterBack) {
  DmaPair p = Make();
  ASSERT_TRUE(p.host->dma() && p.nic->dma());
  std::span<uint8_t> hw = p.host_dev->HostWindow();
  ASSERT_GE(hw.size(), 1u << 20);
  for (size_t i = 0; i < 3 * 4096; i++)
    hw[i] = static_cast<uint8_t>(i * 7 + 1);
  const DmaSegment sg[3] = {{0, 100}, {4096, 4000}, {8192, 1}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, 512, sg, 77));
  EXPECT_EQ(p.nic->dma()->Poll(8), 1u);
  wave_dma_done done[4];
  ASSERT_EQ(p.host->dma()->PollDone(done), 1u);
  EXPECT_EQ(done[0].cookie, 77u);
  EXPECT_EQ(done[0].status, WAVE_DMA_OK);
  EXPECT_EQ(done[0].bytes, 4101u);
  const uint8_t* nic = p.host->dma_region().base + 512;
  EXPECT_EQ(std::memcmp(nic, &hw[0], 100), 0);
  EXPECT_EQ(std::memcmp(nic + 100, &hw[4096], 4000), 0);
  EXPECT_EQ(nic[4100], hw[8192]);
  // Back into a different place in host memory.
  const DmaSegment back[2] = {{65536, 4000}, {131072, 101}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_HOST, 512, back, 78));
  EXPECT_EQ(p.nic->dma()->Poll(8), 1u);
  ASSERT_EQ(p.host->dma()->PollDone(done), 1u);
  EXPECT_EQ(done[0].status, WAVE_DMA_OK);
  EXPECT_EQ(std::memcmp(&hw[65536], nic, 4000), 0);
  EXPECT_EQ(std::memcmp(&hw[131072], nic + 4000, 101), 0);
}

TEST(Dma, OutOfWindowAndMalformedDescriptorsAreRejected) {
  DmaPair p = Make();
  const uint64_t window = p.host_dev->HostWindow().size();
  const DmaSegment beyond[1] = {{window - 10, 20}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, 0, beyond, 1));
  const DmaSegment wrap[1] = {{~0ull - 4, 8}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, 0, wrap, 2));
  const DmaSegment ok[1] = {{0, 64}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, p.host->dma_region().size - 10, ok, 3));
  ASSERT_TRUE(p.host->dma()->Submit(7, 0, ok, 4));  // unknown op
  EXPECT_EQ(p.nic->dma()->Poll(16), 4u);
  wave_dma_done done[8];
  ASSERT_EQ(p.host->dma()->PollDone(done), 4u);
  EXPECT_EQ(done[0].status, WAVE_DMA_EFAULT);
  EXPECT_EQ(done[1].status, WAVE_DMA_EFAULT);
  EXPECT_EQ(done[2].status, WAVE_DMA_EFAULT);
  EXPECT_EQ(done[3].status, WAVE_DMA_EINVAL);
  EXPECT_EQ(p.nic->dma()->stats().rejected, 4u);
}

TEST(Dma, OverlappingSegmentsAndTooManySegmentsAreRefusedAndCounted) {
  DmaPair p = Make();
  std::span<uint8_t> hw = p.host_dev->HostWindow();
  std::memset(hw.data(), 0x11, 16384);
  // Shares bytes 4000..4199 with the first segment: scattering would depend on copy order.
  const DmaSegment overlap[3] = {{4096, 100}, {8192, 10}, {4000, 200}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_HOST, 0, overlap, 1));
  // Touching but not sharing bytes is fine.
  const DmaSegment adjacent[2] = {{4096, 100}, {4196, 100}};
  ASSERT_TRUE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, 0, adjacent, 2));
  // Submit refuses a list longer than a slot holds; a raw slot claiming one more is refused
  // by the engine.
  std::vector<DmaSegment> many(kDmaMaxSegments + 1, DmaSegment{0, 8});
  EXPECT_FALSE(p.host->dma()->Submit(WAVE_DMA_TO_NIC, 0, many, 3));
  ASSERT_EQ(p.host->dma()->descs().EnqueueBatch(
                1,
                [&](uint32_t, uint8_t* payload) {
                  wave_dma_desc d{};
                  d.cookie = 4;
                  d.op = WAVE_DMA_TO_NIC;
                  d.nr_sge = kDmaMaxSegments + 1;
                  d.nic_queue = p.host->dma_region().id;
                  std::memcpy(payload, &d, sizeof(d));
                  return std::pair<uint16_t, uint16_t>{
                      WAVE_MSG_DMA_REQ,
                      static_cast<uint16_t>(p.host->dma()->descs().payload_capacity())};
                }),
            1u);
  EXPECT_EQ(p.nic->dma()->Poll(16), 3u);
  wave_dma_done done[8];
  ASSERT_EQ(p.host->dma()->PollDone(done), 3u);
  EXPECT_EQ(done[0].cookie, 1u);
  EXPECT_EQ(done[0].status, WAVE_DMA_EINVAL);
  EXPECT_EQ(done[1].cookie, 2u);
  EXPECT_EQ(done[1].status, WAVE_DMA_OK);
  EXPECT_EQ(done[2].cookie, 4u);
  EXPECT_EQ(done[2].status, WAVE_DMA_EINVAL);
  EXPECT_EQ(p.nic->dma()->stats().rejected, 2u);
  EXPECT_EQ(p.nic->dma()->stats().transfers, 1u);
  // The refused scatter wrote nothing.
  EXPECT_EQ(hw[4000], 0x11);
  EXPECT_EQ(hw[8192], 0x11);
}

TEST(Dma, FuzzedDescriptorSlotsNeverCrash) {
  DmaPair p = Make();
  std::mt19937_64 rng(5);
  RingProducer& rp = p.host->dma()->descs();
  uint64_t served = 0;
  for (int i = 0; i < 5000; i++) {
    rp.EnqueueBatch(1, [&](uint32_t, uint8_t* payload) {
      for (int k = 0; k < 240; k++)
        payload[k] = static_cast<uint8_t>(rng());
      if (i % 3 == 0) {  // plausible header, garbage segments
        wave_dma_desc d{};
        d.op = WAVE_DMA_TO_NIC;
        d.nr_sge = static_cast<uint16_t>(1 + rng() % kDmaMaxSegments);
        d.nic_queue = p.host->dma_region().id;
        std::memcpy(payload, &d, sizeof(d));
        return std::pair<uint16_t, uint16_t>{WAVE_MSG_DMA_REQ,
                                             static_cast<uint16_t>(sizeof(d) + d.nr_sge * 16)};
      }
      return std::pair<uint16_t, uint16_t>{static_cast<uint16_t>(rng()),
                                           static_cast<uint16_t>(rng() % 300)};
    });
    served += p.nic->dma()->Poll(4);
    wave_dma_done done[8];
    p.host->dma()->PollDone(done);
  }
  EXPECT_GT(p.nic->dma()->stats().rejected, 0u);
  EXPECT_EQ(p.nic->dma()->stats().transfers, 0u);  // garbage never moved bytes
  (void)served;
}

}  // namespace
}  // namespace wave
