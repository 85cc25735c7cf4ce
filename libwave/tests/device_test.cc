// Device selection, control page and queue table checks, queue allocation (shm backend), and
// clear errors from backends that cannot run here.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "test_util.h"
#include "wave/device.h"
#include "wave/link.h"

namespace wave {
namespace {

TEST(Device, RejectsBadSpecs) {
  EXPECT_FALSE(Device::Open("", Role::kHost).ok());
  EXPECT_FALSE(Device::Open("shm:", Role::kHost).ok());
  EXPECT_FALSE(Device::Open("nope:x", Role::kHost).ok());
  EXPECT_FALSE(Device::Open("shm:../etc", Role::kHost).ok());
  auto v = Device::Open("vfio:garbage", Role::kHost);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, EINVAL);
  auto w = Device::Open("wave:/dev/does-not-exist", Role::kHost);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ENOENT);
  EXPECT_FALSE(Device::Open("vfio:0000:00:04.0", Role::kNic).ok());
}

TEST(Device, NicCannotAttachToMissingImage) {
  auto d = Device::Open("shm:" + test::UniqueName("missing"), Role::kNic);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ENOENT);
}

TEST(Device, ControlPageChecksNameVersions) {
  alignas(4096) static wave_control_page page;
  std::memset(&page, 0, sizeof(page));
  EXPECT_EQ(CheckControlPage(&page, 1 << 20).error().code, ENODEV);
  page.magic = WAVE_ABI_MAGIC;
  page.abi_major = WAVE_ABI_MAJOR + 1;
  page.abi_minor = 3;
  page.bar_size = 1 << 20;
  Status st = CheckControlPage(&page, 1 << 20);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(std::to_string(WAVE_ABI_MAJOR + 1) + ".3"), std::string::npos);
  page.abi_major = WAVE_ABI_MAJOR;
  EXPECT_TRUE(CheckControlPage(&page, 1 << 20).ok());
  page.bar_size = 2 << 20;  // claims more than is mapped
  EXPECT_FALSE(CheckControlPage(&page, 1 << 20).ok());
}

TEST(Device, FuzzedQueueTableEntriesStayInsideTheBar) {
  alignas(4096) static wave_control_page page;
  std::mt19937_64 rng(9);
  const uint64_t bar = 1 << 20;
  int accepted = 0;
  for (int i = 0; i < 100000; i++) {
    auto* w = reinterpret_cast<uint64_t*>(&page.queues[0]);
    for (int k = 0; k < 6; k++)
      w[k] = rng();
    if (i % 2) {
      page.queues[0].state = WAVE_QSTATE_ACTIVE;
      page.queues[0].offset = (rng() % 512) * 4096;
      page.queues[0].size = (rng() % 512) * 4096;
      page.queues[0].dir = static_cast<uint16_t>(1 + rng() % 2);
      page.queues[0].kind = static_cast<uint16_t>(rng() % 4);
      page.queues[0].cache_mode = static_cast<uint16_t>(rng() % 5);
      page.queues[0].vector = static_cast<uint16_t>(rng() % 8);
    }
    auto q = ReadQueueDesc(&page, 0, bar);
    if (!q.ok())
      continue;
    accepted++;
    EXPECT_LE(q->offset + q->size, bar);
    EXPECT_GE(q->offset, WAVE_BAR_QUEUE_AREA_OFF);
  }
  EXPECT_GT(accepted, 0);
  EXPECT_FALSE(ReadQueueDesc(&page, WAVE_MAX_QUEUES, bar).ok());
}

TEST(Device, ShmQueueAllocationAndNicView) {
  const std::string name = test::UniqueName("dev");
  DeviceOptions o;
  o.bar_size = 64 * 4096;
  auto host = Device::Open("shm:" + name, Role::kHost, o);
  ASSERT_TRUE(host.ok()) << host.error().message;
  auto a = host.value()->CreateQueue(
      {8 * 4096, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 1});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->bar_offset, WAVE_BAR_QUEUE_AREA_OFF);
  EXPECT_EQ(a->cache_mode, WAVE_CACHE_WC);
  auto b = host.value()->CreateQueue(
      {4 * 4096, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 1});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->cache_mode, WAVE_CACHE_WT);
  EXPECT_EQ(b->bar_offset, a->bar_offset + a->size);
  EXPECT_EQ(host.value()->CreateQueue({100 * 4096, WAVE_DIR_HOST_TO_NIC, 0, 0, 0}).error().code,
            ENOSPC);
  EXPECT_EQ(host.value()->CreateQueue({4096, 9, 0, 0, 0}).error().code, EINVAL);
  EXPECT_EQ(host.value()->CreateQueue({4096, 1, 0, 0, 99}).error().code, EINVAL);
  auto nic = Device::Open("shm:" + name, Role::kNic);
  ASSERT_TRUE(nic.ok()) << nic.error().message;
  auto nb = nic.value()->MapQueue(b->id);
  ASSERT_TRUE(nb.ok());
  nb->base[100] = 0x5a;  // same memory
  EXPECT_EQ(b->base[100], 0x5a);
  EXPECT_EQ(nic.value()->CreateQueue({4096, 1, 0, 0, 0}).error().code, EPERM);
  // Destroy frees the space for reuse.
  ASSERT_TRUE(host.value()->DestroyQueue(a->id).ok());
  EXPECT_FALSE(nic.value()->MapQueue(a->id).ok());
  auto c = host.value()->CreateQueue({8 * 4096, WAVE_DIR_HOST_TO_NIC, 0, 0, 0});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bar_offset, WAVE_BAR_QUEUE_AREA_OFF);
  // The NIC side waits (EAGAIN) until the host has built a link.
  EXPECT_EQ(NicLink::Attach(*nic.value()).error().code, EAGAIN);
}

TEST(LinkModel, ParsesAndRejects) {
  auto m = LinkModel::Parse("mmio_read=800,wc_flush=40");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->mmio_read_ns, 800u);
  EXPECT_EQ(m->wc_flush_ns, 40u);
  EXPECT_FALSE(LinkModel::Parse("mmio_read=abc").ok());
  EXPECT_FALSE(LinkModel::Parse("bogus=1").ok());
  EXPECT_FALSE(LinkModel::Parse("mmio_read").ok());
  const auto t0 = std::chrono::steady_clock::now();
  LinkModel::Spin(200000);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(200));
}

}  // namespace
}  // namespace wave
