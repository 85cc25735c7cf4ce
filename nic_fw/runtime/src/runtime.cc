// The runtime's lifecycle and front door: construction, start, actors, post, shutdown, stats.
// The other parts of Runtime::Impl are listed in runtime_impl.h.
#include "runtime/runtime.h"

#include <pthread.h>
#include <sched.h>

#include <chrono>

#include "runtime/inline_core.h"
#include "runtime_impl.h"

namespace wave::rt {
namespace {

void pin_thread(std::thread& t, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Best effort: pinning fails harmlessly where the CPU is not ours (containers, CI).
  pthread_setaffinity_np(t.native_handle(), sizeof set, &set);
}

}  // namespace

Runtime::Runtime(RuntimeConfig cfg, const ActorRegistry& registry, ReplySink sink,
                 const Clock* clock)
    : impl_(std::make_unique<Impl>(*this, std::move(cfg), registry, std::move(sink), clock)) {}

Runtime::~Runtime() {
  impl_->shutdown(ShutdownMode::kCancel);
}

void Runtime::attach_host_link(std::unique_ptr<mig::MigrationLink> link) {
  impl_->attach_host_link(std::move(link));
}
bool Runtime::start() {
  return impl_->start();
}
Status Runtime::create_actor(const ActorSpec& spec, ActorId* out) {
  return impl_->create_actor(spec, out);
}
Status Runtime::destroy_actor(ActorId id) {
  return impl_->destroy_actor(id);
}
Status Runtime::post(Message&& msg) {
  return impl_->post(std::move(msg));
}
std::unique_ptr<InlineCore> Runtime::open_inline_core() {
  return impl_->open_inline_core();
}
Status Runtime::migrate_to_host(ActorId id, MigrationRecord* rec) {
  return impl_->migrate_to_host(id, rec);
}
Status Runtime::migrate_from_host(ActorId id, MigrationRecord* rec) {
  return impl_->migrate_from_host(id, rec);
}
void Runtime::shutdown(ShutdownMode mode) {
  impl_->shutdown(mode);
}
RuntimeStats Runtime::stats() const {
  return impl_->stats();
}
std::vector<MigrationRecord> Runtime::migrations() const {
  return impl_->migrations();
}
DmoTable& Runtime::dmo_table() {
  return impl_->dmo_table();
}
void Runtime::set_tick_hook(std::function<void(const Runtime&)> hook) {
  impl_->set_tick_hook(std::move(hook));
}

Runtime::Impl::Impl(const Runtime& owner, RuntimeConfig cfg, const ActorRegistry& registry,
                    ReplySink sink, const Clock* clock)
    : owner_(owner),
      cfg_(std::move(cfg)),
      registry_(registry),
      sink_(std::move(sink)),
      clock_(clock != nullptr ? *clock : steady_),
      sched_(cfg_.sched, clock_) {
  table_.set_violation_hook([this](ActorId a, Status why) { quarantine(a, why); });
}

void Runtime::Impl::attach_host_link(std::unique_ptr<mig::MigrationLink> link) {
  std::lock_guard lock(link_mu_);
  link_ = std::move(link);
}

void Runtime::Impl::set_tick_hook(std::function<void(const Runtime&)> hook) {
  std::lock_guard lock(mgmt_mu_);
  tick_hook_ = std::move(hook);
}

bool Runtime::Impl::start() {
  if (started_.exchange(true))
    return false;
  watchdog_sig_ = install_watchdog_signal();
  const uint32_t n = cfg_.sched.cores == 0 ? 1 : cfg_.sched.cores;
  for (uint32_t i = 0; i < n; ++i)
    cores_.push_back(std::make_unique<CoreState>());
  for (uint32_t i = 0; i < n; ++i) {
    cores_[i]->thread = std::thread([this, i] { core_loop(i); });
    if (!cfg_.pin_cpus.empty())
      pin_thread(cores_[i]->thread, cfg_.pin_cpus[i % cfg_.pin_cpus.size()]);
  }
  mgmt_ = std::thread([this] { management_loop(); });
  for (const ActorSpec& spec : cfg_.actors) {
    ActorId id;
    if (create_actor(spec, &id) != Status::kOk)
      return false;
  }
  return true;
}

std::shared_ptr<ActorRecord> Runtime::Impl::record(ActorId id) const {
  std::shared_lock lock(actors_mu_);
  auto it = actors_.find(id);
  return it == actors_.end() ? nullptr : it->second;
}

Status Runtime::Impl::create_actor(const ActorSpec& spec, ActorId* out) {
  auto rec = std::make_shared<ActorRecord>();
  rec->spec = spec;
  if (!registry_.find(spec.type, &rec->type))
    return Status::kNoActor;
  if (spec.root_bytes == 0 || spec.root_bytes > spec.mem_cap_bytes)
    return Status::kInvalid;
  ActorId id;
  {
    std::unique_lock lock(actors_mu_);
    if (next_id_ > kMaxActorId)
      return Status::kOverCap;
    id = next_id_++;
  }
  rec->id = id;
  if (table_.create_space(id, spec.mem_cap_bytes) != Status::kOk)
    return Status::kInvalid;
  Status s = table_.dmo_malloc(id, spec.root_bytes, &rec->root);
  if (s == Status::kOk && rec->type.init) {
    ActorContext ctx(id, rec->root, table_, false);
    s = rec->type.init(ctx);
  }
  if (s != Status::kOk) {
    table_.destroy_space(id);
    return s;
  }
  {
    std::unique_lock lock(actors_mu_);
    actors_[id] = rec;
  }
  sched_.add_actor(id, spec.serial, spec.start_in_drr);
  if (out != nullptr)
    *out = id;
  return Status::kOk;
}

Status Runtime::Impl::destroy_actor(ActorId id) {
  if (!record(id))
    return Status::kNoActor;
  if (sched_.location(id) != ActorLocation::kNic)
    return Status::kInvalid;
  for (Message& m : sched_.remove_actor(id))
    reject(std::move(m), Status::kNoActor);
  // Wait for a core, or an inline core, still running it (the watchdog bounds how long). An
  // inline run publishes its actor before it asks the scheduler (runtime_inline.cc), so one
  // that the scheduler granted before remove_actor is seen here.
  while (running_on_a_core(id))
    std::this_thread::yield();
  table_.destroy_space(id);
  std::unique_lock lock(actors_mu_);
  actors_.erase(id);
  return Status::kOk;
}

void Runtime::Impl::deliver(Reply&& r) {
  replies_.fetch_add(1, std::memory_order_relaxed);
  if (sink_)
    sink_(std::move(r));
}

void Runtime::Impl::reject(Message&& msg, Status why) {
  rejected_.fetch_add(1, std::memory_order_relaxed);
  if (!msg.wants_reply)
    return;
  Reply r;
  r.request_id = msg.request_id;
  r.actor = msg.dst;
  r.status = why;
  deliver(std::move(r));
}

Status Runtime::Impl::post(Message&& msg) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (stopping_.load(std::memory_order_acquire)) {
    reject(std::move(msg), Status::kShutdown);
    return Status::kShutdown;
  }
  switch (sched_.enqueue(msg)) {
    case HybridScheduler::Enqueued::kQueued:
      wake_cores();
      return Status::kOk;
    case HybridScheduler::Enqueued::kOutbox:
      wake_management();
      return Status::kOk;
    case HybridScheduler::Enqueued::kNoActor:
      reject(std::move(msg), Status::kNoActor);
      return Status::kNoActor;
    case HybridScheduler::Enqueued::kQuarantined:
      reject(std::move(msg), Status::kQuarantined);
      return Status::kQuarantined;
  }
  return Status::kInvalid;
}

void Runtime::Impl::wake_cores() {
  { std::lock_guard lock(wake_mu_); }
  wake_cv_.notify_all();
}

void Runtime::Impl::wake_management() {
  {
    std::lock_guard lock(mgmt_mu_);
    mgmt_kick_ = true;
  }
  mgmt_cv_.notify_one();
}

void Runtime::Impl::quarantine(ActorId id, Status why) {
  (void)why;
  table_.quarantine(id);
  quarantines_.fetch_add(1, std::memory_order_relaxed);
  for (Message& m : sched_.quarantine(id))
    reject(std::move(m), Status::kQuarantined);
}

void Runtime::Impl::shutdown(ShutdownMode mode) {
  if (shut_down_)
    return;
  shut_down_ = true;
  if (mode == ShutdownMode::kCancel) {
    for (Message& m : sched_.drain_all())
      reject(std::move(m), Status::kShutdown);
  }
  stopping_.store(true, std::memory_order_release);
  wake_cores();
  for (auto& c : cores_) {
    if (c->thread.joinable())
      c->thread.join();
  }
  {
    // Requests of actors living on the host: forward the rest and wait (bounded) for answers.
    std::lock_guard lock(link_mu_);
    if (link_ && link_->ok() && mode == ShutdownMode::kDrain) {
      forward_outboxes();
      const auto deadline = std::chrono::steady_clock::now() + kHostTimeout;
      while (!outstanding_.empty() && std::chrono::steady_clock::now() < deadline && link_wait()) {
      }
    }
  }
  mgmt_stop_.store(true, std::memory_order_release);
  wake_management();
  if (mgmt_.joinable())
    mgmt_.join();
  std::lock_guard lock(link_mu_);
  for (auto& [seq, f] : outstanding_) {
    Reply r;
    r.request_id = f.request_id;
    r.actor = f.actor;
    r.status = Status::kShutdown;
    rejected_.fetch_add(1, std::memory_order_relaxed);
    deliver(std::move(r));
  }
  outstanding_.clear();
  for (Message& m : sched_.drain_all())
    reject(std::move(m), Status::kShutdown);
}

RuntimeStats Runtime::Impl::stats() const {
  RuntimeStats s;
  s.sched = sched_.stats();
  std::map<ActorId, std::shared_ptr<ActorRecord>> recs;
  {
    std::shared_lock lock(actors_mu_);
    recs = actors_;
  }
  for (const ActorSchedStats& as : sched_.actor_stats()) {
    ActorStats a;
    a.id = as.id;
    a.sched = as;
    a.mem = table_.usage(as.id);
    auto it = recs.find(as.id);
    if (it != recs.end()) {
      a.name = it->second->spec.name;
      a.pinned = it->second->spec.pinned;
      a.evictions = it->second->evictions.load(std::memory_order_relaxed);
      a.migrations = it->second->migrations.load(std::memory_order_relaxed);
    }
    s.violations += a.mem.violations;
    s.actors.push_back(std::move(a));
  }
  s.requests = requests_.load();
  s.replies = replies_.load();
  s.rejected = rejected_.load();
  s.quarantines = quarantines_.load();
  s.evictions = evictions_.load();
  s.migrations_out = migrations_out_.load();
  s.migrations_in = migrations_in_.load();
  s.link_errors = link_errors_.load();
  s.host_replies = host_replies_.load();
  return s;
}

std::vector<MigrationRecord> Runtime::Impl::migrations() const {
  std::lock_guard lock(records_mu_);
  return records_;
}

}  // namespace wave::rt
