#include "core_guard.h"

#include <signal.h>

#include <mutex>

namespace wave::rt {
namespace {

thread_local CoreGuard* tls_guard = nullptr;

bool should_jump(const CoreGuard* g) {
  return g->in_handler.load(std::memory_order_relaxed) &&
         g->evict_epoch.load(std::memory_order_relaxed) ==
             g->run_epoch.load(std::memory_order_relaxed);
}

void on_watchdog_signal(int) {
  CoreGuard* g = tls_guard;
  if (g == nullptr || !should_jump(g))
    return;
  if (g->in_runtime_call.load(std::memory_order_relaxed)) {
    g->jump_pending.store(true, std::memory_order_relaxed);
    return;
  }
  siglongjmp(g->jump, 1);
}

}  // namespace

void CoreGuard::leave_call() {
  in_runtime_call.store(false, std::memory_order_relaxed);
  if (jump_pending.load(std::memory_order_relaxed) && should_jump(this)) {
    jump_pending.store(false, std::memory_order_relaxed);
    siglongjmp(jump, 1);
  }
}

int install_watchdog_signal() {
  static std::once_flag once;
  static const int sig = SIGRTMIN + 3;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_handler = on_watchdog_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
  });
  return sig;
}

void set_current_guard(CoreGuard* g) {
  tls_guard = g;
}

CoreGuard* current_guard() {
  return tls_guard;
}

}  // namespace wave::rt
