// The memtable as an actor type of the NIC runtime: each instance is one shard of the store,
// its state in its own DMOs (memtable.h). Requests carry an encoded KvOp; the reply carries the
// encoded KvResult. The same type registered in the host runtime runs a migrated shard there.
#pragma once

#include <cstdint>
#include <functional>

#include "kv/store/memtable.h"
#include "runtime/actor.h"

namespace wave::kv {

inline constexpr char kMemtableActorType[] = "kv.memtable";

using UnixClock = std::function<int64_t()>;

// The type, with its handler and init. `now_s` defaults to the system's Unix time; tests pass
// their own clock to step through expiry.
rt::ActorType MemtableActorType(MemtableConfig cfg = {}, UnixClock now_s = {});

}  // namespace wave::kv
