// Watchdog eviction of a request that runs too long on a NIC core.
//
// A core runs each handler inside a sigsetjmp frame. The watchdog quarantines the actor and
// sends the core thread a signal; the signal handler jumps back to the core loop, abandoning the
// handler's frames (as firmware abandons a task it kills: state lives in DMOs, which the runtime
// owns, so nothing of the actor's state leaks). If the signal lands while the handler is inside
// a runtime call (which may hold a table lock), the jump is deferred to the end of that call.
// Consequence for actor code: a handler that can be evicted must not rely on destructors of its
// locals running.
#pragma once

#include <atomic>
#include <csetjmp>
#include <cstdint>

namespace wave::rt {

struct CoreGuard {
  sigjmp_buf jump;
  std::atomic<uint64_t> run_epoch{0};    // bumped before every handler call
  std::atomic<uint64_t> evict_epoch{0};  // the run the watchdog wants stopped
  std::atomic<bool> in_handler{false};
  std::atomic<bool> in_runtime_call{false};
  std::atomic<bool> jump_pending{false};

  // Runtime calls made by the handler bracket themselves with these.
  void enter_call() { in_runtime_call.store(true, std::memory_order_relaxed); }
  void leave_call();
};

// Installs the signal handler once per process; returns the signal number used.
int install_watchdog_signal();
// The guard of the calling core thread (set by the core loop), or null.
void set_current_guard(CoreGuard* g);
CoreGuard* current_guard();

}  // namespace wave::rt
