// vfio_echo BDF — the vfio: backend against the NIC firmware's echo service (uapi/wave_diag.h).
//
// Opens the PCI function through VFIO (host side: BAR2 mmap, queue table written by libwave,
// ivshmem doorbell register, MSI-X eventfd), creates a RAW host-to-NIC and a RAW NIC-to-host
// queue, sends an echo command with a payload, rings the doorbell and sleeps on the interrupt
// eventfd until the reply arrives; checks that every payload byte came back inverted.
// Exit status 0 on success. Runs inside a VM with an emulated IOMMU (see vfio_vm_test.sh).
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "wave/device.h"
#include "wave/waiter.h"
#include "wave_diag.h"

using namespace wave;

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DDDD:BB:DD.F\n", argv[0]);
    return 64;
  }
  auto dev = Device::Open(std::string("vfio:") + argv[1], Role::kHost);
  if (!dev.ok()) {
    fprintf(stderr, "vfio_echo: %s\n", dev.error().message.c_str());
    return 10;
  }
  Device& d = *dev.value();
  const uint16_t vector = d.control()->nr_vectors > 1 ? 1 : 0;
  auto tx = d.CreateQueue(
      {WAVE_PAGE_SIZE, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, vector});
  auto rx = d.CreateQueue(
      {WAVE_PAGE_SIZE, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, vector});
  if (!tx.ok() || !rx.ok()) {
    fprintf(stderr, "vfio_echo: create queue: %s\n",
            (!tx.ok() ? tx.error() : rx.error()).message.c_str());
    return 11;
  }
  const int efd = d.EventFd(vector);
  if (efd < 0) {
    fprintf(stderr, "vfio_echo: no interrupt eventfd for vector %u: %s\n", vector,
            std::strerror(errno));
    return 12;
  }
  auto waiter =
      Waiter::Create(WaitPolicy{std::chrono::microseconds(50), std::chrono::milliseconds(1)});
  if (!waiter.ok() || !waiter.value()->Watch(efd).ok())
    return 12;

  constexpr uint32_t kLen = 200;
  auto* reply = reinterpret_cast<volatile wave_echo_reply*>(rx->base);
  reply->magic = 0;
  wave_echo_cmd cmd{WAVE_ECHO_CMD_MAGIC, rx->id, kLen, 4242};
  uint8_t payload[kLen];
  for (uint32_t i = 0; i < kLen; i++)
    payload[i] = static_cast<uint8_t>(i * 13 + 5);
  std::memcpy(tx->base + sizeof(cmd), payload, kLen);
  std::memcpy(tx->base, &cmd, sizeof(cmd));
  if (Status st = d.Notify(tx->id, WAVE_ECHO_DOORBELL); !st) {
    fprintf(stderr, "vfio_echo: doorbell: %s\n", st.error().message.c_str());
    return 13;
  }
  const bool ok = waiter.value()->Wait([&] { return reply->magic == WAVE_ECHO_REPLY_MAGIC; },
                                       std::chrono::seconds(20));
  if (!ok) {
    fprintf(stderr, "vfio_echo: no reply (interrupt eventfd %d, wakeups %llu)\n", efd,
            static_cast<unsigned long long>(waiter.value()->stats().wakeups));
    return 14;
  }
  if (reply->status != WAVE_ECHO_OK || reply->seq != 4242 || reply->len != kLen) {
    fprintf(stderr, "vfio_echo: bad reply status %u seq %u len %u\n", reply->status, reply->seq,
            reply->len);
    return 15;
  }
  for (uint32_t i = 0; i < kLen; i++) {
    if (rx->base[sizeof(wave_echo_reply) + i] != static_cast<uint8_t>(~payload[i])) {
      fprintf(stderr, "vfio_echo: payload byte %u wrong\n", i);
      return 16;
    }
  }
  // The reply may have been seen while spinning; the MSI-X interrupt must have fired anyway.
  const uint64_t wakeups = waiter.value()->stats().wakeups;
  pollfd pfd{efd, POLLIN, 0};
  const bool irq = wakeups > 0 || ::poll(&pfd, 1, 5000) == 1;
  printf("vfio_echo %s: reply ok, interrupt %s\n", argv[1], irq ? "received" : "MISSING");
  if (!irq) {
    // What the guest kernel saw, while the vectors are still set up.
    if (FILE* f = std::fopen("/proc/interrupts", "r")) {
      char line[512];
      while (std::fgets(line, sizeof(line), f)) {
        if (std::strstr(line, "vfio"))
          printf("  %s", line);
      }
      std::fclose(f);
    }
  }
  return irq ? 0 : 17;
}
