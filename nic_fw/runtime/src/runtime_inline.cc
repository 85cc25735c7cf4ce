// Inline cores (runtime/inline_core.h): a thread outside the runtime, the link's poller, runs
// a request's handler itself under the same guard and accounting as a runtime core, when the
// scheduler grants it (HybridScheduler::claim_inline). Why it is safe:
//   - one thread per actor: the claim counts the actor running, so cores, other inline cores,
//     migration (which waits for running == 0) and quarantine see it busy;
//   - order: a claim is granted only when nothing of the actor's waits;
//   - destroy: the slot names its actor before the claim and destroy_actor waits for slots
//     naming it after remove_actor, so a granted run finishes before the actor's DMOs go;
//   - watchdog: the slot is registered like a core; eviction signals the caller's thread,
//     whose guard is the slot's during the run.
#include <pthread.h>

#include "runtime/inline_core.h"
#include "runtime_impl.h"

namespace wave::rt {

InlineCore::~InlineCore() {
  rt_.close_inline_core(slot_);
}

Status InlineCore::run(Message& msg, Reply* reply) {
  return rt_.run_inline(slot_, msg, reply);
}

std::unique_ptr<InlineCore> Runtime::Impl::open_inline_core() {
  if (!started_.load(std::memory_order_acquire) || stopping_.load(std::memory_order_acquire))
    return nullptr;
  auto slot = std::make_unique<CoreState>();
  CoreState& cs = *slot;
  {
    std::lock_guard lock(inline_mu_);
    inline_cores_.push_back(std::move(slot));
  }
  return std::unique_ptr<InlineCore>(new InlineCore(*this, cs));
}

void Runtime::Impl::close_inline_core(CoreState& cs) {
  std::lock_guard lock(inline_mu_);
  std::erase_if(inline_cores_, [&](const std::unique_ptr<CoreState>& c) { return c.get() == &cs; });
}

Status Runtime::Impl::run_inline(CoreState& cs, Message& msg, Reply* out) {
  if (stopping_.load(std::memory_order_acquire))
    return Status::kShutdown;
  // The record of the last actor run here is kept: ids are never reused, and whether the
  // actor still exists is the scheduler's claim to say (destroy removes it there first).
  std::shared_ptr<ActorRecord>& rec = cs.inline_record;
  if (!rec || rec->id != msg.dst) {
    rec = record(msg.dst);
    if (!rec)
      return Status::kNoActor;
  }
  cs.actor.store(msg.dst, std::memory_order_release);  // before the claim: destroy_actor
  switch (sched_.claim_inline(msg)) {
    case HybridScheduler::InlineClaim::kClaimed:
      break;
    case HybridScheduler::InlineClaim::kNoActor:
      cs.actor.store(kNoActorId, std::memory_order_release);
      return Status::kNoActor;
    case HybridScheduler::InlineClaim::kQuarantined:
      cs.actor.store(kNoActorId, std::memory_order_release);
      return Status::kQuarantined;
    case HybridScheduler::InlineClaim::kBusy:
    case HybridScheduler::InlineClaim::kElsewhere:
      cs.actor.store(kNoActorId, std::memory_order_release);
      return Status::kBusy;
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  // This thread is the slot's core for the run: the watchdog's signal lands here and the
  // handler's runtime calls bracket themselves with the slot's guard.
  // Stored once per caller thread, not per run: the watchdog reads both after the run's busy
  // flag (release), which orders them for every later run as well.
  const pthread_t self = pthread_self();
  if (!cs.inline_caller_known || pthread_equal(cs.inline_caller, self) == 0) {
    clockid_t own;
    if (pthread_getcpuclockid(self, &own) == 0)
      cs.cpu_clock.store(own, std::memory_order_relaxed);
    cs.signal_to.store(self, std::memory_order_release);
    cs.inline_caller = self;
    cs.inline_caller_known = true;
  }
  CoreGuard* const outer = current_guard();
  set_current_guard(&cs.guard);
  ActorContext ctx(msg.dst, rec->root, table_, false, &cs.guard);
  // The handler replies into the caller's buffer: a caller that reuses its Reply allocates
  // nothing per run.
  ctx.reply_payload().swap(out->payload);
  ctx.reply_payload().clear();
  // The run starts when the claim stamped its arrival: one clock read fewer on the hot path.
  const RunResult run = run_handler(cs, *rec, ctx, msg, msg.arrival_ns);
  set_current_guard(outer);
  cs.actor.store(kNoActorId, std::memory_order_release);
  // Requests that came for the actor while it ran here were parked for it; complete() queued
  // them for the cores, and a sleeping core would find them only at its next tick.
  if (sched_.complete_at(HybridScheduler::kInlineCore, msg, run.exec_ns, run.end_ns))
    wake_cores();
  replies_.fetch_add(1, std::memory_order_relaxed);
  out->on_host = false;
  out->payload.clear();
  make_reply(msg, ctx, run, out);
  return Status::kOk;
}

}  // namespace wave::rt
