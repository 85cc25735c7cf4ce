// ActorContext's calls: each checks through the DMO table and, on a NIC core, brackets
// itself with the core guard so that a watchdog eviction never lands inside a table lock.
#include "core_guard.h"
#include "dmo_table.h"
#include "runtime/actor.h"

namespace wave::rt {

Status ActorContext::dmo_malloc(uint64_t size, ObjectId* out) {
  enter();
  return done(table_.dmo_malloc(self_, size, out));
}

Status ActorContext::dmo_free(ObjectId id) {
  enter();
  return done(table_.dmo_free(self_, id));
}

Status ActorContext::dmo_memset(ObjectId id, uint64_t off, uint8_t v, uint64_t len) {
  enter();
  return done(table_.dmo_memset(self_, id, off, v, len));
}

Status ActorContext::dmo_memcpy(ObjectId dst, uint64_t doff, ObjectId src, uint64_t soff,
                                uint64_t len) {
  enter();
  return done(table_.dmo_memcpy(self_, dst, doff, src, soff, len));
}

Status ActorContext::dmo_memmove(ObjectId dst, uint64_t doff, ObjectId src, uint64_t soff,
                                 uint64_t len) {
  enter();
  return done(table_.dmo_memmove(self_, dst, doff, src, soff, len));
}

// With a guard the handler runs on a NIC core slot, so its space is pinned for the run and
// the table may skip its map (DmoTable::dmo_read_running).
Status ActorContext::dmo_read(ObjectId id, uint64_t off, std::span<std::byte> out) {
  enter();
  return done(guard_ != nullptr ? table_.dmo_read_running(self_, id, off, out)
                                : table_.dmo_read(self_, id, off, out));
}

Status ActorContext::dmo_write(ObjectId id, uint64_t off, std::span<const std::byte> in) {
  enter();
  return done(guard_ != nullptr ? table_.dmo_write_running(self_, id, off, in)
                                : table_.dmo_write(self_, id, off, in));
}

Status ActorContext::dmo_size(ObjectId id, uint64_t* size) {
  enter();
  return done(table_.dmo_size(self_, id, size));
}

void ActorContext::enter() {
  if (guard_ != nullptr)
    guard_->enter_call();
}

Status ActorContext::done(Status s) {
  if (guard_ != nullptr)
    guard_->leave_call();
  return s;
}

}  // namespace wave::rt
