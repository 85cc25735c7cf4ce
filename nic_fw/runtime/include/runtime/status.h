// Result codes of runtime calls. Values are stable: they travel in replies and stats.
#pragma once

#include <cstdint>

namespace wave::rt {

enum class Status : int32_t {
  kOk = 0,
  // Isolation violations: the caller is quarantined.
  kNotOwner = 1,     // the object belongs to another actor
  kOutOfBounds = 2,  // offset + length outside the object
  kStaleObject = 3,  // the object was freed (generation mismatch): use after free
  kNoObject = 4,     // the id names no object the table ever handed out
  // Refusals that are not violations.
  kOverCap = 10,      // the actor's memory cap would be exceeded
  kInvalid = 11,      // bad argument (zero size, overlapping memcpy, ...)
  kQuarantined = 12,  // the actor was quarantined; it may not run or touch memory
  kNoActor = 13,      // no such actor
  kEvicted = 14,      // the watchdog stopped the request
  kShutdown = 15,     // the runtime stopped before running the request
  kLinkError = 16,    // the host link failed
  kBusy = 17,         // an inline run was refused for now (InlineCore::run): post() instead
};

// True for the codes that count as isolation violations.
constexpr bool is_violation(Status s) {
  return s == Status::kNotOwner || s == Status::kOutOfBounds || s == Status::kStaleObject ||
         s == Status::kNoObject;
}

const char* status_name(Status s);

using ActorId = uint32_t;
// Actor ids fit the 16-bit owner field of an object id.
inline constexpr ActorId kMaxActorId = 0xffff;
inline constexpr ActorId kNoActorId = 0;

// Object id layout: owner actor (16 bits) | generation (24 bits) | slot (24 bits). The
// generation changes every time a slot is reused, so a freed id never names a new object
// (until 2^24 reuses of one slot). Ids survive migration unchanged.
using ObjectId = uint64_t;
inline constexpr ObjectId kNoObjectId = 0;

constexpr ObjectId make_object_id(ActorId owner, uint32_t generation, uint32_t slot) {
  return (static_cast<uint64_t>(owner & 0xffff) << 48) |
         (static_cast<uint64_t>(generation & 0xffffff) << 24) | (slot & 0xffffff);
}
constexpr ActorId object_owner(ObjectId id) {
  return static_cast<ActorId>(id >> 48);
}
constexpr uint32_t object_generation(ObjectId id) {
  return static_cast<uint32_t>((id >> 24) & 0xffffff);
}
constexpr uint32_t object_slot(ObjectId id) {
  return static_cast<uint32_t>(id & 0xffffff);
}

}  // namespace wave::rt
