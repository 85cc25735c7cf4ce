// Actor types every wave-nicd knows, so a config file can start actors without custom code:
//   echo     replies with the request's payload (a liveness probe through the runtime)
//   counter  keeps a u64 in its root object; each request adds one and replies with the value
#pragma once

#include "runtime/actor.h"

namespace wave::rt {

void register_builtin_actors(ActorRegistry& registry);

}  // namespace wave::rt
