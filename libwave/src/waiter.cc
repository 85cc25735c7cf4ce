#include "wave/waiter.h"

#include <liburing.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace wave {

struct Waiter::Ring {
  io_uring ring{};
  bool ready = false;
  ~Ring() {
    if (ready)
      io_uring_queue_exit(&ring);
  }
};

Waiter::Waiter(WaitPolicy policy) : policy_(policy), ring_(std::make_unique<Ring>()) {}
Waiter::~Waiter() = default;

Result<std::unique_ptr<Waiter>> Waiter::Create(WaitPolicy policy) {
  std::unique_ptr<Waiter> w(new Waiter(policy));
  const int rc = io_uring_queue_init(16, &w->ring_->ring, 0);
  if (rc < 0)
    return ErrnoError("io_uring_queue_init", -rc);
  w->ring_->ready = true;
  w->buffers_.reserve(16);
  return w;
}

Status Waiter::Watch(int eventfd) {
  if (eventfd < 0)
    return {};
  if (fds_.size() >= 15)
    return Error{ENOSPC, "waiter: too many eventfds"};
  fds_.push_back(eventfd);
  buffers_.push_back(0);
  Arm(fds_.size() - 1);
  return {};
}

void Waiter::Arm(size_t index) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
  if (!sqe)
    return;  // cannot happen: at most 15 reads in flight on a 16-entry ring
  // A poll, not a read: the eventfds are non-blocking, and io_uring honours O_NONBLOCK.
  io_uring_prep_poll_add(sqe, fds_[index], POLLIN);
  io_uring_sqe_set_data64(sqe, index);
  io_uring_submit(&ring_->ring);
}

void Waiter::Sleep(std::chrono::nanoseconds max) {
  if (fds_.empty()) {
    std::this_thread::sleep_for(std::min(max, policy_.poll_interval));
    return;
  }
  stats_.sleeps++;
  const auto ns = std::min(max, std::chrono::nanoseconds(std::chrono::milliseconds(100)));
  __kernel_timespec ts{};
  ts.tv_sec = ns.count() / 1000000000;
  ts.tv_nsec = ns.count() % 1000000000;
  io_uring_cqe* cqe = nullptr;
  if (io_uring_wait_cqe_timeout(&ring_->ring, &cqe, &ts) != 0)
    return;
  // Drain every completion and re-arm those reads.
  unsigned head;
  unsigned seen = 0;
  std::vector<size_t> rearm;
  io_uring_for_each_cqe(&ring_->ring, head, cqe) {
    seen++;
    const uint64_t index = io_uring_cqe_get_data64(cqe);
    if (index < fds_.size()) {
      stats_.wakeups++;
      // Reset the counter so the re-armed poll waits for the next notification.
      [[maybe_unused]] ssize_t n = ::read(fds_[index], &buffers_[index], sizeof(uint64_t));
      rearm.push_back(index);
    }
  }
  io_uring_cq_advance(&ring_->ring, seen);
  for (size_t index : rearm)
    Arm(index);
}

}  // namespace wave
