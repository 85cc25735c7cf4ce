// The distributed memory object (DMO) table: every byte of actor state lives in an object
// reached only through its id. Each actor has its own space (slots, memory cap, counters); an
// id names its owner, so a call is checked against the caller before any other actor's space
// is looked at. A violation fails the call, is counted, and quarantines the caller through
// the violation hook; no other actor's state is read or written.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "dmo_heap.h"
#include "runtime/runtime_stats.h"
#include "runtime/status.h"

namespace wave::rt {

// One object of an actor, as migration ships it.
struct DmoExport {
  ObjectId id;
  std::span<const std::byte> data;
};

class DmoTable {
 public:
  using ViolationHook = std::function<void(ActorId, Status)>;

  DmoTable();
  DmoTable(const DmoTable&) = delete;
  DmoTable& operator=(const DmoTable&) = delete;

  // Called (outside the table's locks) after each violation; the runtime quarantines there.
  void set_violation_hook(ViolationHook hook) { hook_ = std::move(hook); }

  // Creates the actor's space with a memory cap fixed for its lifetime.
  Status create_space(ActorId actor, uint64_t cap_bytes);
  // Frees every object of the actor and forgets it.
  void destroy_space(ActorId actor);
  bool has_space(ActorId actor) const;
  // Further calls by the actor fail with kQuarantined; its objects stay until destroy_space.
  void quarantine(ActorId actor);

  // The calls actors make, all by object id on behalf of `caller`.
  Status dmo_malloc(ActorId caller, uint64_t size, ObjectId* out);
  Status dmo_free(ActorId caller, ObjectId id);
  Status dmo_memset(ActorId caller, ObjectId id, uint64_t off, uint8_t value, uint64_t len);
  // Copies between two objects of the caller (or within one); ranges must not overlap.
  Status dmo_memcpy(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src, uint64_t src_off,
                    uint64_t len);
  // Like dmo_memcpy, but the ranges may overlap.
  Status dmo_memmove(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src, uint64_t src_off,
                     uint64_t len);
  // Moves bytes between an object and the caller's message buffers.
  Status dmo_read(ActorId caller, ObjectId id, uint64_t off, std::span<std::byte> out);
  Status dmo_write(ActorId caller, ObjectId id, uint64_t off, std::span<const std::byte> in);
  Status dmo_size(ActorId caller, ObjectId id, uint64_t* size);
  // The same reads and writes for the handler of `caller` while it runs on a NIC core slot
  // (ActorContext with a core guard). Its space cannot go during the run (destroy and
  // migration wait for the run to end), so the space is taken from the calling thread's cache
  // of its last look-up, without the map's lock, while no space was created or destroyed
  // since. Same checks, counters and quarantine as the calls above.
  Status dmo_read_running(ActorId caller, ObjectId id, uint64_t off, std::span<std::byte> out);
  Status dmo_write_running(ActorId caller, ObjectId id, uint64_t off,
                           std::span<const std::byte> in);

  DmoUsage usage(ActorId actor) const;

  // Migration: visits every live object of the actor in slot order while holding its space
  // lock (the actor must be stopped). Returns false if the actor has no space.
  bool for_each_object(ActorId actor,
                       const std::function<void(ObjectId, std::span<const std::byte>)>& fn) const;
  // Migration: recreates an object under its original id in the actor's (new) space and returns
  // its (uninitialised) storage, which the caller must fill entirely. Fails if the id's owner is
  // not `actor`, the slot is taken, or the cap would be exceeded.
  Status import_object(ActorId actor, ObjectId id, uint64_t size, std::span<std::byte>* storage);
  // Migration without a copy: like import_object, but the object takes `block` (already
  // filled) as its storage. On failure the block is dropped, which hands its storage back.
  Status adopt_object(ActorId actor, ObjectId id, DmoBlock block);

 private:
  struct Slot {
    uint32_t generation = 0;  // of the live object, or of the last one freed
    bool live = false;
    uint64_t size = 0;
    DmoBlock data;
  };
  struct Space {
    ActorId owner = kNoActorId;
    mutable std::mutex mu;
    uint64_t cap = 0;
    uint64_t used = 0;
    uint32_t objects = 0;
    uint64_t violations = 0;
    uint64_t over_cap = 0;
    bool quarantined = false;
    std::vector<Slot> slots;
    std::vector<uint32_t> free_slots;
  };

  // The caller's own space, or null.
  Space* space_of(ActorId caller) const;
  // Finds a live object of the caller; sets *why on failure. Space lock held.
  Slot* lookup(Space& sp, ObjectId id, Status* why) const;
  // Checks [off, off + len) against the object size without overflow.
  static bool in_bounds(const Slot& s, uint64_t off, uint64_t len);
  // dmo_memcpy and dmo_memmove: both objects checked, then the bytes moved; memcpy refuses
  // overlapping ranges of one object (they would be undefined), memmove allows them.
  Status copy_between(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src,
                      uint64_t src_off, uint64_t len, bool may_overlap);
  // Counts a failed call; runs the hook (after the caller dropped its locks) for violations.
  Status fail(Space& sp, Status why);
  Status report(ActorId caller, Status s);
  // Claims slot `id` of the actor's space for an incoming object of `size` bytes (space lock
  // held). Null with *why set on failure.
  Slot* claim_import_slot(Space& sp, ActorId actor, ObjectId id, uint64_t size, Status* why);
  // Claims the slot, lets `fill` give it storage (a failure frees the slot again) and makes it
  // the live object `id`: what import_object and adopt_object share.
  template <typename Fill>
  Status import_with(ActorId actor, ObjectId id, uint64_t size, Fill&& fill);
  // Runs fn on the caller's space under its lock. kRunning: the caller's handler is running
  // (the *_running calls): the space comes from running_space().
  template <bool kRunning = false, typename Fn>
  Status with_space(ActorId caller, Fn&& fn);
  // with_space for one of the caller's objects, checked to hold [off, off + len) first.
  template <bool kRunning = false, typename Fn>
  Status with_range(ActorId caller, ObjectId id, uint64_t off, uint64_t len, Fn&& fn);
  // The running caller's space, from the thread's cache or the map (which refills it); null
  // if it has none.
  Space* running_space(ActorId caller);
  // Applies fn to a space whose lifetime the caller guarantees.
  template <typename Fn>
  Status in_space(Space& sp, Fn&& fn);

  mutable std::shared_mutex mu_;  // guards the map; each space has its own lock
  std::unordered_map<ActorId, std::unique_ptr<Space>> spaces_;
  ViolationHook hook_;
  // Calls by actors that have no space at all (never created or destroyed).
  std::atomic<uint64_t> orphan_calls_{0};
  // Bumped (under the map's exclusive lock) by every create_space and destroy_space: a
  // cached space pointer is current while this keeps the value it had when it was cached.
  std::atomic<uint64_t> spaces_epoch_{0};
  const uint64_t serial_;  // unique per table in the process: the thread caches' key
};

}  // namespace wave::rt
