// wave-nicd against QEMU's real ivshmem-doorbell device (skipped where QEMU is not installed).
// QEMU runs without a guest under qtest; the test does what wave.ko would do in the guest:
// program the BARs, enable MSI-X, ring the NIC through the doorbell register, and see the
// NIC's interrupt become pending on the device's MSI-X vector.
#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "base/mapped_region.h"
#include "base/shared_word.h"
#include "base/unique_fd.h"
#include "fake_host.h"
#include "nicd_process.h"
#include "qemu_qtest.h"
#include "wave_diag.h"

namespace wave::nicd::testing {
namespace {

constexpr uint32_t kSlot = 4;            // the device's PCI slot, fixed on QEMU's command line
constexpr uint64_t kBar0 = 0xfe000000;   // registers
constexpr uint64_t kBar1 = 0xfe001000;   // MSI-X table and PBA
constexpr uint64_t kBar2 = 0x100000000;  // the shared memory: the NIC's BAR window
constexpr uint64_t kBarSize = 1 << 20;
constexpr uint32_t kPciCapMsix = 0x11;

// Polls `done`, giving QEMU's main loop a turn between polls (each qtest command is one).
bool WaitFor(QemuQtest& qemu, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    qemu.Readl(kBar0 + WAVE_IVSHMEM_REG_IV_POSITION);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

TEST(NicdWithQemu, IvshmemDoorbellDeviceRingsTheNicAndTakesItsInterrupts) {
  std::string qemu_bin = QemuQtest::FindQemu();
  if (qemu_bin.empty()) {
    GTEST_SKIP() << "qemu-system-x86_64 not found";
  }
  TempDir dir;
  NicdProcess nicd;
  ASSERT_TRUE(nicd.Start({"--socket", dir.File("nic.sock"), "--shm", dir.File("bar"), "--bar-size",
                          "1M", "--vectors", "8"}));
  nic::UniqueFd bar_fd(open(dir.File("bar").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(bar_fd.valid());
  nic::MappedRegion bar;
  ASSERT_TRUE(nic::MappedRegion::Map(bar_fd.get(), kBarSize, 0, &bar).ok());
  FakeHost host(bar.bytes());

  QemuQtest qemu;
  ASSERT_TRUE(
      qemu.Start(qemu_bin,
                 {"-M", "q35", "-chardev", "socket,path=" + dir.File("nic.sock") + ",id=nic",
                  "-device", "ivshmem-doorbell,chardev=nic,vectors=8,addr=04.0"},
                 dir.File("qmp.sock")));
  ASSERT_EQ(qemu.ConfigRead32(kSlot, 0x00), 0x11101af4u);  // 1af4:1110, the ivshmem device
  qemu.ConfigWrite32(kSlot, 0x10, static_cast<uint32_t>(kBar0));
  qemu.ConfigWrite32(kSlot, 0x14, static_cast<uint32_t>(kBar1));
  qemu.ConfigWrite32(kSlot, 0x18, static_cast<uint32_t>(kBar2));  // 64-bit BAR, low half
  qemu.ConfigWrite32(kSlot, 0x1c, static_cast<uint32_t>(kBar2 >> 32));
  qemu.ConfigWrite32(kSlot, 0x04, 0x6);  // memory space and bus master
  ASSERT_EQ(qemu.Readl(kBar2), WAVE_ABI_MAGIC);

  // The guest's view: its peer id, and the control page wave-nicd wrote.
  EXPECT_EQ(qemu.Readl(kBar0 + WAVE_IVSHMEM_REG_IV_POSITION), 1u);
  EXPECT_EQ(qemu.Readl(kBar2 + offsetof(wave_control_page, nr_vectors)), 8u);

  // MSI-X on, vectors left masked: an interrupt from the NIC shows as a pending bit.
  uint32_t cap = qemu.ConfigRead32(kSlot, 0x34) & 0xff;
  while (cap != 0 && (qemu.ConfigRead32(kSlot, cap) & 0xff) != kPciCapMsix) {
    cap = (qemu.ConfigRead32(kSlot, cap) >> 8) & 0xff;
  }
  ASSERT_NE(cap, 0u) << "no MSI-X capability";
  qemu.ConfigWrite32(kSlot, cap, qemu.ConfigRead32(kSlot, cap) | (1u << 31));
  uint32_t pba = qemu.ConfigRead32(kSlot, cap + 8);
  ASSERT_EQ(pba & 7, 1u);  // the PBA lives in BAR1
  uint64_t pba_addr = kBar1 + (pba & ~7u);

  // QEMU takes the NIC's eventfds after its synchronous setup; ring the admin vector until
  // the NIC counts it.
  ASSERT_TRUE(WaitFor(qemu, [&] {
    qemu.Writel(kBar0 + WAVE_IVSHMEM_REG_DOORBELL, WAVE_IVSHMEM_DOORBELL(0, WAVE_ADMIN_VECTOR));
    return nic::LoadLe(host.stats()->doorbells[WAVE_ADMIN_VECTOR]) > 0;
  }));
  EXPECT_EQ(host.Stat(&wave_link_stats::hosts_connected), 1u);

  // wave.ko's part: an echo queue pair in the table, then the admin doorbell.
  constexpr uint64_t kSrc = 0x4000;
  constexpr uint64_t kDst = 0x8000;
  uint64_t scans = host.Stat(&wave_link_stats::queue_table_scans);
  host.SetQueue(1, kSrc, 0x1000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_RAW, 1, WAVE_CACHE_WC);
  host.SetQueue(2, kDst, 0x1000, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_RAW, 2, WAVE_CACHE_WT);
  host.BumpTableGen();
  qemu.Writel(kBar0 + WAVE_IVSHMEM_REG_DOORBELL, WAVE_IVSHMEM_DOORBELL(0, WAVE_ADMIN_VECTOR));
  ASSERT_TRUE(WaitFor(qemu, [&] {
    return host.Stat(&wave_link_stats::queue_table_scans) > scans &&
           host.Stat(&wave_link_stats::active_queues) == 2;
  }));

  // The echo command goes in through the guest's BAR2 mapping, the doorbell through BAR0.
  qemu.Writel(kBar2 + kSrc + offsetof(wave_echo_cmd, dst_queue), 2);
  qemu.Writel(kBar2 + kSrc + offsetof(wave_echo_cmd, len), 4);
  qemu.Writel(kBar2 + kSrc + offsetof(wave_echo_cmd, seq), 77);
  qemu.Writel(kBar2 + kSrc + sizeof(wave_echo_cmd), 0x12345678);
  qemu.Writel(kBar2 + kSrc + offsetof(wave_echo_cmd, magic), WAVE_ECHO_CMD_MAGIC);
  qemu.Writel(kBar2 + WAVE_BAR_DOORBELL_OFF + 4 * 1, WAVE_ECHO_DOORBELL);
  ASSERT_EQ(qemu.Readl(pba_addr) & (1u << 2), 0u);  // nothing pending before the echo
  qemu.Writel(kBar0 + WAVE_IVSHMEM_REG_DOORBELL, WAVE_IVSHMEM_DOORBELL(0, 1));

  // The NIC's interrupt on vector 2 reaches the device.
  EXPECT_TRUE(WaitFor(qemu, [&] { return (qemu.Readl(pba_addr) & (1u << 2)) != 0; }));
  EXPECT_EQ(qemu.Readl(kBar2 + kDst + offsetof(wave_echo_reply, magic)), WAVE_ECHO_REPLY_MAGIC);
  EXPECT_EQ(qemu.Readl(kBar2 + kDst + offsetof(wave_echo_reply, status)), WAVE_ECHO_OK);
  EXPECT_EQ(qemu.Readl(kBar2 + kDst + offsetof(wave_echo_reply, seq)), 77u);
  EXPECT_EQ(qemu.Readl(kBar2 + kDst + sizeof(wave_echo_reply)), ~0x12345678u);
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_ok), 1u);

  // QEMU going away is a disconnect; wave-nicd keeps serving and then stops cleanly.
  qemu.Stop();
  EXPECT_TRUE(WaitFor(qemu, [&] { return host.Stat(&wave_link_stats::hosts_connected) == 0; }));
  EXPECT_EQ(nicd.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace wave::nicd::testing
