// wave-nicd in on-host mode against wave.ko's loopback device. Needs the module loaded with a
// loopback device (insmod wave.ko loopback=1) and root; skipped otherwise, so it runs in the
// emulated host (the VM) and not on a build machine. WAVE_LOOPBACK_DEV names the device;
// by default the first /dev/waveN whose backend is loopback is used.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/shared_word.h"
#include "base/unique_fd.h"
#include "nicd_process.h"
#include "wave_abi.h"
#include "wave_diag.h"
#include "wave_ioctl.h"

namespace wave::nicd::testing {
namespace {

bool IsLoopback(const std::string& path) {
  nic::UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    return false;
  }
  wave_info info{};
  info.argsz = sizeof(info);
  return ioctl(fd.get(), WAVE_IOC_GET_INFO, &info) == 0 && info.backend == WAVE_BACKEND_LOOPBACK;
}

std::string FindLoopback() {
  if (const char* dev = std::getenv("WAVE_LOOPBACK_DEV"); dev != nullptr && *dev != '\0') {
    return dev;
  }
  // With the module loaded, udev may still be creating the device nodes.
  bool module_loaded = access("/sys/module/wave", F_OK) == 0;
  for (int tries = 0; tries < (module_loaded ? 100 : 1); ++tries) {
    for (int i = 0; i < 16; ++i) {
      std::string path = "/dev/wave" + std::to_string(i);
      if (IsLoopback(path)) {
        return path;
      }
    }
    usleep(50000);
  }
  return "";
}

wave_info Info(int fd) {
  wave_info info{};
  info.argsz = sizeof(info);
  EXPECT_EQ(ioctl(fd, WAVE_IOC_GET_INFO, &info), 0) << std::strerror(errno);
  return info;
}

struct MappedQueue {
  uint32_t id = ~0u;
  void* base = MAP_FAILED;
  size_t size = 0;
};

MappedQueue CreateQueue(int fd, uint16_t dir, uint16_t vector) {
  wave_queue_create req{};
  req.argsz = sizeof(req);
  req.size = 4096;
  req.dir = dir;
  req.cache_mode = WAVE_CACHE_DEFAULT;
  req.kind = WAVE_QKIND_RAW;
  req.vector = vector;
  MappedQueue q;
  if (ioctl(fd, WAVE_IOC_CREATE_QUEUE, &req) != 0) {
    ADD_FAILURE() << "create queue: " << std::strerror(errno);
    return q;
  }
  q.id = req.id;
  q.size = req.size;
  q.base = mmap(nullptr, q.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                static_cast<off_t>(req.mmap_offset));
  EXPECT_NE(q.base, MAP_FAILED) << std::strerror(errno);
  return q;
}

void DestroyQueue(int fd, MappedQueue& q) {
  if (q.base != MAP_FAILED) {
    munmap(q.base, q.size);
  }
  if (q.id != ~0u) {
    wave_queue_destroy req{sizeof(req), q.id};
    EXPECT_EQ(ioctl(fd, WAVE_IOC_DESTROY_QUEUE, &req), 0) << std::strerror(errno);
  }
}

// Writes an echo command into `src`, rings it, and waits for the interrupt on `irq`.
bool Echo(int fd, const MappedQueue& src, const MappedQueue& dst, int irq, uint32_t magic,
          uint32_t len, uint32_t seq, const std::vector<uint8_t>& payload) {
  auto* cmd = static_cast<wave_echo_cmd*>(src.base);
  auto* rep = static_cast<wave_echo_reply*>(dst.base);
  nic::StoreLe(rep->magic, 0u);
  std::memcpy(cmd + 1, payload.data(), payload.size());
  nic::StoreLe(cmd->dst_queue, dst.id);
  nic::StoreLe(cmd->len, len);
  nic::StoreLe(cmd->seq, seq);
  nic::PublishLe(cmd->magic, magic);
  wave_doorbell db{};
  db.argsz = sizeof(db);
  db.queue_id = src.id;
  db.value = WAVE_ECHO_DOORBELL;
  if (ioctl(fd, WAVE_IOC_RING_DOORBELL, &db) != 0) {
    ADD_FAILURE() << "ring: " << std::strerror(errno);
    return false;
  }
  pollfd p{irq, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) {
    return false;
  }
  uint64_t count;
  return read(irq, &count, sizeof(count)) == sizeof(count);
}

TEST(NicdLoopbackDevice, ServesEchoThroughWaveKo) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  std::string dev = FindLoopback();
  if (dev.empty()) {
    GTEST_SKIP() << "no wave.ko loopback device (insmod wave.ko loopback=1)";
  }
  NicdProcess nicd;
  ASSERT_TRUE(nicd.Start({"--device", dev, "--heartbeat-us", "500"})) << nicd.exit_status();
  EXPECT_EQ(nicd.ReadyField("device"), dev);

  nic::UniqueFd fd(open(dev.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  wave_info info = Info(fd.get());
  EXPECT_EQ(info.nic_state, WAVE_NIC_STATE_READY);
  EXPECT_EQ(info.abi_major, WAVE_ABI_MAJOR);
  EXPECT_EQ(info.nr_vectors, 8u);
  uint64_t beat = info.heartbeat;

  MappedQueue src = CreateQueue(fd.get(), WAVE_DIR_HOST_TO_NIC, 1);
  MappedQueue dst = CreateQueue(fd.get(), WAVE_DIR_NIC_TO_HOST, 2);
  ASSERT_NE(src.base, MAP_FAILED);
  ASSERT_NE(dst.base, MAP_FAILED);
  nic::UniqueFd irq(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  wave_irq_bind bind{};
  bind.argsz = sizeof(bind);
  bind.vector = 2;
  bind.fd = irq.get();
  ASSERT_EQ(ioctl(fd.get(), WAVE_IOC_BIND_IRQ, &bind), 0) << std::strerror(errno);

  std::vector<uint8_t> payload(200);
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<uint8_t>(i);
  }
  auto* rep = static_cast<wave_echo_reply*>(dst.base);
  ASSERT_TRUE(Echo(fd.get(), src, dst, irq.get(), WAVE_ECHO_CMD_MAGIC, 200, 5, payload));
  EXPECT_EQ(nic::ConsumeLe(rep->magic), WAVE_ECHO_REPLY_MAGIC);
  EXPECT_EQ(nic::LoadLe(rep->status), WAVE_ECHO_OK);
  EXPECT_EQ(nic::LoadLe(rep->seq), 5u);
  ASSERT_EQ(nic::LoadLe(rep->len), 200u);
  const auto* out = reinterpret_cast<const uint8_t*>(rep + 1);
  for (size_t i = 0; i < payload.size(); ++i) {
    ASSERT_EQ(out[i], static_cast<uint8_t>(~payload[i])) << i;
  }
  ASSERT_TRUE(Echo(fd.get(), src, dst, irq.get(), 0x1234, 4, 6, payload));
  EXPECT_EQ(nic::LoadLe(rep->status), WAVE_ECHO_EBADCMD);

  EXPECT_GT(Info(fd.get()).heartbeat, beat);
  EXPECT_EQ(nicd.Stop(SIGTERM), 0);
  EXPECT_EQ(Info(fd.get()).nic_state, WAVE_NIC_STATE_OFF);

  bind.fd = -1;
  EXPECT_EQ(ioctl(fd.get(), WAVE_IOC_BIND_IRQ, &bind), 0);
  DestroyQueue(fd.get(), src);
  DestroyQueue(fd.get(), dst);
}

}  // namespace
}  // namespace wave::nicd::testing
