// The kernel batch path's ioctls against wave.ko (uapi/wave_mem_kpath.h): every refusal, the
// one-link rule, and the detaches (the file closed, a queue destroyed). Needs /dev/wave0 and
// root: it runs in the VM (selftests/mem/kpath_vm.sh) and skips elsewhere.
#include "kernel_path.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

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

TEST(KernelPath, RefusesBadArguments) {
  Fixture f;
  std::string why;
  if (!MakeLink(&f, &why))
    GTEST_SKIP() << why;
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

TEST(KernelPath, DestroyingTheLinkDetaches) {
  Fixture f;
  std::string why;
  if (!MakeLink(&f, &why))
    GTEST_SKIP() << why;
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
