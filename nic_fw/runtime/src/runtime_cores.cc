// The NIC cores: each thread takes requests from the hybrid scheduler and runs their handlers
// inside the core guard's jump frame; the watchdog (on the management thread) evicts a handler
// that has used more CPU time than cfg.watchdog_ns (core_guard.h).
#include <pthread.h>
#include <signal.h>

#include <chrono>

#include "runtime_impl.h"

namespace wave::rt {
namespace {

uint64_t cpu_ns(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0)
    return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void Runtime::Impl::core_loop(uint32_t core) {
  CoreState& cs = *cores_[core];
  set_current_guard(&cs.guard);
  clockid_t own;
  if (pthread_getcpuclockid(pthread_self(), &own) == 0) {
    cs.cpu_clock.store(own, std::memory_order_release);
  }
  for (;;) {
    std::optional<Message> m = sched_.next(core);
    if (m) {
      run_one(core, *m);
      continue;
    }
    if (stopping_.load(std::memory_order_acquire) && sched_.quiescent())
      break;
    if (cfg_.core_spin_ns != 0) {
      // Poll a while before sleeping (RuntimeConfig::core_spin_ns); steady time, not clock_,
      // which may be a test's logical clock. Yield between polls: where NIC cores are
      // emulated by threads on shared CPUs, the thread that posts our work may need this one.
      const uint64_t until = steady_.now_ns() + cfg_.core_spin_ns;
      bool work = false;
      while (!(work = sched_.has_work()) && !stopping_.load(std::memory_order_relaxed) &&
             steady_.now_ns() < until) {
        std::this_thread::yield();
      }
      if (work)
        continue;
    }
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(1), [&] {
      return stopping_.load(std::memory_order_acquire) || sched_.has_work();
    });
  }
  set_current_guard(nullptr);
}

void Runtime::Impl::run_one(uint32_t core, Message& msg) {
  CoreState& cs = *cores_[core];
  std::shared_ptr<ActorRecord> rec = record(msg.dst);
  if (!rec) {
    sched_.complete(core, msg, 0);
    reject(std::move(msg), Status::kNoActor);
    return;
  }
  ActorContext ctx(msg.dst, rec->root, table_, false, &cs.guard);
  cs.actor.store(msg.dst, std::memory_order_release);
  const RunResult run = run_handler(cs, *rec, ctx, msg);
  cs.actor.store(kNoActorId, std::memory_order_release);
  sched_.complete(core, msg, run.exec_ns);
  if (!msg.wants_reply)
    return;
  Reply r;
  make_reply(msg, ctx, run, &r);
  deliver(std::move(r));
}

Runtime::Impl::RunResult Runtime::Impl::run_handler(CoreState& cs, ActorRecord& rec,
                                                    ActorContext& ctx, const Message& msg,
                                                    uint64_t t0) {
  if (t0 == 0)
    t0 = clock_.now_ns();
  cs.guard.run_epoch.fetch_add(1, std::memory_order_relaxed);
  // No clock read for the watchdog: it notes the run's start itself (watchdog_check).
  cs.busy.store(true, std::memory_order_release);
  const int jumped = sigsetjmp(cs.guard.jump, 0);
  if (jumped == 0) {
    cs.guard.in_handler.store(true, std::memory_order_relaxed);
    rec.type.handler(ctx, msg);
    cs.guard.in_handler.store(false, std::memory_order_relaxed);
  } else {
    after_eviction(cs, rec);
  }
  const uint64_t t1 = clock_.now_ns();
  cs.busy.store(false, std::memory_order_release);
  return RunResult{jumped != 0, t1 > t0 ? t1 - t0 : 0, t1};
}

void Runtime::Impl::make_reply(const Message& msg, ActorContext& ctx, const RunResult& run,
                               Reply* r) {
  r->request_id = msg.request_id;
  r->actor = msg.dst;
  r->latency_ns = run.end_ns > msg.arrival_ns ? run.end_ns - msg.arrival_ns : 0;
  if (run.evicted) {
    r->status = Status::kEvicted;
  } else {
    r->status = ctx.reply_status();
    r->payload = std::move(ctx.reply_payload());
  }
}

void Runtime::Impl::after_eviction(CoreState& cs, ActorRecord& rec) {
  // Back from the watchdog signal: the handler's frames are gone. The signal is still
  // blocked (the jump did not restore the mask), so unblock it for the next eviction.
  cs.guard.in_handler.store(false, std::memory_order_relaxed);
  cs.guard.in_runtime_call.store(false, std::memory_order_relaxed);
  cs.guard.jump_pending.store(false, std::memory_order_relaxed);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, watchdog_sig_);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  rec.evictions.fetch_add(1, std::memory_order_relaxed);
}

void Runtime::Impl::watchdog_check() {
  for (auto& cp : cores_)
    watchdog_check(*cp, cp->thread.native_handle());
  // An open inline core stays registered (and its caller alive) while we hold the lock.
  std::lock_guard lock(inline_mu_);
  for (auto& cp : inline_cores_)
    watchdog_check(*cp, cp->signal_to.load(std::memory_order_acquire));
}

void Runtime::Impl::watchdog_check(CoreState& cs, pthread_t target) {
  if (!cs.busy.load(std::memory_order_acquire))
    return;
  // Read after `busy`: the epoch of the run that set it, or of a later one.
  const uint64_t epoch = cs.guard.run_epoch.load(std::memory_order_relaxed);
  const uint64_t now = cpu_ns(cs.cpu_clock.load(std::memory_order_acquire));
  if (now == 0)
    return;
  if (epoch != cs.watched_epoch) {
    // A run not seen yet: its CPU time counts from here, so it is evicted at most one tick
    // after watchdog_ns. Had it ended, and the next begun, since we read the epoch, the next
    // is taken for new at the next tick: a stamp only ever comes late, never early.
    cs.watched_epoch = epoch;
    cs.watched_since_cpu = now;
    return;
  }
  if (now < cs.watched_since_cpu || now - cs.watched_since_cpu <= cfg_.watchdog_ns)
    return;
  if (cs.guard.evict_epoch.load(std::memory_order_relaxed) == epoch)
    return;  // signalled
  const ActorId victim = cs.actor.load(std::memory_order_acquire);
  cs.guard.evict_epoch.store(epoch, std::memory_order_relaxed);
  evictions_.fetch_add(1, std::memory_order_relaxed);
  if (victim != kNoActorId)
    quarantine(victim, Status::kEvicted);
  pthread_kill(target, watchdog_sig_);
}

bool Runtime::Impl::running_on_a_core(ActorId id) {
  for (auto& c : cores_) {
    if (c->actor.load(std::memory_order_acquire) == id)
      return true;
  }
  std::lock_guard lock(inline_mu_);
  for (auto& c : inline_cores_) {
    if (c->actor.load(std::memory_order_acquire) == id)
      return true;
  }
  return false;
}

}  // namespace wave::rt
