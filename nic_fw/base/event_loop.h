// The NIC firmware's event loop: one thread waits on file descriptors (doorbell eventfds, the
// ivshmem listening socket, host connections, timers, a signalfd) and runs a callback when one
// becomes ready.
//
// Waiting uses io_uring multishot poll: one submission per descriptor stays armed across
// events, so an idle NIC costs no system call per doorbell besides the eventfd read the
// callback does. Callbacks run on the loop's thread, one at a time; they must drain their
// descriptor (read until EAGAIN), because a multishot poll reports new readiness, not a level.
#ifndef WAVE_NIC_FW_BASE_EVENT_LOOP_H_
#define WAVE_NIC_FW_BASE_EVENT_LOOP_H_

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::nic {

class EventLoop {
 public:
  // revents: the poll(2) bits that fired (POLLIN, POLLHUP, POLLERR, ...).
  using FdCallback = std::function<void(uint32_t revents)>;
  // expirations: how many periods passed since the last call (more than 1 if the loop lagged).
  using TimerCallback = std::function<void(uint64_t expirations)>;
  using WatchId = uint64_t;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Status Init(unsigned queue_depth = 64);

  // Calls `callback` whenever `fd` is readable (or hung up / in error). The loop does not own
  // fd; Unwatch it before closing it.
  WatchId Watch(int fd, FdCallback callback);
  // Stops calling the watch's callback, also for events already queued. Safe from a callback,
  // including the watch's own.
  void Unwatch(WatchId id);

  // Calls `callback` every `period` (a timerfd owned by the loop).
  Status AddTimer(std::chrono::microseconds period, TimerCallback callback, WatchId* id = nullptr);
  // Removes a timer added by AddTimer and closes its timerfd.
  void RemoveTimer(WatchId id);

  // Runs callbacks until Stop(). Returns an error only if io_uring itself fails.
  Status Run();
  // Waits at most `timeout` for events and runs their callbacks; for embedding the loop in a
  // runtime that has its own schedule. Returns the number of callbacks run, or an error.
  Status RunOnce(std::chrono::microseconds timeout, int* callbacks_run = nullptr);
  // Makes Run() return after the current callback. Safe from any thread and from callbacks.
  void Stop();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  size_t watch_count() const { return watches_.size(); }

 private:
  struct WatchEntry {
    int fd;
    FdCallback callback;
    bool removed = false;  // Unwatch called; waiting for the poll's final completion
    UniqueFd owned_fd;     // timers: the timerfd the loop created
  };

  io_uring_sqe* GetSqe();
  void ArmPoll(WatchId id, int fd);
  int Dispatch();
  Status Wait(const __kernel_timespec* timeout);

  io_uring ring_{};
  bool ring_ready_ = false;
  UniqueFd wake_fd_;  // eventfd written by Stop() from other threads
  std::atomic<bool> stop_{false};
  WatchId next_id_ = 1;  // 0 tags completions of poll-remove requests
  std::map<WatchId, std::unique_ptr<WatchEntry>> watches_;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_EVENT_LOOP_H_
