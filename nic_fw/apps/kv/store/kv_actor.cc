#include "kv/store/kv_actor.h"

#include <ctime>
#include <utility>

namespace wave::kv {

rt::ActorType MemtableActorType(MemtableConfig cfg, UnixClock now_s) {
  if (!now_s)
    now_s = [] { return static_cast<int64_t>(std::time(nullptr)); };
  rt::ActorType type;
  type.name = kMemtableActorType;
  type.init = [cfg](rt::ActorContext& ctx) { return Memtable::Create(ctx, cfg); };
  type.handler = [now_s = std::move(now_s)](rt::ActorContext& ctx, const rt::Message& msg) {
    KvOp op;
    KvResult r;
    if (msg.kind == kKvOpKind && DecodeOp(msg.payload, &op))
      r = Memtable(ctx, op.now_s != 0 ? op.now_s : now_s()).Execute(op, msg.request_id);
    ctx.reply(EncodeResult(r));
  };
  return type;
}

}  // namespace wave::kv
