// The kernel batch path's ioctls against wave.ko (uapi/wave_mem_kpath.h): every refusal, the
// one-link rule, and the detaches (the file closed, a queue destroyed). Needs /dev/wave0 and
// root: it runs in the VM (selftests/mem/kpath_vm.sh) and skips elsewhere.
#include "kernel_path.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "wave/device.h"
#include "wave/mem_link.h"

namespace wave::mem {
namespace {

constexpr char kDev[] = "/dev/wave0";

struct Fixture {
  std::unique_ptr<Device> dev;
  std::unique_ptr<MemHostLink> link;
};

bool MakeLink(Fixture* f, std::string* why) {
  if (geteuid() != 0 || access(kDev, R_OK | W_OK) != 0) {
    *why = "needs root and /dev/wave0 (wave.ko)";
    return false;
  }
  auto dev = Device::Open(std::string("wave:") + kDev, Role::kHost);
  if (!dev) {
    *why = dev.error().message;
    return false;
  }
  f->dev = std::move(dev.value());
  MemLinkConfig lc;
  auto link = MemHostLink::Create(*f->dev, lc, 12345);
  if (!link) {
    *why = link.error().message;
    return false;
  }
  f->link = std::move(link.value());
  return true;
}

wave_mem_kattach Good(const MemHostLink& l) {
  wave_mem_kattach a{};
  a.argsz = sizeof(a);
  a.msg_queue = l.message_queue();
  a.dec_queue = l.decision_queue();
  a.dma_queue = l.dma_queue();
  a.aggr_us = 100000;
  a.max_accesses = 20;
  a.attach_gen = l.attach_gen();
  return a;
}

int Attach(int fd, wave_mem_kattach a) {
  return ioctl(fd, WAVE_IOC_MEM_ATTACH, &a) == 0 ? 0 : errno;
}

bool Attached(int fd) {
  wave_mem_kstats s{};
  s.argsz = sizeof(s);
  return ioctl(fd, WAVE_IOC_MEM_STATS, &s) == 0 && s.attached == 1;
}

// Each test starts with a memory link on /dev/wave0, or is skipped where there is none.
class KernelPath : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!MakeLink(&f, &why))
      GTEST_SKIP() << why;
  }
  Fixture f;
};

TEST_F(KernelPath, RefusesBadArguments) {
  const int fd = open(kDev, O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const wave_mem_kattach good = Good(*f.link);
  wave_mem_kattach a = good;
  a.flags = 1;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  a.reserved1 = 1;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  a.aggr_us = 0;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  a.max_accesses = 0;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  a.argsz = 8;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  a.msg_queue = WAVE_MAX_QUEUES + 5;
  EXPECT_EQ(Attach(fd, a), ENOENT);
  a = good;
  a.dma_queue = a.dec_queue;
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;  // kinds swapped: the decision region named as the message region
  std::swap(a.msg_queue, a.dec_queue);
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;
  std::swap(a.msg_queue, a.dma_queue);
  EXPECT_EQ(Attach(fd, a), EINVAL);
  a = good;  // another link's generation: not the link just created
  a.attach_gen++;
  EXPECT_EQ(Attach(fd, a), ESTALE);
  EXPECT_FALSE(Attached(fd));

  EXPECT_EQ(Attach(fd, good), 0);
  EXPECT_TRUE(Attached(fd));
  // One link at a time, from any file.
  const int fd2 = open(kDev, O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(Attach(fd2, good), EBUSY);
  // Releases: a free slot, a bad slot, another file.
  wave_mem_krelease r{sizeof(r), 1, 1};
  EXPECT_NE(ioctl(fd, WAVE_IOC_MEM_RELEASE, &r), 0);
  EXPECT_EQ(errno, ESTALE);
  r.slot = WAVE_MEM_BATCH_SLOTS;
  EXPECT_NE(ioctl(fd, WAVE_IOC_MEM_RELEASE, &r), 0);
  EXPECT_EQ(errno, EINVAL);
  r.slot = 1;
  EXPECT_NE(ioctl(fd2, WAVE_IOC_MEM_RELEASE, &r), 0);
  EXPECT_EQ(errno, ENOENT);
  wave_mem_kstats s{};
  s.argsz = sizeof(s);
  ASSERT_EQ(ioctl(fd2, WAVE_IOC_MEM_STATS, &s), 0);
  EXPECT_EQ(s.attach_gen, good.attach_gen);
  EXPECT_EQ(s.bad_releases, 1u);
  EXPECT_EQ(s.next_seq, 1u);
  // Closing the file that attached detaches.
  close(fd);
  EXPECT_FALSE(Attached(fd2));
  close(fd2);
}

int Maps(int fd, uint32_t target, const std::vector<wave_mem_krange>& r, uint32_t argsz = 0,
         uint32_t flags = 0, uint32_t count = UINT32_MAX) {
  wave_mem_kmaps m{};
  m.argsz = argsz ? argsz : sizeof(m);
  m.flags = flags;
  m.target = target;
  m.count = count == UINT32_MAX ? static_cast<uint32_t>(r.size()) : count;
  m.ranges = reinterpret_cast<uintptr_t>(r.data());
  return ioctl(fd, WAVE_IOC_MEM_MAPS, &m) == 0 ? 0 : errno;
}

wave_mem_kstats KStats(int fd) {
  wave_mem_kstats s{};
  s.argsz = sizeof(s);
  EXPECT_EQ(ioctl(fd, WAVE_IOC_MEM_STATS, &s), 0);
  return s;
}

TEST_F(KernelPath, MapsSnapshotRefusalsAreCounted) {
  constexpr uint64_t P = WAVE_MEM_PAGE_SIZE;
  const std::vector<wave_mem_krange> good = {{P, 4 * P}, {8 * P, 9 * P}};
  const int other = open(kDev, O_RDWR | O_CLOEXEC);
  ASSERT_GE(other, 0);
  EXPECT_EQ(Maps(other, 1, good), ENOENT);  // no link at all
  auto kp = KernelBatchPath::Attach(std::string("wave:") + kDev, *f.link, 100000, 20);
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  EXPECT_EQ(Maps(other, 1, good), ENOENT);  // not the file that attached
  EXPECT_EQ(kp.value()->SetMaps(1, good), 0);
  EXPECT_EQ(kp.value()->SetMaps(1, good), 0);  // replaces
  wave_mem_kstats s = KStats(other);
  EXPECT_EQ(s.maps_updates, 2u);
  EXPECT_EQ(s.maps_targets, 1u);
  EXPECT_EQ(s.bad_maps, 0u);

  // Every malformed request is refused with EINVAL and counted; none changes the snapshot.
  const std::vector<std::vector<wave_mem_krange>> bad = {
      {{4 * P, 4 * P}},              // empty
      {{4 * P, 2 * P}},              // reversed
      {{P + 1, 4 * P}},              // unaligned start
      {{P, 4 * P - 8}},              // unaligned end
      {{8 * P, 9 * P}, {P, 4 * P}},  // unsorted
      {{P, 4 * P}, {3 * P, 9 * P}},  // overlapping
  };
  auto* self = kp.value().get();
  for (const auto& r : bad)
    EXPECT_EQ(self->SetMaps(1, r), EINVAL);
  std::vector<wave_mem_krange> many(WAVE_MEM_KMAPS_MAX_RANGES + 1);
  for (size_t i = 0; i < many.size(); i++)
    many[i] = {(2 * i + 1) * P, (2 * i + 2) * P};
  EXPECT_EQ(self->SetMaps(1, many), EINVAL);  // too many ranges
  many.resize(WAVE_MEM_KMAPS_MAX_RANGES);
  EXPECT_EQ(self->SetMaps(2, many), 0);       // exactly the bound
  EXPECT_EQ(self->SetMaps(0, good), EINVAL);  // target 0
  s = KStats(other);
  const uint64_t bad_before_raw = s.bad_maps;
  EXPECT_EQ(bad_before_raw, bad.size() + 2);
  // Targets beyond the bound: ENOSPC, counted.
  for (uint32_t t = 3; t <= WAVE_MEM_KMAPS_MAX_TARGETS; t++)
    EXPECT_EQ(self->SetMaps(t, good), 0) << t;
  EXPECT_EQ(self->SetMaps(WAVE_MEM_KMAPS_MAX_TARGETS + 1, good), ENOSPC);
  EXPECT_EQ(self->SetMaps(2, {}), 0);  // forgets target 2: room again
  EXPECT_EQ(self->SetMaps(WAVE_MEM_KMAPS_MAX_TARGETS + 1, good), 0);
  EXPECT_EQ(self->SetMaps(999, {}), 0);  // forgetting an unknown target is harmless
  s = KStats(other);
  EXPECT_EQ(s.bad_maps, bad_before_raw + 1);
  EXPECT_EQ(s.maps_targets, WAVE_MEM_KMAPS_MAX_TARGETS);
  // A version 1 caller of the stats still gets its fields, and nothing past them.
  std::vector<uint8_t> v1(WAVE_MEM_KSTATS_SIZE_V1 + 8, 0xab);
  *reinterpret_cast<uint32_t*>(v1.data()) = WAVE_MEM_KSTATS_SIZE_V1;
  ASSERT_EQ(ioctl(other, WAVE_IOC_MEM_STATS, v1.data()), 0);
  EXPECT_EQ(v1[WAVE_MEM_KSTATS_SIZE_V1], 0xab);
  *reinterpret_cast<uint32_t*>(v1.data()) = WAVE_MEM_KSTATS_SIZE_V1 - 8;
  EXPECT_NE(ioctl(other, WAVE_IOC_MEM_STATS, v1.data()), 0);
  close(other);
}

TEST_F(KernelPath, MapsIoctlRefusesBadArgsz) {
  const int fd = open(kDev, O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(Attach(fd, Good(*f.link)), 0);
  constexpr uint64_t P = WAVE_MEM_PAGE_SIZE;
  const std::vector<wave_mem_krange> good = {{P, 4 * P}};
  EXPECT_EQ(Maps(fd, 1, good), 0);
  EXPECT_EQ(Maps(fd, 1, good, 8), EINVAL);               // argsz too small
  EXPECT_EQ(Maps(fd, 1, good, 0, 2), EINVAL);            // unknown flag
  EXPECT_EQ(Maps(fd, 1, good, 0, 0, 1u << 20), EINVAL);  // count past the bound
  struct {
    wave_mem_kmaps m;
    uint64_t tail;
  } big{};
  big.m = {sizeof(big), 0, 1, 1, reinterpret_cast<uintptr_t>(good.data())};
  big.tail = 0;  // a larger argsz with a zero tail is a newer caller: accepted
  EXPECT_EQ(ioctl(fd, WAVE_IOC_MEM_MAPS, &big), 0);
  big.tail = 1;  // a field this kernel does not know of, set: refused
  EXPECT_NE(ioctl(fd, WAVE_IOC_MEM_MAPS, &big), 0);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(Maps(fd, 1, {}, 0, 0, 1), EFAULT);  // count 1 at a null pointer
  const wave_mem_kstats s = KStats(fd);
  EXPECT_EQ(s.bad_maps, 4u);
  EXPECT_EQ(s.maps_updates, 2u);
  close(fd);
}

// The paged-out ranges (WAVE_MEM_KMAPS_F_PAGED_OUT) are a snapshot of their own, checked like
// the mappings: they neither replace a target's mappings nor count as one.
TEST_F(KernelPath, PagedOutSnapshotsAreCheckedLikeMapsAndKeptApart) {
  constexpr uint64_t P = WAVE_MEM_PAGE_SIZE;
  auto kp = KernelBatchPath::Attach(std::string("wave:") + kDev, *f.link, 100000, 20);
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  KernelBatchPath* k = kp.value().get();
  const std::vector<wave_mem_krange> maps = {{P, 64 * P}};
  const std::vector<wave_mem_krange> paged = {{2 * P, 4 * P}, {8 * P, 9 * P}};
  EXPECT_EQ(k->SetMaps(1, maps), 0);
  EXPECT_EQ(k->SetPagedOut(1, paged), 0);
  EXPECT_EQ(k->SetPagedOut(2, paged), 0);  // a target without mappings may have them too
  wave_mem_kstats s{};
  ASSERT_TRUE(k->Stats(&s));
  EXPECT_EQ(s.maps_targets, 1u) << "paged-out ranges are not a mappings snapshot";
  EXPECT_EQ(s.bad_maps, 0u);
  const std::vector<wave_mem_krange> reversed = {{4 * P, 2 * P}};
  const std::vector<wave_mem_krange> overlapping = {{P, 4 * P}, {3 * P, 9 * P}};
  EXPECT_EQ(k->SetPagedOut(1, reversed), EINVAL);
  EXPECT_EQ(k->SetPagedOut(1, overlapping), EINVAL);
  EXPECT_EQ(k->SetPagedOut(1, {}), 0);  // forgets them
  ASSERT_TRUE(k->Stats(&s));
  EXPECT_EQ(s.bad_maps, 2u);
  EXPECT_EQ(s.maps_targets, 1u);
  // Every target's paged-out snapshot fits beside its mappings.
  for (uint32_t t = 1; t <= WAVE_MEM_KMAPS_MAX_TARGETS; t++)
    EXPECT_EQ(k->SetPagedOut(t, paged), 0) << t;
  EXPECT_EQ(k->SetPagedOut(WAVE_MEM_KMAPS_MAX_TARGETS + 1, paged), ENOSPC);
}

TEST_F(KernelPath, DestroyingTheLinkDetaches) {
  const int watch = open(kDev, O_RDWR | O_CLOEXEC);
  ASSERT_GE(watch, 0);
  auto kp = KernelBatchPath::Attach(std::string("wave:") + kDev, *f.link, 100000, 20);
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  EXPECT_TRUE(Attached(watch));
  f.link.reset();  // destroys the queues under the attached kernel end
  EXPECT_FALSE(Attached(watch));
  kp.value().reset();  // its detach finds nothing: harmless
  close(watch);
}

}  // namespace
}  // namespace wave::mem
