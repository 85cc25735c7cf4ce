#include "runtime/runtime.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace wave::rt {
namespace {

using mig::FrameHeader;
using mig::FrameType;

// Bounds on waits for the host, so a dead peer cannot hang the NIC.
constexpr auto kHostTimeout = std::chrono::seconds(5);
constexpr uint32_t kMaxReplyPayload = mig::kMaxFramePayload;

uint64_t cpu_ns(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0)
    return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

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
    : cfg_(std::move(cfg)),
      registry_(registry),
      sink_(std::move(sink)),
      clock_(clock != nullptr ? *clock : steady_),
      sched_(cfg_.sched, clock_) {
  table_.set_violation_hook([this](ActorId a, Status why) { quarantine(a, why); });
}

Runtime::~Runtime() {
  shutdown(ShutdownMode::kCancel);
}

void Runtime::attach_host_link(std::unique_ptr<mig::MigrationLink> link) {
  std::lock_guard lock(link_mu_);
  link_ = std::move(link);
}

void Runtime::set_tick_hook(std::function<void(const Runtime&)> hook) {
  std::lock_guard lock(mgmt_mu_);
  tick_hook_ = std::move(hook);
}

bool Runtime::start() {
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

std::shared_ptr<Runtime::ActorRecord> Runtime::record(ActorId id) const {
  std::shared_lock lock(actors_mu_);
  auto it = actors_.find(id);
  return it == actors_.end() ? nullptr : it->second;
}

Status Runtime::create_actor(const ActorSpec& spec, ActorId* out) {
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

Status Runtime::destroy_actor(ActorId id) {
  if (!record(id))
    return Status::kNoActor;
  if (sched_.location(id) != ActorLocation::kNic)
    return Status::kInvalid;
  for (Message& m : sched_.remove_actor(id))
    reject(std::move(m), Status::kNoActor);
  // Wait for a core still running it (the watchdog bounds how long).
  for (;;) {
    bool busy = false;
    for (auto& c : cores_)
      busy |= c->actor.load(std::memory_order_acquire) == id;
    if (!busy)
      break;
    std::this_thread::yield();
  }
  table_.destroy_space(id);
  std::unique_lock lock(actors_mu_);
  actors_.erase(id);
  return Status::kOk;
}

void Runtime::deliver(Reply&& r) {
  replies_.fetch_add(1, std::memory_order_relaxed);
  if (sink_)
    sink_(std::move(r));
}

void Runtime::reject(Message&& msg, Status why) {
  rejected_.fetch_add(1, std::memory_order_relaxed);
  if (!msg.wants_reply)
    return;
  Reply r;
  r.request_id = msg.request_id;
  r.actor = msg.dst;
  r.status = why;
  deliver(std::move(r));
}

Status Runtime::post(Message&& msg) {
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

void Runtime::wake_cores() {
  { std::lock_guard lock(wake_mu_); }
  wake_cv_.notify_all();
}

void Runtime::wake_management() {
  {
    std::lock_guard lock(mgmt_mu_);
    mgmt_kick_ = true;
  }
  mgmt_cv_.notify_one();
}

void Runtime::quarantine(ActorId id, Status why) {
  (void)why;
  table_.quarantine(id);
  quarantines_.fetch_add(1, std::memory_order_relaxed);
  for (Message& m : sched_.quarantine(id))
    reject(std::move(m), Status::kQuarantined);
}

void Runtime::core_loop(uint32_t core) {
  CoreState& cs = *cores_[core];
  set_current_guard(&cs.guard);
  clockid_t own;
  if (pthread_getcpuclockid(pthread_self(), &own) == 0) {
    cs.cpu_clock.store(own, std::memory_order_release);
  }
  for (;;) {
    std::optional<Message> m = sched_.next(core);
    if (m) {
      run_one(core, *m);
      continue;
    }
    if (stopping_.load(std::memory_order_acquire) && sched_.quiescent())
      break;
    if (cfg_.core_spin_ns != 0) {
      // Poll a while before sleeping (RuntimeConfig::core_spin_ns); steady time, not clock_,
      // which may be a test's logical clock. Yield between polls: where NIC cores are
      // emulated by threads on shared CPUs, the thread that posts our work may need this one.
      const uint64_t until = steady_.now_ns() + cfg_.core_spin_ns;
      bool work = false;
      while (!(work = sched_.has_work()) && !stopping_.load(std::memory_order_relaxed) &&
             steady_.now_ns() < until) {
        std::this_thread::yield();
      }
      if (work)
        continue;
    }
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(1), [&] {
      return stopping_.load(std::memory_order_acquire) || sched_.has_work();
    });
  }
  set_current_guard(nullptr);
}

void Runtime::run_one(uint32_t core, Message& msg) {
  CoreState& cs = *cores_[core];
  std::shared_ptr<ActorRecord> rec = record(msg.dst);
  if (!rec) {
    sched_.complete(core, msg, 0);
    reject(std::move(msg), Status::kNoActor);
    return;
  }
  ActorContext ctx(msg.dst, rec->root, table_, false, &cs.guard);
  const uint64_t t0 = clock_.now_ns();
  cs.actor.store(msg.dst, std::memory_order_release);
  cs.guard.run_epoch.fetch_add(1, std::memory_order_relaxed);
  const uint64_t cpu0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  cs.busy_since.store(cpu0 == 0 ? 1 : cpu0, std::memory_order_release);
  const int jumped = sigsetjmp(cs.guard.jump, 0);
  if (jumped == 0) {
    cs.guard.in_handler.store(true, std::memory_order_relaxed);
    rec->type.handler(ctx, msg);
    cs.guard.in_handler.store(false, std::memory_order_relaxed);
  } else {
    // Back from the watchdog signal: the handler's frames are gone. The signal is still
    // blocked (the jump did not restore the mask), so unblock it for the next eviction.
    cs.guard.in_handler.store(false, std::memory_order_relaxed);
    cs.guard.in_runtime_call.store(false, std::memory_order_relaxed);
    cs.guard.jump_pending.store(false, std::memory_order_relaxed);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, watchdog_sig_);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    rec->evictions.fetch_add(1, std::memory_order_relaxed);
  }
  const bool evicted = jumped != 0;
  const uint64_t t1 = clock_.now_ns();
  cs.busy_since.store(0, std::memory_order_release);
  cs.actor.store(kNoActorId, std::memory_order_release);
  sched_.complete(core, msg, t1 > t0 ? t1 - t0 : 0);
  if (!msg.wants_reply)
    return;
  Reply r;
  r.request_id = msg.request_id;
  r.actor = msg.dst;
  r.latency_ns = t1 > msg.arrival_ns ? t1 - msg.arrival_ns : 0;
  if (evicted) {
    r.status = Status::kEvicted;
  } else {
    r.status = ctx.reply_status();
    r.payload = std::move(ctx.reply_payload());
  }
  deliver(std::move(r));
}

void Runtime::watchdog_check() {
  for (auto& cp : cores_) {
    CoreState& cs = *cp;
    const uint64_t since = cs.busy_since.load(std::memory_order_acquire);
    if (since == 0)
      continue;
    const uint64_t now = cpu_ns(cs.cpu_clock.load(std::memory_order_acquire));
    if (now < since || now - since <= cfg_.watchdog_ns)
      continue;
    const uint64_t epoch = cs.guard.run_epoch.load(std::memory_order_relaxed);
    if (cs.guard.evict_epoch.load(std::memory_order_relaxed) == epoch)
      continue;  // signalled
    const ActorId victim = cs.actor.load(std::memory_order_acquire);
    cs.guard.evict_epoch.store(epoch, std::memory_order_relaxed);
    evictions_.fetch_add(1, std::memory_order_relaxed);
    if (victim != kNoActorId)
      quarantine(victim, Status::kEvicted);
    pthread_kill(cs.thread.native_handle(), watchdog_sig_);
  }
}

void Runtime::management_loop() {
  while (!mgmt_stop_.load(std::memory_order_acquire)) {
    {
      std::unique_lock lock(mgmt_mu_);
      mgmt_cv_.wait_for(lock, std::chrono::nanoseconds(cfg_.tick_ns),
                        [&] { return mgmt_kick_ || mgmt_stop_.load(std::memory_order_acquire); });
      mgmt_kick_ = false;
    }
    watchdog_check();
    {
      std::unique_lock lock(link_mu_, std::try_to_lock);
      // A migrate_* call in progress owns the link; it forwards and polls itself.
      if (lock.owns_lock() && link_) {
        for (int i = 0; i < 256 && poll_link(); ++i) {
        }
        forward_outboxes();
        if (cfg_.migration && !stopping_.load(std::memory_order_acquire))
          auto_migrate();
      }
    }
    std::function<void(const Runtime&)> hook;
    {
      std::lock_guard lock(mgmt_mu_);
      hook = tick_hook_;
    }
    if (hook)
      hook(*this);
  }
}

bool Runtime::poll_link() {
  if (!link_ || !link_->rx().ok())
    return false;
  const auto r = link_->rx().recv(
      [this](const FrameHeader& h, std::span<const std::byte> p) { handle_host_frame(h, p); });
  if (r == mig::FrameChannel::Recv::kBroken) {
    link_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return r == mig::FrameChannel::Recv::kFrame;
}

void Runtime::handle_host_frame(const FrameHeader& h, std::span<const std::byte> payload) {
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kReply: {
      auto it = outstanding_.find(h.arg0);
      const uint32_t status = static_cast<uint32_t>(h.arg1);
      // Only requests we forwarded, once each, with a status we know.
      if (it == outstanding_.end() || it->second.actor != h.actor || status > 16 ||
          payload.size() > kMaxReplyPayload) {
        link_errors_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      Reply r;
      r.request_id = it->second.request_id;
      r.actor = it->second.actor;
      r.status = static_cast<Status>(status);
      r.on_host = true;
      r.latency_ns = (h.arg1 >> 32) * 1000;
      r.payload.assign(payload.begin(), payload.end());
      outstanding_.erase(it);
      host_replies_.fetch_add(1, std::memory_order_relaxed);
      deliver(std::move(r));
      return;
    }
    case FrameType::kStateAck:
      acks_[h.actor] = h.arg0 + 1;
      if (h.actor == dma_grant_.actor && !dma_grant_.granted)
        dma_grant_.refused = true;  // the host turned the transfer down before granting
      return;
    case FrameType::kDmaGrant:
      if (!dma_grant_.offer(h.actor, h.arg0, h.arg1, link_->dma_window().size()))
        link_errors_.fetch_add(1, std::memory_order_relaxed);
      return;
    case FrameType::kStateBegin:
    case FrameType::kObject:
    case FrameType::kChunk:
    case FrameType::kStateEnd: {
      if (h.actor != return_actor_ || return_done_) {
        link_errors_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      const auto step = returning_.on_frame(h, payload);
      if (step == mig::StateReceiver::Step::kDone)
        return_done_ = true;
      if (step == mig::StateReceiver::Step::kError) {
        link_errors_.fetch_add(1, std::memory_order_relaxed);
        return_actor_ = kNoActorId;
      }
      return;
    }
    default:
      link_errors_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool Runtime::link_wait() {
  if (!link_ || !link_->ok())
    return false;
  if (!poll_link())
    std::this_thread::yield();
  return link_->ok();
}

void Runtime::forward_outboxes() {
  for (ActorId id : on_host_) {
    if (sched_.location(id) != ActorLocation::kHost)
      continue;
    std::deque<Message> out = sched_.take_outbox(id);
    while (!out.empty()) {
      Message& m = out.front();
      const uint16_t flags = m.wants_reply ? mig::kFlagWantsReply : 0;
      bool sent = false;
      while (!(sent = link_->tx().send(FrameType::kRequest, id, flags, m.seq, m.kind, m.payload)) &&
             link_wait()) {
      }
      if (!sent) {
        reject(std::move(m), Status::kLinkError);
      } else if (m.wants_reply) {
        outstanding_[m.seq] = Forwarded{m.request_id, id};
      }
      out.pop_front();
    }
  }
}

Status Runtime::migrate_to_host(ActorId id, MigrationRecord* rec) {
  std::lock_guard lock(link_mu_);
  return do_migrate_out(id, rec);
}

Status Runtime::migrate_from_host(ActorId id, MigrationRecord* rec) {
  std::lock_guard lock(link_mu_);
  return do_migrate_in(id, rec);
}

Status Runtime::do_migrate_out(ActorId id, MigrationRecord* out) {
  if (!link_ || !link_->ok())
    return Status::kLinkError;
  auto rec = record(id);
  if (!rec)
    return Status::kNoActor;
  if (rec->spec.pinned)
    return Status::kInvalid;
  MigrationRecord mr;
  mr.actor = id;
  mr.to_host = true;
  SteadyClock wall;  // phases are reported in wall time even under a logical clock
  const uint64_t t0 = wall.now_ns();
  // Phase 1: stop the mailbox (new requests are buffered) and let running handlers finish.
  if (!sched_.begin_migration_out(id))
    return Status::kInvalid;
  while (sched_.running(id))
    std::this_thread::yield();
  const uint64_t t1 = wall.now_ns();
  // Phase 2: ship the DMOs.
  const DmoUsage mem = table_.usage(id);
  mr.bytes = mem.used_bytes;
  mr.objects = mem.objects;
  mig::ActorImage img{id, rec->spec.type, rec->spec.name, rec->spec.mem_cap_bytes, rec->root};
  // One copy through the DMA window when the link has one; else two, through the ring.
  const std::span<std::byte> window = link_->dma_window();
  bool ok = window.empty()
                ? mig::send_state(link_->tx(), table_, img, [this] { return link_wait(); })
                : mig::send_state_dma(link_->tx(), table_, img, window, dma_grant_,
                                      [this] { return link_wait(); });
  const uint64_t t2 = wall.now_ns();
  // Phase 3: the host recreates the actor and acknowledges.
  acks_.erase(id);
  const auto deadline = std::chrono::steady_clock::now() + kHostTimeout;
  while (ok && acks_.count(id) == 0) {
    if (std::chrono::steady_clock::now() > deadline || !link_wait())
      ok = false;
  }
  ok = ok && acks_[id] == 1 + static_cast<uint64_t>(Status::kOk);
  const uint64_t t3 = wall.now_ns();
  if (!ok) {
    // The actor stays on the NIC; what was buffered runs here.
    link_errors_.fetch_add(1, std::memory_order_relaxed);
    sched_.set_location(id, ActorLocation::kReturning);
    sched_.finish_migration_in(id);
    wake_cores();
    return Status::kLinkError;
  }
  // Phase 4: forward the buffered requests, then drop the NIC's copy of the state.
  sched_.set_location(id, ActorLocation::kHost);
  on_host_.push_back(id);
  const uint64_t before = link_->tx().frames_sent();
  forward_outboxes();
  mr.replayed = link_->tx().frames_sent() - before;
  const uint64_t t4 = wall.now_ns();
  table_.destroy_space(id);
  mr.cleanup_ns = wall.now_ns() - t4;
  mr.stop_ns = t1 - t0;
  mr.ship_ns = t2 - t1;
  mr.recreate_ns = t3 - t2;
  mr.replay_ns = t4 - t3;
  mr.ok = true;
  rec->migrations.fetch_add(1, std::memory_order_relaxed);
  migrations_out_.fetch_add(1, std::memory_order_relaxed);
  last_migration_ns_ = clock_.now_ns();
  {
    std::lock_guard l(records_mu_);
    records_.push_back(mr);
  }
  if (out != nullptr)
    *out = mr;
  return Status::kOk;
}

Status Runtime::do_migrate_in(ActorId id, MigrationRecord* out) {
  if (!link_ || !link_->ok())
    return Status::kLinkError;
  auto rec = record(id);
  if (!rec)
    return Status::kNoActor;
  if (sched_.location(id) != ActorLocation::kHost)
    return Status::kInvalid;
  MigrationRecord mr;
  mr.actor = id;
  mr.to_host = false;
  SteadyClock wall;
  const uint64_t t0 = wall.now_ns();
  // Phase 1: buffer new requests here; ask the host to stop the actor and send it back. The
  // host answers the requests it already has before it ships the state (ring order).
  forward_outboxes();
  sched_.set_location(id, ActorLocation::kReturning);
  return_actor_ = id;
  return_done_ = false;
  bool ok = true;
  while (!link_->tx().send(FrameType::kPull, id, 0, 0, 0, {})) {
    if (!link_wait()) {
      ok = false;
      break;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kHostTimeout;
  while (ok && !returning_.active() && !return_done_ && return_actor_ == id) {
    if (std::chrono::steady_clock::now() > deadline || !link_wait())
      ok = false;
  }
  const uint64_t t1 = wall.now_ns();
  // Phase 2: receive the DMOs (straight into the NIC's table).
  while (ok && !return_done_ && return_actor_ == id) {
    if (std::chrono::steady_clock::now() > deadline || !link_wait())
      ok = false;
  }
  ok = ok && return_done_ && return_actor_ == id;
  const uint64_t t2 = wall.now_ns();
  return_actor_ = kNoActorId;
  if (!ok) {
    // The state is lost with the host: the actor cannot run anywhere. Answer what waits.
    link_errors_.fetch_add(1, std::memory_order_relaxed);
    for (Message& m : sched_.take_outbox(id))
      reject(std::move(m), Status::kLinkError);
    quarantine(id, Status::kLinkError);
    return Status::kLinkError;
  }
  mr.bytes = returning_.bytes();
  mr.objects = table_.usage(id).objects;
  // Phase 3: the actor is scheduled here again.
  std::erase(on_host_, id);
  const uint64_t t3 = wall.now_ns();
  // Phase 4: replay what was buffered meanwhile.
  mr.replayed = sched_.finish_migration_in(id);
  wake_cores();
  const uint64_t t4 = wall.now_ns();
  mr.stop_ns = t1 - t0;
  mr.ship_ns = t2 - t1;
  mr.recreate_ns = t3 - t2;
  mr.replay_ns = t4 - t3;
  mr.ok = true;
  rec->migrations.fetch_add(1, std::memory_order_relaxed);
  migrations_in_.fetch_add(1, std::memory_order_relaxed);
  last_migration_ns_ = clock_.now_ns();
  {
    std::lock_guard l(records_mu_);
    records_.push_back(mr);
  }
  if (out != nullptr)
    *out = mr;
  return Status::kOk;
}

void Runtime::auto_migrate() {
  const uint64_t now = clock_.now_ns();
  if (last_migration_ns_ != 0 && now - last_migration_ns_ < cfg_.migration_cooldown_ns)
    return;
  const double mean = sched_.nic_latency_mean_ns();
  const double threshold = static_cast<double>(cfg_.mean_threshold_ns);
  if (mean > threshold) {
    std::vector<ActorId> candidates;
    {
      std::shared_lock lock(actors_mu_);
      for (auto& [id, rec] : actors_) {
        if (!rec->spec.pinned)
          candidates.push_back(id);
      }
    }
    const ActorId victim = sched_.pick_heaviest(candidates);
    if (victim != kNoActorId)
      do_migrate_out(victim, nullptr);
  } else if (mean < (1.0 - cfg_.sched.alpha) * threshold && !on_host_.empty()) {
    do_migrate_in(on_host_.back(), nullptr);
  }
}

void Runtime::shutdown(ShutdownMode mode) {
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

RuntimeStats Runtime::stats() const {
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

std::vector<MigrationRecord> Runtime::migrations() const {
  std::lock_guard lock(records_mu_);
  return records_;
}

}  // namespace wave::rt
