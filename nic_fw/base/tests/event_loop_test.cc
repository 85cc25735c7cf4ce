#include "base/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace wave::nic {
namespace {

using std::chrono::microseconds;

UniqueFd MakeEventfd() {
  return UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

void Signal(const UniqueFd& fd) {
  uint64_t one = 1;
  ASSERT_EQ(write(fd.get(), &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

uint64_t Drain(int fd) {
  uint64_t v = 0;
  return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

// Runs the loop until `done` or about a second passed.
template <typename F>
bool Pump(EventLoop& loop, F done) {
  for (int i = 0; i < 1000 && !done(); ++i) {
    EXPECT_TRUE(loop.RunOnce(microseconds(1000)).ok());
  }
  return done();
}

TEST(EventLoop, WatchedFdRunsItsCallbackEveryTime) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  UniqueFd efd = MakeEventfd();
  int calls = 0;
  loop.Watch(efd.get(), [&](uint32_t) {
    Drain(efd.get());
    ++calls;
  });
  for (int i = 1; i <= 5; ++i) {
    Signal(efd);
    ASSERT_TRUE(Pump(loop, [&] { return calls == i; })) << i;
  }
}

TEST(EventLoop, UnwatchFromItsOwnCallbackStopsFurtherCalls) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  UniqueFd efd = MakeEventfd();
  int calls = 0;
  EventLoop::WatchId id = 0;
  id = loop.Watch(efd.get(), [&](uint32_t) {
    Drain(efd.get());
    ++calls;
    loop.Unwatch(id);
  });
  size_t before = loop.watch_count();
  Signal(efd);
  ASSERT_TRUE(Pump(loop, [&] { return calls == 1; }));
  // The entry goes once the kernel confirms the poll is gone.
  ASSERT_TRUE(Pump(loop, [&] { return loop.watch_count() == before - 1; }));
  Signal(efd);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(loop.RunOnce(microseconds(1000)).ok());
  }
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, TimerFiresPeriodicallyAndCanBeRemoved) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  uint64_t ticks = 0;
  EventLoop::WatchId id = 0;
  ASSERT_TRUE(loop.AddTimer(
                      microseconds(500), [&](uint64_t n) { ticks += n; }, &id)
                  .ok());
  ASSERT_TRUE(Pump(loop, [&] { return ticks >= 5; }));
  loop.RemoveTimer(id);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(loop.RunOnce(microseconds(1000)).ok());
  }
  uint64_t after = ticks;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(loop.RunOnce(microseconds(1000)).ok());
  }
  EXPECT_EQ(ticks, after);
  EXPECT_FALSE(loop.AddTimer(microseconds(0), [](uint64_t) {}).ok());
}

TEST(EventLoop, RunOnceTimesOutWithNothingToDo) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  int ran = -1;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.RunOnce(microseconds(5000), &ran).ok());
  EXPECT_EQ(ran, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4));
}

TEST(EventLoop, StopFromAnotherThreadEndsRun) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    loop.Stop();
  });
  EXPECT_TRUE(loop.Run().ok());
  stopper.join();
  EXPECT_TRUE(loop.stopping());
}

TEST(EventLoop, ManyWatchesBeyondTheRingDepth) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init(8).ok());
  std::vector<UniqueFd> fds;
  int calls = 0;
  for (int i = 0; i < 40; ++i) {
    fds.push_back(MakeEventfd());
    int fd = fds.back().get();
    loop.Watch(fd, [&, fd](uint32_t) {
      Drain(fd);
      ++calls;
    });
  }
  for (auto& fd : fds) {
    Signal(fd);
  }
  EXPECT_TRUE(Pump(loop, [&] { return calls == 40; }));
}

}  // namespace
}  // namespace wave::nic
