// Spin-then-sleep waiting on doorbell eventfds (io_uring), across two processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_util.h"
#include "wave/link.h"
#include "wave/waiter.h"

namespace wave {
namespace {

using namespace std::chrono_literals;

TEST(Waiter, ReadyWhileSpinningDoesNotSleep) {
  auto w = Waiter::Create(WaitPolicy{1ms, 1ms});
  ASSERT_TRUE(w.ok()) << w.error().message;
  int calls = 0;
  EXPECT_TRUE(w.value()->Wait([&] { return ++calls > 3; }, 1s));
  EXPECT_EQ(w.value()->stats().sleeps, 0u);
  EXPECT_EQ(w.value()->stats().ready_while_spinning, 1u);
}

TEST(Waiter, TimesOutWhenNothingArrives) {
  auto w = Waiter::Create(WaitPolicy{0ns, 1ms});
  ASSERT_TRUE(w.ok());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.value()->Wait([] { return false; }, 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(w.value()->stats().timeouts, 1u);
}

// The NIC process sleeps on the message doorbell; the host sends after a pause and kicks.
TEST(Waiter, NicSleepsUntilHostRingsDoorbell) {
  const std::string name = test::UniqueName("wait");
  auto host_dev = Device::Open("shm:" + name, Role::kHost);
  ASSERT_TRUE(host_dev.ok());
  auto host = HostLink::Create(*host_dev.value(), LinkConfig{});
  ASSERT_TRUE(host.ok());
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t nic = test::Spawn([&] {
    auto dev = Device::Open("shm:" + name, Role::kNic);
    if (!dev.ok())
      return 10;
    auto link = NicLink::Attach(*dev.value());
    if (!link.ok())
      return 11;
    const int efd = dev.value()->EventFd(link.value()->message_region().vector);
    if (efd < 0)
      return 12;  // pidfd_getfd not permitted here
    auto w = Waiter::Create(WaitPolicy{10us, 1ms});
    if (!w.ok() || !w.value()->Watch(efd).ok())
      return 13;
    char c = 'r';
    if (::write(pipefd[1], &c, 1) != 1)
      return 14;  // ready to wait
    Message m[4];
    uint32_t got = 0;
    const bool ok =
        w.value()->Wait([&] { return (got = link.value()->messages().Poll(m)) > 0; }, 5s);
    if (!ok || got != 1 || m[0].type != WAVE_MSG_CPU_IDLE)
      return 15;
    if (w.value()->stats().sleeps == 0 || w.value()->stats().wakeups == 0)
      return 16;
    return 0;
  });
  char c;
  ASSERT_EQ(::read(pipefd[0], &c, 1), 1);
  std::this_thread::sleep_for(50ms);  // the NIC is asleep by now
  wave_task_event e{};
  ASSERT_TRUE(host.value()->messages().SendEvent(WAVE_MSG_CPU_IDLE, e));
  ASSERT_TRUE(host.value()->Kick().ok());
  EXPECT_EQ(test::Reap(nic), 0);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

}  // namespace
}  // namespace wave
