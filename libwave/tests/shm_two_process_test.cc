// Two processes over the shm backend: the host (parent) creates the device and the link, the
// NIC (child) attaches. 10,000,000 messages, consumer restart, producer killed mid-write.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "test_util.h"
#include "wave/affinity.h"
#include "wave/link.h"

namespace wave {
namespace {

using test::CheckPatternEvent;
using test::PatternEvent;

struct HostSide {
  std::unique_ptr<Device> dev;
  std::unique_ptr<HostLink> link;
};

HostSide MakeHost(const std::string& name, LinkConfig cfg = {}) {
  HostSide h;
  auto dev = Device::Open("shm:" + name, Role::kHost);
  EXPECT_TRUE(dev.ok()) << (dev.ok() ? "" : dev.error().message);
  if (!dev.ok())
    return h;
  h.dev = std::move(dev.value());
  auto link = HostLink::Create(*h.dev, cfg);
  EXPECT_TRUE(link.ok()) << (link.ok() ? "" : link.error().message);
  if (link.ok())
    h.link = std::move(link.value());
  return h;
}

// NIC side in a child: attach (retrying while the host initialises).
std::unique_ptr<NicLink> AttachNic(Device& dev, RingConsumer::Start start) {
  for (int i = 0; i < 1000; i++) {
    auto l = NicLink::Attach(dev, start);
    if (l.ok())
      return std::move(l.value());
    if (l.error().code != EAGAIN) {
      fprintf(stderr, "attach: %s\n", l.error().message.c_str());
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return nullptr;
}

// The NIC side in a child: its device and link, or failure = the child's exit code (10: the
// device did not open, 11: the link did not attach).
struct NicSide {
  std::unique_ptr<Device> dev;
  std::unique_ptr<NicLink> link;
  int failure = 0;
};

NicSide OpenNic(const std::string& name, RingConsumer::Start start) {
  NicSide n;
  auto dev = Device::Open("shm:" + name, Role::kNic);
  if (!dev.ok()) {
    n.failure = 10;
    return n;
  }
  n.dev = std::move(dev.value());
  n.link = AttachNic(*n.dev, start);
  if (!n.link)
    n.failure = 11;
  return n;
}

// Consumes messages [first, first + count) in order; returns 0 on success.
int ConsumeRange(MessageConsumer& mc, uint64_t first, uint64_t count) {
  Message buf[64];
  uint64_t next = first;
  uint64_t idle = 0;
  while (next < first + count) {
    const uint64_t left = first + count - next;
    const uint32_t n = mc.Poll(std::span<Message>(buf, std::min<uint64_t>(64, left)));
    if (n == 0) {
      if (++idle % 256 == 0)
        sched_yield();  // two loaded cores: let the producer run
      if (idle > (1ull << 34))
        return 3;
      continue;
    }
    for (uint32_t i = 0; i < n; i++) {
      if (buf[i].type != WAVE_MSG_TASK_RUNNABLE || !CheckPatternEvent(buf[i].event, next)) {
        fprintf(stderr, "message %llu wrong (type %u seq %llu)\n",
                static_cast<unsigned long long>(next), buf[i].type,
                static_cast<unsigned long long>(buf[i].event.task_seq));
        return 2;
      }
      next++;
    }
  }
  return mc.bad_messages() == 0 && mc.ring().stats().bad_slots == 0 ? 0 : 4;
}

void Produce(MessageProducer& mp, uint64_t first, uint64_t count, uint32_t batch) {
  Message msgs[64];
  uint64_t next = first;
  uint64_t spins = 0;
  while (next < first + count) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch, first + count - next));
    for (uint32_t i = 0; i < n; i++) {
      msgs[i].type = WAVE_MSG_TASK_RUNNABLE;
      msgs[i].len = sizeof(wave_task_event);
      msgs[i].event = PatternEvent(next + i);
    }
    const uint32_t sent = mp.SendBatch(std::span<const Message>(msgs, n));
    next += sent;
    if (sent == 0 && ++spins % 256 == 0)
      sched_yield();
  }
}

TEST(ShmTwoProcess, TenMillionMessagesNoneLostDuplicatedOrReordered) {
  const std::string name = test::UniqueName("10m");
  HostSide host = MakeHost(name);
  ASSERT_TRUE(host.link);
  constexpr uint64_t kCount = 10'000'000;
  const pid_t child = test::Spawn([&] {
    PinCurrentThreadTo(1);
    NicSide nic = OpenNic(name, RingConsumer::Start::kFresh);
    if (nic.failure)
      return nic.failure;
    const int rc = ConsumeRange(nic.link->messages(), 0, kCount);
    // Tell the host we are done through the decision ring.
    wave_decision d{};
    d.txn_id = kCount;
    while (!nic.link->decisions().Push(d)) {
    }
    return rc;
  });
  PinCurrentThreadTo(0);
  const auto t0 = std::chrono::steady_clock::now();
  Produce(host.link->messages(), 0, kCount, 32);
  wave_decision d{};
  while (host.link->decisions().PollRing(std::span<wave_decision>(&d, 1)) == 0)
    sched_yield();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(d.txn_id, kCount);
  EXPECT_EQ(test::Reap(child), 0);
  const RingStats& ps = host.link->messages().ring().stats();
  EXPECT_EQ(ps.messages, kCount);
  EXPECT_EQ(ps.bad_credits, 0u);
  RecordProperty("msgs_per_s", static_cast<int>(kCount / s));
  printf("10M messages in %.2f s (%.1f M/s), %llu credit reads\n", s, kCount / s / 1e6,
         static_cast<unsigned long long>(ps.credit_reads));
}

TEST(ShmTwoProcess, ConsumerRestartedMidStreamResumesWithoutLoss) {
  const std::string name = test::UniqueName("restart");
  LinkConfig cfg;
  cfg.message_slots = 256;
  HostSide host = MakeHost(name, cfg);
  ASSERT_TRUE(host.link);
  constexpr uint64_t kTotal = 200000;
  constexpr uint64_t kFirst = 77777;  // not a multiple of any batch or credit size
  const pid_t producer = test::Spawn([&] {
    Produce(host.link->messages(), 0, kTotal, 7);
    return 0;
  });
  // First consumer takes exactly kFirst messages and exits (its commits persist).
  const pid_t c1 = test::Spawn([&] {
    NicSide nic = OpenNic(name, RingConsumer::Start::kFresh);
    if (nic.failure)
      return nic.failure;
    return ConsumeRange(nic.link->messages(), 0, kFirst);
  });
  ASSERT_EQ(test::Reap(c1), 0);
  // A new consumer resumes from the committed position: it must see kFirst next.
  const pid_t c2 = test::Spawn([&] {
    NicSide nic = OpenNic(name, RingConsumer::Start::kResume);
    if (nic.failure)
      return nic.failure;
    if (nic.link->messages().ring().position() != kFirst)
      return 12;
    return ConsumeRange(nic.link->messages(), kFirst, kTotal - kFirst);
  });
  EXPECT_EQ(test::Reap(c2), 0);
  EXPECT_EQ(test::Reap(producer), 0);
}

TEST(ShmTwoProcess, ProducerKilledMidWriteLeavesNoTornSlotAccepted) {
  for (int round = 0; round < 10; round++) {
    const std::string name = test::UniqueName("kill");
    LinkConfig cfg;
    cfg.message_slots = 1024;
    HostSide host = MakeHost(name, cfg);
    ASSERT_TRUE(host.link);
    NicSide nic = OpenNic(name, RingConsumer::Start::kFresh);
    ASSERT_EQ(nic.failure, 0);
    // The producer writes field by field (slowly, so kills land inside slots).
    const pid_t producer = test::Spawn([&] {
      RingProducer& rp = host.link->messages().ring();
      for (uint64_t i = 0;; i++) {
        const wave_task_event e = PatternEvent(i);
        while (rp.EnqueueBatch(1, [&](uint32_t, uint8_t* payload) {
          const auto* src = reinterpret_cast<const volatile uint8_t*>(&e);
          auto* dst = reinterpret_cast<volatile uint8_t*>(payload);
          for (size_t b = 0; b < sizeof(e); b++)
            dst[b] = src[b];
          return std::pair<uint16_t, uint16_t>{WAVE_MSG_TASK_RUNNABLE, sizeof(e)};
        }) == 0) {
        }
      }
      return 0;
    });
    std::mt19937 rng(round);
    Message buf[64];
    uint64_t next = 0;
    const auto kill_at =
        std::chrono::steady_clock::now() + std::chrono::microseconds(200 + rng() % 5000);
    bool killed = false;
    for (int idle = 0; idle < 2000;) {
      if (!killed && std::chrono::steady_clock::now() >= kill_at) {
        ::kill(producer, SIGKILL);
        EXPECT_EQ(test::Reap(producer), 128 + SIGKILL);
        killed = true;
      }
      const uint32_t n = nic.link->messages().Poll(buf);
      for (uint32_t i = 0; i < n; i++) {
        ASSERT_TRUE(CheckPatternEvent(buf[i].event, next)) << "torn or wrong message " << next;
        next++;
      }
      if (killed && n == 0)
        idle++;
    }
    EXPECT_EQ(nic.link->messages().bad_messages(), 0u);
    EXPECT_EQ(nic.link->messages().ring().stats().bad_slots, 0u);
    // Whatever the killed producer left half-written stays invisible.
    EXPECT_EQ(nic.link->messages().Poll(buf), 0u);
  }
}

}  // namespace
}  // namespace wave
