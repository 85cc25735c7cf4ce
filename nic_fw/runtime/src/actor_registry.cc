#include "runtime/actor.h"

namespace wave::rt {

bool ActorRegistry::register_type(ActorType type) {
  if (type.name.empty() || !type.handler)
    return false;
  std::lock_guard lock(mu_);
  return types_.try_emplace(type.name, std::move(type)).second;
}

bool ActorRegistry::find(const std::string& name, ActorType* out) const {
  std::lock_guard lock(mu_);
  auto it = types_.find(name);
  if (it == types_.end())
    return false;
  *out = it->second;
  return true;
}

}  // namespace wave::rt
