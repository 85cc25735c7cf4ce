#include "policies/sched/runners/agent_actor.h"

#include <endian.h>

#include <cstring>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/vm/vm_policy.h"
#include "wave_sched_link.h"

namespace wave::agents {
namespace {

constexpr size_t kRecordHdr = 4;  // le16 type/kind, le16 len/cpu

// Decisions of one schedule() call, encoded straight into the reply.
class ReplySink final : public DecisionSink {
 public:
  explicit ReplySink(std::vector<std::byte>* out) : out_(out) {}
  bool decide(const wave_decision& d) override {
    put(kReplyRing, static_cast<uint16_t>(le32toh(d.cpu)), d);
    return true;
  }
  void prestage(uint32_t cpu, const wave_decision* d) override {
    put(d != nullptr ? kReplyPrestage : kReplyClear, static_cast<uint16_t>(cpu),
        d != nullptr ? *d : wave_decision{});
  }

 private:
  void put(uint16_t kind, uint16_t cpu, const wave_decision& d) {
    size_t at = out_->size();
    out_->resize(at + kRecordHdr + sizeof(d));
    uint16_t hdr[2] = {htole16(kind), htole16(cpu)};
    std::memcpy(out_->data() + at, hdr, sizeof(hdr));
    std::memcpy(out_->data() + at + kRecordHdr, &d, sizeof(d));
  }
  std::vector<std::byte>* out_;
};

// Each thread's last instance look-up. The handler runs on the poller's inline core or a
// runtime core, mostly the same one for the same actor: a hit costs no lock and no
// reference count. A pointer taken while map_changes_ held `changes` is still the instance
// if the count is unchanged: instances go only through destroy(), after the runtime ran the
// actor's last request, and a re-created id bumps the count too.
struct InstanceCache {
  uint64_t owner = 0;  // AgentActors::serial_
  uint64_t changes = 0;
  rt::ActorId id = rt::kNoActorId;
  void* inst = nullptr;
};
thread_local InstanceCache tls_instance;

std::atomic<uint64_t> next_serial{1};

}  // namespace

AgentActors::AgentActors(const AgentActorConfig& cfg)
    : cfg_(cfg), serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {}

AgentActors::Instance* AgentActors::instance_for(rt::ActorId id) {
  InstanceCache& c = tls_instance;
  const uint64_t changes = map_changes_.load(std::memory_order_acquire);
  if (c.owner == serial_ && c.id == id && c.changes == changes && c.inst != nullptr)
    return static_cast<Instance*>(c.inst);
  std::lock_guard lock(mu_);
  auto it = instances_.find(id);
  if (it == instances_.end())
    return nullptr;
  c = InstanceCache{serial_, map_changes_.load(std::memory_order_relaxed), id, it->second.get()};
  return it->second.get();
}

bool AgentActors::register_types(rt::ActorRegistry& reg) {
  for (uint32_t policy :
       {WAVE_SCHED_POLICY_FIFO, WAVE_SCHED_POLICY_SHINJUKU, WAVE_SCHED_POLICY_VM}) {
    rt::ActorSpec spec;
    spec_for(policy, "", &spec);
    rt::ActorType t;
    t.name = spec.type;
    t.init = [this, policy](rt::ActorContext& ctx) { return init(ctx, policy); };
    t.handler = [this](rt::ActorContext& ctx, const rt::Message& msg) { handle(ctx, msg); };
    if (!reg.register_type(std::move(t)))
      return false;
  }
  return true;
}

bool AgentActors::spec_for(uint32_t policy, const std::string& name, rt::ActorSpec* out) {
  rt::ActorSpec s;
  switch (policy) {
    case WAVE_SCHED_POLICY_FIFO:
      s.type = kFifoActorType;
      break;
    case WAVE_SCHED_POLICY_SHINJUKU:
      s.type = kShinjukuActorType;
      break;
    case WAVE_SCHED_POLICY_VM:
      s.type = kVmActorType;
      break;
    default:
      return false;
  }
  s.name = name;
  s.root_bytes = sizeof(AgentStats);
  // Pinned: a scheduling agent never migrates to the host. Its whole point is to keep the
  // policy off the host's CPUs, its task table is outside DMOs (so a migration would ship an
  // empty agent), and a host copy would add a PCIe round trip to every decision while the
  // host's own CPUs are the ones waiting for it.
  s.pinned = true;
  s.serial = true;  // one batch at a time: the agent is single-threaded
  *out = s;
  return true;
}

rt::Status AgentActors::create(rt::Runtime& runtime, uint32_t policy, const std::string& name,
                               const AgentConfig& agent, const ShinjukuConfig& shinjuku,
                               rt::ActorId* out, const VmConfig* vm) {
  rt::ActorSpec spec;
  if (!spec_for(policy, name, &spec))
    return rt::Status::kInvalid;
  AgentActorConfig cfg = cfg_;
  cfg.agent = agent;
  cfg.shinjuku = shinjuku;
  if (vm != nullptr)
    cfg.vm = *vm;
  // create_actor runs init() on this thread; init() takes the configuration from next_cfg_.
  std::lock_guard serial(create_mu_);
  {
    std::lock_guard lock(mu_);
    next_cfg_ = &cfg;
  }
  rt::Status s = runtime.create_actor(spec, out);
  std::lock_guard lock(mu_);
  next_cfg_ = nullptr;
  return s;
}

rt::Status AgentActors::destroy(rt::Runtime& runtime, rt::ActorId id, AgentStats* last) {
  rt::Status s = runtime.destroy_actor(id);
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(mu_);
    auto it = instances_.find(id);
    if (it != instances_.end()) {
      inst = std::move(it->second);
      instances_.erase(it);
      map_changes_.fetch_add(1, std::memory_order_release);
    }
  }
  if (inst != nullptr && last != nullptr) {
    std::lock_guard lock(inst->mu);
    *last = inst->agent->stats();
  }
  return s;
}

rt::Status AgentActors::init(rt::ActorContext& ctx, uint32_t policy) {
  AgentActorConfig cfg;
  {
    std::lock_guard lock(mu_);
    cfg = next_cfg_ != nullptr ? *next_cfg_ : cfg_;
  }
  auto inst = std::make_shared<Instance>();
  if (policy == WAVE_SCHED_POLICY_VM) {
    if (cfg.vm.nr_vms == 0)
      return rt::Status::kInvalid;  // no table: the policy has nothing to reserve
    inst->agent = std::make_unique<VmPolicy>(cfg.agent, cfg.vm);
  } else if (policy == WAVE_SCHED_POLICY_SHINJUKU) {
    auto a = std::make_unique<ShinjukuPolicy>(cfg.agent, cfg.shinjuku);
    if (cfg.prio_table != nullptr)
      a->set_prio_table(cfg.prio_table);
    inst->agent = std::move(a);
  } else {
    inst->agent = std::make_unique<FifoPolicy>(cfg.agent);
  }
  rt::Status s = ctx.store(ctx.root(), 0, inst->agent->stats());
  if (s != rt::Status::kOk)
    return s;
  std::lock_guard lock(mu_);
  instances_[ctx.self()] = std::move(inst);
  map_changes_.fetch_add(1, std::memory_order_release);
  return rt::Status::kOk;
}

void AgentActors::handle(rt::ActorContext& ctx, const rt::Message& msg) {
  // A raw pointer is enough: destroy() drops the instance only after the runtime ran the
  // actor's last request, so it outlives this run.
  Instance* inst = instance_for(ctx.self());
  if (inst == nullptr || ctx.on_host()) {
    // The agent's tasks live on the NIC: a copy elsewhere would decide on nothing.
    if (inst != nullptr) {
      std::lock_guard lock(inst->mu);
      inst->glue.refused++;
    }
    ctx.reply({}, rt::Status::kInvalid);
    return;
  }
  std::lock_guard lock(inst->mu);
  Agent& agent = *inst->agent;
  inst->glue.batches++;
  std::span<const std::byte> in(msg.payload);
  while (!in.empty()) {
    uint16_t hdr[2];
    if (in.size() < kRecordHdr) {
      inst->glue.bad_records++;
      break;
    }
    std::memcpy(hdr, in.data(), sizeof(hdr));
    size_t len = le16toh(hdr[1]);
    if (in.size() - kRecordHdr < len) {
      inst->glue.bad_records++;
      break;
    }
    agent.handle(le16toh(hdr[0]), in.subspan(kRecordHdr, len));
    in = in.subspan(kRecordHdr + len);
  }
  // Built in the context's reply buffer: on an inline core that is the poller's, reused.
  std::vector<std::byte>& out = ctx.reply_payload();
  out.clear();
  ReplySink sink(&out);
  agent.schedule(sink);
  // The counters are the actor's state the runtime sees; a failure here means the runtime
  // quarantined us, and the reply says so.
  ctx.set_reply_status(ctx.store(ctx.root(), 0, agent.stats()));
}

void AgentActors::append_message(std::vector<std::byte>* batch, uint16_t type,
                                 std::span<const std::byte> payload) {
  size_t at = batch->size();
  batch->resize(at + kRecordHdr + payload.size());
  uint16_t hdr[2] = {htole16(type), htole16(static_cast<uint16_t>(payload.size()))};
  std::memcpy(batch->data() + at, hdr, sizeof(hdr));
  if (!payload.empty())
    std::memcpy(batch->data() + at + kRecordHdr, payload.data(), payload.size());
}

bool AgentActors::decode_reply(std::span<const std::byte> reply,
                               const std::function<void(const ReplyRecord&)>& fn) {
  constexpr size_t kRecord = kRecordHdr + sizeof(wave_decision);
  if (reply.size() % kRecord != 0)
    return false;
  for (size_t at = 0; at < reply.size(); at += kRecord) {  // validate all before any use
    uint16_t kind;
    std::memcpy(&kind, reply.data() + at, sizeof(kind));
    if (le16toh(kind) < kReplyRing || le16toh(kind) > kReplyClear)
      return false;
  }
  for (size_t at = 0; at < reply.size(); at += kRecord) {
    ReplyRecord r;
    uint16_t hdr[2];
    std::memcpy(hdr, reply.data() + at, sizeof(hdr));
    r.kind = le16toh(hdr[0]);
    r.cpu = le16toh(hdr[1]);
    std::memcpy(&r.decision, reply.data() + at + kRecordHdr, sizeof(r.decision));
    fn(r);
  }
  return true;
}

bool AgentActors::stats(rt::ActorId id, AgentStats* agent, AgentActorStats* glue) const {
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end())
      return false;
    inst = it->second;
  }
  std::lock_guard lock(inst->mu);
  if (agent != nullptr)
    *agent = inst->agent->stats();
  if (glue != nullptr)
    *glue = inst->glue;
  return true;
}

}  // namespace wave::agents
