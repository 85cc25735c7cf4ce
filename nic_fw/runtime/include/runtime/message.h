// Requests that actors receive and the replies the runtime sends for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/status.h"

namespace wave::rt {

struct Message {
  uint64_t request_id = 0;  // chosen by the sender; echoed in the reply
  ActorId dst = kNoActorId;
  uint32_t kind = 0;  // actor-defined
  // Simulated service demand (ns) for workloads that only model time; 0 for real requests.
  uint64_t cost_ns = 0;
  uint64_t arrival_ns = 0;  // stamped by the runtime on entry
  uint64_t seq = 0;         // arrival order, stamped by the scheduler
  bool wants_reply = true;  // false for actor-to-actor posts
  std::vector<std::byte> payload;
};

// Every request that enters a runtime is answered exactly once: by its actor's handler, or by
// the runtime with an error status when the request cannot run.
struct Reply {
  uint64_t request_id = 0;
  ActorId actor = kNoActorId;
  Status status = Status::kOk;
  bool on_host = false;     // the actor ran on the host runtime
  uint64_t latency_ns = 0;  // arrival to completion as measured by the runtime that ran it
  std::vector<std::byte> payload;
};

using ReplySink = std::function<void(Reply&&)>;

}  // namespace wave::rt
