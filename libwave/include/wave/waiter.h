// Waiting for the other side: spin, then sleep on doorbell/interrupt eventfds with io_uring.
//
// A busy side polls its rings; an idle one should not burn a core. Waiter::Wait first spins on
// the caller's readiness check for up to spin_ns, then sleeps in io_uring_wait_cqe_timeout on
// reads armed on every registered eventfd, re-checking readiness after each wakeup. The reads
// stay armed between waits, so a notification sent while the caller was spinning or working
// is never lost: it completes the pending read and the next sleep returns at once.
#ifndef WAVE_WAITER_H_
#define WAVE_WAITER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "wave/fence.h"
#include "wave/result.h"

namespace wave {

struct WaitPolicy {
  std::chrono::nanoseconds spin{20000};  // spin bound before sleeping
  std::chrono::nanoseconds poll_interval{std::chrono::milliseconds(1)};  // without eventfds
};

struct WaiterStats {
  uint64_t waits = 0;
  uint64_t ready_while_spinning = 0;
  uint64_t sleeps = 0;
  uint64_t wakeups = 0;  // eventfd reads completed
  uint64_t timeouts = 0;
};

class Waiter {
 public:
  static Result<std::unique_ptr<Waiter>> Create(WaitPolicy policy = {});
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Adds an eventfd to sleep on (negative fds are ignored: that side polls).
  Status Watch(int eventfd);

  // Returns true once ready() holds, false if timeout passed first.
  template <typename Ready>
  bool Wait(Ready&& ready, std::chrono::nanoseconds timeout) {
    stats_.waits++;
    const auto start = std::chrono::steady_clock::now();
    const auto spin_end = start + policy_.spin;
    const auto deadline = start + timeout;
    while (true) {
      if (ready()) {
        stats_.ready_while_spinning++;
        return true;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= spin_end || now >= deadline)
        break;
      CpuRelax();
    }
    while (true) {
      if (ready())
        return true;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        stats_.timeouts++;
        return false;
      }
      Sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now));
    }
  }

  const WaiterStats& stats() const { return stats_; }
  const WaitPolicy& policy() const { return policy_; }

 private:
  struct Ring;
  explicit Waiter(WaitPolicy policy);
  void Sleep(std::chrono::nanoseconds max);
  void Arm(size_t index);

  WaitPolicy policy_;
  std::unique_ptr<Ring> ring_;
  std::vector<int> fds_;
  std::vector<uint64_t> buffers_;
  WaiterStats stats_;
};

}  // namespace wave

#endif  // WAVE_WAITER_H_
