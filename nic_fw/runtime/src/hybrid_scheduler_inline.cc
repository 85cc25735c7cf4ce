// The scheduler's side of run-to-completion on a polling thread (Runtime::open_inline_core):
// deciding whether a request may run at once on the caller's thread. Its completion is an
// ordinary complete() with kInlineCore, which also hands the cores whatever arrived meanwhile.
#include "hybrid_scheduler.h"

namespace wave::rt {

HybridScheduler::InlineClaim HybridScheduler::claim_inline(Message& msg) {
  std::lock_guard lock(mu_);
  Actor* a = find(msg.dst);
  if (a == nullptr)
    return InlineClaim::kNoActor;
  if (a->quarantined)
    return InlineClaim::kQuarantined;
  if (a->location != ActorLocation::kNic)
    return InlineClaim::kElsewhere;
  // Anything waiting would be overtaken; a DRR actor's turns belong to the DRR cores.
  const bool waiting = a->in_shared_queue != 0 || !a->mailbox.empty() || !a->outbox.empty();
  if (waiting || a->group != CoreGroup::kFcfs || a->in_drr_list || a->on_drr_core ||
      (a->serial && a->running != 0))
    return InlineClaim::kBusy;
  msg.arrival_ns = clock_.now_ns();
  msg.seq = next_seq_++;
  ++a->running;
  return InlineClaim::kClaimed;
}

}  // namespace wave::rt
