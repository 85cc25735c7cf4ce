#include "builtin_actors.h"

#include <cstring>

namespace wave::rt {

void register_builtin_actors(ActorRegistry& registry) {
  ActorType echo;
  echo.name = "echo";
  echo.handler = [](ActorContext& ctx, const Message& m) { ctx.reply(m.payload); };
  registry.register_type(std::move(echo));

  ActorType counter;
  counter.name = "counter";
  counter.handler = [](ActorContext& ctx, const Message&) {
    uint64_t v = 0;
    Status s = ctx.load(ctx.root(), 0, &v);
    if (s == Status::kOk)
      s = ctx.store(ctx.root(), 0, ++v);
    if (s != Status::kOk)
      return ctx.reply({}, s);
    std::byte out[sizeof v];
    std::memcpy(out, &v, sizeof v);
    ctx.reply(out);
  };
  registry.register_type(std::move(counter));
}

}  // namespace wave::rt
