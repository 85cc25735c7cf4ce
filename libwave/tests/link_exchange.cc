// link_exchange HOSTSPEC NICSPEC [COUNT]
// link_exchange wave:loopback [COUNT]      (finds the wave.ko loopback device, /dev/waveN)
//
// Two-process exchange over any backend: the parent opens HOSTSPEC as the host and builds the
// link, a forked child opens NICSPEC as the NIC. The host sends COUNT task events (default
// 10,000,000) in batches of 32; the NIC checks every one (none lost, duplicated, reordered or
// torn) and answers with a decision every 1024 messages, which the host checks in turn.
// The NIC side announces WAVE_NIC_STATE_READY first (as firmware does); the host retries
// creating the link until the device accepts queues. Exit status 0 when everything arrived
// intact. Example, inside the VM after `insmod kmod/wave.ko loopback=1`:
//   link_exchange wave:loopback 10000000
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "test_util.h"
#include "wave/link.h"

using namespace wave;

namespace {

constexpr uint64_t kAnswerEvery = 1024;

int RunNic(const std::string& spec, uint64_t count) {
  auto dev = Device::Open(spec, Role::kNic);
  if (!dev.ok()) {
    fprintf(stderr, "nic: %s\n", dev.error().message.c_str());
    return 10;
  }
  if (Status st = dev.value()->SetNicState(WAVE_NIC_STATE_READY); !st) {
    fprintf(stderr, "nic: %s\n", st.error().message.c_str());
    return 13;
  }
  std::unique_ptr<NicLink> nic;
  for (int i = 0; i < 20000 && !nic; i++) {
    auto l = NicLink::Attach(*dev.value());
    if (l.ok()) {
      nic = std::move(l.value());
    } else if (l.error().code == EAGAIN) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else {
      fprintf(stderr, "nic: attach: %s\n", l.error().message.c_str());
      return 11;
    }
  }
  if (!nic)
    return 12;
  Message buf[64];
  uint64_t next = 0, idle = 0;
  while (next < count) {
    const uint32_t n = nic->messages().Poll(buf);
    if (n == 0 && ++idle % 128 == 0)
      sched_yield();
    for (uint32_t i = 0; i < n; i++) {
      if (buf[i].type != WAVE_MSG_TASK_RUNNABLE || !test::CheckPatternEvent(buf[i].event, next)) {
        fprintf(stderr, "nic: message %llu wrong\n", static_cast<unsigned long long>(next));
        return 2;
      }
      next++;
      if (next % kAnswerEvery == 0 || next == count) {
        wave_decision d{};
        d.txn_id = next;
        while (!nic->decisions().Push(d))
          sched_yield();
      }
    }
  }
  const RingStats& s = nic->messages().ring().stats();
  if (nic->messages().bad_messages() || s.bad_slots)
    return 3;
  return 0;
}

}  // namespace

// The first /dev/waveN that opens as a NIC side, i.e. a loopback device.
std::string FindLoopback() {
  for (int n = 0; n < 16; n++) {
    const std::string spec = "wave:/dev/wave" + std::to_string(n);
    if (Device::Open(spec, Role::kNic).ok())
      return spec;
  }
  return "";
}

int main(int argc, char** argv) {
  std::string host_spec, nic_spec;
  int argi = 1;
  if (argc >= 2 && std::string(argv[1]) == "wave:loopback") {
    host_spec = nic_spec = FindLoopback();
    if (host_spec.empty()) {
      fprintf(stderr, "no wave.ko loopback device (insmod wave.ko loopback=1)\n");
      return 10;
    }
    argi = 2;
  } else if (argc >= 3) {
    host_spec = argv[1];
    nic_spec = argv[2];
    argi = 3;
  } else {
    fprintf(stderr, "usage: %s HOSTSPEC NICSPEC [COUNT] | wave:loopback [COUNT]\n", argv[0]);
    return 64;
  }
  const uint64_t count = argc > argi ? std::strtoull(argv[argi], nullptr, 10) : 10'000'000;
  const bool nic_first = host_spec.rfind("wave:", 0) == 0;  // the NIC makes it ready
  auto dev = Device::Open(host_spec, Role::kHost);
  if (!dev.ok()) {
    fprintf(stderr, "host: %s\n", dev.error().message.c_str());
    return 10;
  }
  pid_t child = -1;
  if (nic_first)
    child = test::Spawn([&] { return RunNic(nic_spec, count); });
  std::unique_ptr<HostLink> host_link;
  for (int i = 0; i < 20000 && !host_link; i++) {
    auto l = HostLink::Create(*dev.value(), LinkConfig{});
    if (l.ok()) {
      host_link = std::move(l.value());
    } else if (l.error().code == ENODEV && nic_first) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // NIC not ready yet
    } else {
      fprintf(stderr, "host: link: %s\n", l.error().message.c_str());
      return 11;
    }
  }
  if (!host_link)
    return 12;
  auto* link = &host_link;
  if (!nic_first)
    child = test::Spawn([&] { return RunNic(nic_spec, count); });
  const auto t0 = std::chrono::steady_clock::now();
  Message msgs[32];
  uint64_t next = 0, answered = 0, spins = 0;
  wave_decision dec[64];
  while (next < count || answered < count) {
    if (next < count) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(32, count - next));
      for (uint32_t i = 0; i < n; i++) {
        msgs[i].type = WAVE_MSG_TASK_RUNNABLE;
        msgs[i].len = sizeof(wave_task_event);
        msgs[i].event = test::PatternEvent(next + i);
      }
      next += (*link)->messages().SendBatch(std::span<const Message>(msgs, n));
    }
    const uint32_t got = (*link)->decisions().PollRing(dec);
    for (uint32_t i = 0; i < got; i++) {
      const uint64_t want = std::min(count, answered + kAnswerEvery - answered % kAnswerEvery);
      if (dec[i].txn_id != want) {
        fprintf(stderr, "host: decision %llu, want %llu\n",
                static_cast<unsigned long long>(dec[i].txn_id),
                static_cast<unsigned long long>(want));
        return 2;
      }
      answered = want;
    }
    if (got == 0 && ++spins % 256 == 0)
      sched_yield();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int rc = test::Reap(child);
  printf("link_exchange %s: %llu messages, %.2f s, %.2f M msgs/s, nic exit %d\n", host_spec.c_str(),
         static_cast<unsigned long long>(count), s, count / s / 1e6, rc);
  return rc == 0 ? 0 : 1;
}
