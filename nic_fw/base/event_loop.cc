#include "base/event_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstdio>

namespace wave::nic {

EventLoop::~EventLoop() {
  if (ring_ready_) {
    // Tears down every armed poll; the watches (and the timerfds they own) go after it.
    io_uring_queue_exit(&ring_);
  }
}

Status EventLoop::Init(unsigned queue_depth) {
  int ret = io_uring_queue_init(queue_depth, &ring_, 0);
  if (ret < 0) {
    return Status::Errno("io_uring_queue_init", -ret);
  }
  ring_ready_ = true;
  wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) {
    return Status::Errno("eventfd", errno);
  }
  int wake = wake_fd_.get();
  Watch(wake, [wake](uint32_t) {
    uint64_t count;
    while (read(wake, &count, sizeof(count)) == sizeof(count)) {
    }
  });
  return Status::Ok();
}

io_uring_sqe* EventLoop::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The submission queue is full: hand what is there to the kernel to make room.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void EventLoop::ArmPoll(WatchId id, int fd) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_poll_multishot(sqe, fd, POLLIN);
  io_uring_sqe_set_data64(sqe, id);
}

EventLoop::WatchId EventLoop::Watch(int fd, FdCallback callback) {
  WatchId id = next_id_++;
  auto watch = std::make_unique<WatchEntry>();
  watch->fd = fd;
  watch->callback = std::move(callback);
  watches_.emplace(id, std::move(watch));
  ArmPoll(id, fd);
  return id;
}

void EventLoop::Unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second->removed) {
    return;
  }
  // The entry stays until the poll's final completion arrives, so a callback that unwatches
  // itself is not destroyed while it runs, and late completions find a removed entry.
  it->second->removed = true;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_poll_remove(sqe, id);
  io_uring_sqe_set_data64(sqe, 0);
}

Status EventLoop::AddTimer(std::chrono::microseconds period, TimerCallback callback,
                           WatchId* id_out) {
  if (period.count() <= 0) {
    return Status::Error("timer period must be positive");
  }
  UniqueFd tfd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!tfd) {
    return Status::Errno("timerfd_create", errno);
  }
  itimerspec spec{};
  spec.it_interval.tv_sec = period.count() / 1000000;
  spec.it_interval.tv_nsec = (period.count() % 1000000) * 1000;
  spec.it_value = spec.it_interval;
  if (timerfd_settime(tfd.get(), 0, &spec, nullptr) < 0) {
    return Status::Errno("timerfd_settime", errno);
  }
  int fd = tfd.get();
  WatchId id = Watch(fd, [fd, cb = std::move(callback)](uint32_t) {
    uint64_t expirations = 0;
    if (read(fd, &expirations, sizeof(expirations)) == sizeof(expirations) && expirations > 0) {
      cb(expirations);
    }
  });
  watches_[id]->owned_fd = std::move(tfd);
  if (id_out != nullptr) {
    *id_out = id;
  }
  return Status::Ok();
}

void EventLoop::RemoveTimer(WatchId id) {
  Unwatch(id);
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  if (wake_fd_) {
    uint64_t one = 1;
    // A full counter (impossible in practice) still leaves the fd readable, so ignoring a
    // failed write loses no wake-up.
    [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
  }
}

Status EventLoop::Wait(const __kernel_timespec* timeout) {
  io_uring_cqe* cqe = nullptr;
  int ret;
  if (timeout == nullptr) {
    ret = io_uring_submit_and_wait(&ring_, 1);
  } else {
    ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, const_cast<__kernel_timespec*>(timeout),
                                           nullptr);
  }
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
    return Status::Errno("io_uring_submit_and_wait", -ret);
  }
  return Status::Ok();
}

int EventLoop::Dispatch() {
  int ran = 0;
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    // Copy the completion out and retire it before running the callback, which may queue
    // new submissions.
    WatchId id = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    io_uring_cqe_seen(&ring_, cqe);
    if (id == 0) {
      continue;  // a poll-remove request finished
    }
    auto it = watches_.find(id);
    if (it == watches_.end()) {
      continue;
    }
    // Only this function erases entries, so `watch` stays valid across the callback even if
    // the callback adds or removes watches.
    WatchEntry* watch = it->second.get();
    if (!watch->removed) {
      if (res >= 0) {
        watch->callback(static_cast<uint32_t>(res));
        ++ran;
      } else if (res != -ECANCELED) {
        std::fprintf(stderr, "event_loop: poll on fd %d failed (%d); dropping it\n", watch->fd,
                     res);
        watch->callback(POLLERR);
        ++ran;
      }
    }
    if (!more) {
      if (watch->removed || res < 0) {
        watches_.erase(id);
      } else {
        // The kernel ended the multishot poll (for example after a completion queue
        // overflow); re-arm it so the descriptor is not forgotten.
        ArmPoll(id, watch->fd);
      }
    }
  }
  return ran;
}

Status EventLoop::Run() {
  while (!stopping()) {
    Status st = Wait(nullptr);
    if (!st.ok()) {
      return st;
    }
    Dispatch();
  }
  return Status::Ok();
}

Status EventLoop::RunOnce(std::chrono::microseconds timeout, int* callbacks_run) {
  __kernel_timespec ts{};
  ts.tv_sec = timeout.count() / 1000000;
  ts.tv_nsec = (timeout.count() % 1000000) * 1000;
  Status st = Wait(&ts);
  if (!st.ok()) {
    return st;
  }
  int ran = Dispatch();
  if (callbacks_run != nullptr) {
    *callbacks_run = ran;
  }
  return Status::Ok();
}

}  // namespace wave::nic
