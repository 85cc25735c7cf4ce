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

#include "exchange_setup.h"
#include "test_util.h"
#include "wave/link.h"

using namespace wave;

namespace {

constexpr uint64_t kAnswerEvery = 1024;

int RunNic(const std::string& spec, uint64_t count) {
  test::NicSide side;
  if (int rc = test::OpenNicSide(spec, false, &side); rc != 0)
    return rc;
  NicLink* nic = side.link.get();
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

int main(int argc, char** argv) {
  std::string host_spec, nic_spec;
  const int argi = test::ParseExchangeSpecs(argc, argv, "[COUNT]", &host_spec, &nic_spec);
  if (argi < 0)
    return 64;
  const uint64_t count = argc > argi ? std::strtoull(argv[argi], nullptr, 10) : 10'000'000;
  const bool nic_first = test::NicStartsFirst(host_spec);
  auto dev = Device::Open(host_spec, Role::kHost);
  if (!dev.ok()) {
    fprintf(stderr, "host: %s\n", dev.error().message.c_str());
    return 10;
  }
  pid_t child = -1;
  if (nic_first)
    child = test::Spawn([&] { return RunNic(nic_spec, count); });
  std::unique_ptr<HostLink> host_link = test::CreateHostLink(*dev.value(), LinkConfig{}, nic_first);
  if (!host_link)
    return 11;
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
