#include "runtime/status.h"

namespace wave::rt {

const char* status_name(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kNotOwner:
      return "not-owner";
    case Status::kOutOfBounds:
      return "out-of-bounds";
    case Status::kStaleObject:
      return "stale-object";
    case Status::kNoObject:
      return "no-object";
    case Status::kOverCap:
      return "over-cap";
    case Status::kInvalid:
      return "invalid";
    case Status::kQuarantined:
      return "quarantined";
    case Status::kNoActor:
      return "no-actor";
    case Status::kEvicted:
      return "evicted";
    case Status::kShutdown:
      return "shutdown";
    case Status::kLinkError:
      return "link-error";
    case Status::kBusy:
      return "busy";
  }
  return "unknown";
}

}  // namespace wave::rt
