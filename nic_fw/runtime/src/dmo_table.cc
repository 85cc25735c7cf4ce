#include "dmo_table.h"

#include <cstring>

namespace wave::rt {
namespace {

constexpr uint32_t kMaxSlots = 0xffffff;  // the 24-bit slot field; slot ids start at 0
constexpr uint32_t kMaxGeneration = 0xffffff;

bool ranges_overlap(uint64_t a, uint64_t b, uint64_t len) {
  return a < b + len && b < a + len;
}

std::atomic<uint64_t> next_table_serial{1};

// The calling thread's last running_space() look-up.
struct SpaceCache {
  uint64_t table = 0;  // DmoTable::serial_
  uint64_t epoch = 0;
  ActorId actor = kNoActorId;
  void* space = nullptr;
};
thread_local SpaceCache tls_space;

}  // namespace

DmoTable::DmoTable() : serial_(next_table_serial.fetch_add(1, std::memory_order_relaxed)) {}

Status DmoTable::create_space(ActorId actor, uint64_t cap_bytes) {
  if (actor == kNoActorId || actor > kMaxActorId)
    return Status::kInvalid;
  std::unique_lock lock(mu_);
  auto [it, inserted] = spaces_.try_emplace(actor, nullptr);
  if (!inserted)
    return Status::kInvalid;
  it->second = std::make_unique<Space>();
  it->second->owner = actor;
  it->second->cap = cap_bytes;
  spaces_epoch_.fetch_add(1, std::memory_order_release);
  return Status::kOk;
}

void DmoTable::destroy_space(ActorId actor) {
  std::unique_ptr<Space> victim;
  {
    std::unique_lock lock(mu_);
    auto it = spaces_.find(actor);
    if (it == spaces_.end())
      return;
    // Wait for a call in progress on this space before freeing it.
    std::lock_guard space_lock(it->second->mu);
    victim = std::move(it->second);
    spaces_.erase(it);
    spaces_epoch_.fetch_add(1, std::memory_order_release);
  }
}

bool DmoTable::has_space(ActorId actor) const {
  std::shared_lock lock(mu_);
  return spaces_.count(actor) != 0;
}

void DmoTable::quarantine(ActorId actor) {
  std::shared_lock lock(mu_);
  auto it = spaces_.find(actor);
  if (it == spaces_.end())
    return;
  std::lock_guard space_lock(it->second->mu);
  it->second->quarantined = true;
}

DmoTable::Slot* DmoTable::lookup(Space& sp, ObjectId id, Status* why) const {
  // The owner field is checked first: an id of another actor is refused without ever looking
  // into that actor's space.
  if (object_owner(id) != sp.owner) {
    *why = Status::kNotOwner;
    return nullptr;
  }
  const uint32_t slot = object_slot(id);
  const uint32_t gen = object_generation(id);
  if (gen == 0 || slot >= sp.slots.size()) {
    *why = Status::kNoObject;
    return nullptr;
  }
  Slot& s = sp.slots[slot];
  if (s.generation != gen) {
    // A generation the slot never had is a forged id; an older one is a use after free.
    *why = gen < s.generation ? Status::kStaleObject : Status::kNoObject;
    return nullptr;
  }
  if (!s.live) {
    *why = Status::kStaleObject;
    return nullptr;
  }
  return &s;
}

bool DmoTable::in_bounds(const Slot& s, uint64_t off, uint64_t len) {
  return off <= s.size && len <= s.size - off;
}

Status DmoTable::fail(Space& sp, Status why) {
  if (is_violation(why)) {
    ++sp.violations;
  } else if (why == Status::kOverCap) {
    ++sp.over_cap;
  }
  return why;
}

Status DmoTable::report(ActorId caller, Status s) {
  if (is_violation(s) && hook_)
    hook_(caller, s);
  return s;
}

template <typename Fn>
Status DmoTable::in_space(Space& sp, Fn&& fn) {
  std::lock_guard space_lock(sp.mu);
  if (sp.quarantined)
    return Status::kQuarantined;
  Status s = fn(sp);
  return s == Status::kOk ? s : fail(sp, s);
}

DmoTable::Space* DmoTable::running_space(ActorId caller) {
  SpaceCache& c = tls_space;
  // The caller's space stays while it runs, so an unchanged epoch read now means the cached
  // pointer is still its space.
  const uint64_t epoch = spaces_epoch_.load(std::memory_order_acquire);
  if (c.table == serial_ && c.actor == caller && c.epoch == epoch && c.space != nullptr)
    return static_cast<Space*>(c.space);
  std::shared_lock lock(mu_);
  auto it = spaces_.find(caller);
  if (it == spaces_.end())
    return nullptr;
  c = SpaceCache{serial_, spaces_epoch_.load(std::memory_order_relaxed), caller, it->second.get()};
  return it->second.get();
}

template <bool kRunning, typename Fn>
Status DmoTable::with_space(ActorId caller, Fn&& fn) {
  Status s;
  if constexpr (kRunning) {
    Space* sp = running_space(caller);
    if (sp == nullptr) {
      orphan_calls_.fetch_add(1, std::memory_order_relaxed);
      return Status::kNoActor;
    }
    s = in_space(*sp, fn);
  } else {
    std::shared_lock lock(mu_);
    auto it = spaces_.find(caller);
    if (it == spaces_.end()) {
      orphan_calls_.fetch_add(1, std::memory_order_relaxed);
      return Status::kNoActor;
    }
    s = in_space(*it->second, fn);
  }
  return report(caller, s);
}

template <bool kRunning, typename Fn>
Status DmoTable::with_range(ActorId caller, ObjectId id, uint64_t off, uint64_t len, Fn&& fn) {
  return with_space<kRunning>(caller, [&](Space& sp) {
    Status why;
    Slot* s = lookup(sp, id, &why);
    if (s == nullptr)
      return why;
    if (!in_bounds(*s, off, len))
      return Status::kOutOfBounds;
    fn(*s);
    return Status::kOk;
  });
}

Status DmoTable::dmo_malloc(ActorId caller, uint64_t size, ObjectId* out) {
  if (out == nullptr)
    return Status::kInvalid;
  *out = kNoObjectId;
  return with_space(caller, [&](Space& sp) {
    if (size == 0)
      return Status::kInvalid;
    if (size > sp.cap || sp.used > sp.cap - size)
      return Status::kOverCap;
    uint32_t slot;
    if (!sp.free_slots.empty()) {
      slot = sp.free_slots.back();
      // A slot whose generation is exhausted is retired rather than reused.
      if (sp.slots[slot].generation >= kMaxGeneration) {
        sp.free_slots.pop_back();
        if (sp.slots.size() > kMaxSlots)
          return Status::kOverCap;
        slot = static_cast<uint32_t>(sp.slots.size());
        sp.slots.emplace_back();
      } else {
        sp.free_slots.pop_back();
      }
    } else {
      if (sp.slots.size() >= kMaxSlots)
        return Status::kOverCap;
      slot = static_cast<uint32_t>(sp.slots.size());
      sp.slots.emplace_back();
    }
    Slot& s = sp.slots[slot];
    s.data = DmoBlock(size, /*zeroed=*/true);
    if (s.data.data() == nullptr) {
      sp.free_slots.push_back(slot);
      return Status::kOverCap;
    }
    ++s.generation;
    s.live = true;
    s.size = size;
    sp.used += size;
    ++sp.objects;
    *out = make_object_id(caller, s.generation, slot);
    return Status::kOk;
  });
}

Status DmoTable::dmo_free(ActorId caller, ObjectId id) {
  return with_space(caller, [&](Space& sp) {
    Status why;
    Slot* s = lookup(sp, id, &why);
    if (s == nullptr)
      return why;
    s->live = false;
    s->data.reset();
    sp.used -= s->size;
    s->size = 0;
    --sp.objects;
    sp.free_slots.push_back(object_slot(id));
    return Status::kOk;
  });
}

Status DmoTable::dmo_memset(ActorId caller, ObjectId id, uint64_t off, uint8_t value,
                            uint64_t len) {
  return with_range(caller, id, off, len,
                    [&](Slot& s) { std::memset(s.data.data() + off, value, len); });
}

Status DmoTable::dmo_memcpy(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src,
                            uint64_t src_off, uint64_t len) {
  return copy_between(caller, dst, dst_off, src, src_off, len, /*may_overlap=*/false);
}

Status DmoTable::dmo_memmove(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src,
                             uint64_t src_off, uint64_t len) {
  return copy_between(caller, dst, dst_off, src, src_off, len, /*may_overlap=*/true);
}

Status DmoTable::copy_between(ActorId caller, ObjectId dst, uint64_t dst_off, ObjectId src,
                              uint64_t src_off, uint64_t len, bool may_overlap) {
  return with_space(caller, [&](Space& sp) {
    Status why;
    Slot* d = lookup(sp, dst, &why);
    if (d == nullptr)
      return why;
    Slot* s = lookup(sp, src, &why);
    if (s == nullptr)
      return why;
    if (!in_bounds(*d, dst_off, len) || !in_bounds(*s, src_off, len))
      return Status::kOutOfBounds;
    if (d == s && ranges_overlap(dst_off, src_off, len)) {
      if (!may_overlap)
        return Status::kInvalid;
      std::memmove(d->data.data() + dst_off, s->data.data() + src_off, len);
    } else {
      std::memcpy(d->data.data() + dst_off, s->data.data() + src_off, len);
    }
    return Status::kOk;
  });
}

Status DmoTable::dmo_read(ActorId caller, ObjectId id, uint64_t off, std::span<std::byte> out) {
  return with_range(caller, id, off, out.size(), [&](Slot& s) {
    if (!out.empty())
      std::memcpy(out.data(), s.data.data() + off, out.size());
  });
}

Status DmoTable::dmo_write(ActorId caller, ObjectId id, uint64_t off,
                           std::span<const std::byte> in) {
  return with_range(caller, id, off, in.size(), [&](Slot& s) {
    if (!in.empty())
      std::memcpy(s.data.data() + off, in.data(), in.size());
  });
}

Status DmoTable::dmo_read_running(ActorId caller, ObjectId id, uint64_t off,
                                  std::span<std::byte> out) {
  return with_range<true>(caller, id, off, out.size(), [&](Slot& s) {
    if (!out.empty())
      std::memcpy(out.data(), s.data.data() + off, out.size());
  });
}

Status DmoTable::dmo_write_running(ActorId caller, ObjectId id, uint64_t off,
                                   std::span<const std::byte> in) {
  return with_range<true>(caller, id, off, in.size(), [&](Slot& s) {
    if (!in.empty())
      std::memcpy(s.data.data() + off, in.data(), in.size());
  });
}

Status DmoTable::dmo_size(ActorId caller, ObjectId id, uint64_t* size) {
  if (size == nullptr)
    return Status::kInvalid;
  // An empty range at offset 0 is inside every live object.
  return with_range(caller, id, 0, 0, [&](Slot& s) { *size = s.size; });
}

DmoUsage DmoTable::usage(ActorId actor) const {
  DmoUsage u;
  std::shared_lock lock(mu_);
  auto it = spaces_.find(actor);
  if (it == spaces_.end())
    return u;
  const Space& sp = *it->second;
  std::lock_guard space_lock(sp.mu);
  u.cap_bytes = sp.cap;
  u.used_bytes = sp.used;
  u.objects = sp.objects;
  u.violations = sp.violations;
  u.over_cap = sp.over_cap;
  u.quarantined = sp.quarantined;
  return u;
}

bool DmoTable::for_each_object(
    ActorId actor, const std::function<void(ObjectId, std::span<const std::byte>)>& fn) const {
  std::shared_lock lock(mu_);
  auto it = spaces_.find(actor);
  if (it == spaces_.end())
    return false;
  const Space& sp = *it->second;
  std::lock_guard space_lock(sp.mu);
  for (uint32_t i = 0; i < sp.slots.size(); ++i) {
    const Slot& s = sp.slots[i];
    if (!s.live)
      continue;
    fn(make_object_id(actor, s.generation, i), {s.data.data(), s.size});
  }
  return true;
}

DmoTable::Slot* DmoTable::claim_import_slot(Space& sp, ActorId actor, ObjectId id, uint64_t size,
                                            Status* why) {
  const uint32_t slot = object_slot(id);
  const uint32_t gen = object_generation(id);
  if (object_owner(id) != actor || gen == 0 || size == 0 || slot >= kMaxSlots) {
    *why = Status::kInvalid;
    return nullptr;
  }
  if (size > sp.cap || sp.used > sp.cap - size) {
    *why = Status::kOverCap;
    return nullptr;
  }
  if (slot >= sp.slots.size()) {
    // Slots skipped over were freed on the other side; they become free here too.
    const uint32_t first_new = static_cast<uint32_t>(sp.slots.size());
    sp.slots.resize(slot + 1);
    for (uint32_t i = first_new; i < slot; ++i)
      sp.free_slots.push_back(i);
  } else {
    if (sp.slots[slot].live) {
      *why = Status::kInvalid;
      return nullptr;
    }
    std::erase(sp.free_slots, slot);
  }
  return &sp.slots[slot];
}

template <typename Fill>
Status DmoTable::import_with(ActorId actor, ObjectId id, uint64_t size, Fill&& fill) {
  std::shared_lock lock(mu_);
  auto it = spaces_.find(actor);
  if (it == spaces_.end())
    return Status::kNoActor;
  Space& sp = *it->second;
  std::lock_guard space_lock(sp.mu);
  Status why = Status::kOk;
  Slot* s = claim_import_slot(sp, actor, id, size, &why);
  if (s == nullptr)
    return why;
  if (Status st = fill(*s); st != Status::kOk) {
    sp.free_slots.push_back(object_slot(id));
    return st;
  }
  s->generation = object_generation(id);
  s->live = true;
  s->size = size;
  sp.used += size;
  ++sp.objects;
  return Status::kOk;
}

Status DmoTable::import_object(ActorId actor, ObjectId id, uint64_t size,
                               std::span<std::byte>* storage) {
  return import_with(actor, id, size, [&](Slot& s) {
    s.data = DmoBlock(size, /*zeroed=*/false);  // the importer fills every byte
    if (s.data.data() == nullptr)
      return Status::kOverCap;
    *storage = {s.data.data(), size};
    return Status::kOk;
  });
}

Status DmoTable::adopt_object(ActorId actor, ObjectId id, DmoBlock block) {
  if (block.data() == nullptr)
    return Status::kInvalid;
  const uint64_t size = block.size();
  return import_with(actor, id, size, [&](Slot& s) {
    s.data = std::move(block);
    return Status::kOk;
  });
}

}  // namespace wave::rt
