// Moving an actor to the host runtime and back, in four timed phases (MigrationRecord): stop,
// ship the DMOs, recreate on the other side, replay what was buffered meanwhile.
#include <algorithm>
#include <chrono>

#include "runtime_impl.h"

namespace wave::rt {

using mig::FrameType;

Status Runtime::Impl::migrate_to_host(ActorId id, MigrationRecord* rec) {
  std::lock_guard lock(link_mu_);
  return do_migrate_out(id, rec);
}

Status Runtime::Impl::migrate_from_host(ActorId id, MigrationRecord* rec) {
  std::lock_guard lock(link_mu_);
  return do_migrate_in(id, rec);
}

Status Runtime::Impl::do_migrate_out(ActorId id, MigrationRecord* out) {
  if (!link_ || !link_->ok())
    return Status::kLinkError;
  auto rec = record(id);
  if (!rec)
    return Status::kNoActor;
  if (rec->spec.pinned)
    return Status::kInvalid;
  MigrationRecord mr;
  mr.actor = id;
  mr.to_host = true;
  SteadyClock wall;  // phases are reported in wall time even under a logical clock
  const uint64_t t0 = wall.now_ns();
  // Phase 1: stop the mailbox (new requests are buffered) and let running handlers finish.
  if (!sched_.begin_migration_out(id))
    return Status::kInvalid;
  while (sched_.running(id))
    std::this_thread::yield();
  const uint64_t t1 = wall.now_ns();
  // Phase 2: ship the DMOs.
  const DmoUsage mem = table_.usage(id);
  mr.bytes = mem.used_bytes;
  mr.objects = mem.objects;
  mig::ActorImage img{id, rec->spec.type, rec->spec.name, rec->spec.mem_cap_bytes, rec->root};
  // One copy through the DMA window when the link has one; else two, through the ring.
  const std::span<std::byte> window = link_->dma_window();
  bool ok = window.empty()
                ? mig::send_state(link_->tx(), table_, img, [this] { return link_wait(); })
                : mig::send_state_dma(link_->tx(), table_, img, window, dma_grant_,
                                      [this] { return link_wait(); });
  const uint64_t t2 = wall.now_ns();
  // Phase 3: the host recreates the actor and acknowledges.
  acks_.erase(id);
  const auto deadline = std::chrono::steady_clock::now() + kHostTimeout;
  ok = ok && wait_for_host(deadline, [&] { return acks_.count(id) != 0; });
  ok = ok && acks_[id] == 1 + static_cast<uint64_t>(Status::kOk);
  const uint64_t t3 = wall.now_ns();
  if (!ok) {
    // The actor stays on the NIC; what was buffered runs here.
    link_errors_.fetch_add(1, std::memory_order_relaxed);
    sched_.set_location(id, ActorLocation::kReturning);
    sched_.finish_migration_in(id);
    wake_cores();
    return Status::kLinkError;
  }
  // Phase 4: forward the buffered requests, then drop the NIC's copy of the state.
  sched_.set_location(id, ActorLocation::kHost);
  on_host_.push_back(id);
  const uint64_t before = link_->tx().frames_sent();
  forward_outboxes();
  mr.replayed = link_->tx().frames_sent() - before;
  const uint64_t t4 = wall.now_ns();
  table_.destroy_space(id);
  mr.cleanup_ns = wall.now_ns() - t4;
  record_migration(*rec, mr, {t0, t1, t2, t3, t4}, out);
  return Status::kOk;
}

Status Runtime::Impl::do_migrate_in(ActorId id, MigrationRecord* out) {
  if (!link_ || !link_->ok())
    return Status::kLinkError;
  auto rec = record(id);
  if (!rec)
    return Status::kNoActor;
  if (sched_.location(id) != ActorLocation::kHost)
    return Status::kInvalid;
  MigrationRecord mr;
  mr.actor = id;
  mr.to_host = false;
  SteadyClock wall;
  const uint64_t t0 = wall.now_ns();
  // Phase 1: buffer new requests here; ask the host to stop the actor and send it back. The
  // host answers the requests it already has before it ships the state (ring order).
  forward_outboxes();
  sched_.set_location(id, ActorLocation::kReturning);
  return_actor_ = id;
  return_done_ = false;
  bool ok = true;
  while (!link_->tx().send(FrameType::kPull, id, 0, 0, 0, {})) {
    if (!link_wait()) {
      ok = false;
      break;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kHostTimeout;
  ok = ok && wait_for_host(deadline, [&] {
         return returning_.active() || return_done_ || return_actor_ != id;
       });
  const uint64_t t1 = wall.now_ns();
  // Phase 2: receive the DMOs (straight into the NIC's table).
  ok = ok && wait_for_host(deadline, [&] { return return_done_ || return_actor_ != id; });
  ok = ok && return_done_ && return_actor_ == id;
  const uint64_t t2 = wall.now_ns();
  return_actor_ = kNoActorId;
  if (!ok) {
    // The state is lost with the host: the actor cannot run anywhere. Answer what waits.
    link_errors_.fetch_add(1, std::memory_order_relaxed);
    for (Message& m : sched_.take_outbox(id))
      reject(std::move(m), Status::kLinkError);
    quarantine(id, Status::kLinkError);
    return Status::kLinkError;
  }
  mr.bytes = returning_.bytes();
  mr.objects = table_.usage(id).objects;
  // Phase 3: the actor is scheduled here again.
  std::erase(on_host_, id);
  const uint64_t t3 = wall.now_ns();
  // Phase 4: replay what was buffered meanwhile.
  mr.replayed = sched_.finish_migration_in(id);
  wake_cores();
  const uint64_t t4 = wall.now_ns();
  record_migration(*rec, mr, {t0, t1, t2, t3, t4}, out);
  return Status::kOk;
}

bool Runtime::Impl::wait_for_host(std::chrono::steady_clock::time_point deadline,
                                  const std::function<bool()>& done) {
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline || !link_wait())
      return false;
  }
  return true;
}

void Runtime::Impl::record_migration(ActorRecord& rec, MigrationRecord& mr, const uint64_t (&t)[5],
                                     MigrationRecord* out) {
  mr.stop_ns = t[1] - t[0];
  mr.ship_ns = t[2] - t[1];
  mr.recreate_ns = t[3] - t[2];
  mr.replay_ns = t[4] - t[3];
  mr.ok = true;
  rec.migrations.fetch_add(1, std::memory_order_relaxed);
  (mr.to_host ? migrations_out_ : migrations_in_).fetch_add(1, std::memory_order_relaxed);
  last_migration_ns_ = clock_.now_ns();
  {
    std::lock_guard l(records_mu_);
    records_.push_back(mr);
  }
  if (out != nullptr)
    *out = mr;
}

}  // namespace wave::rt
