// The management thread and the link to the host runtime: each tick it runs the watchdog,
// takes frames from the host (replies, acknowledgements, DMA grants, returning state), forwards
// the requests of actors living on the host, and decides migrations by NIC latency.
#include <algorithm>
#include <chrono>
#include <utility>

#include "runtime_impl.h"

namespace wave::rt {
namespace {

using mig::FrameHeader;
using mig::FrameType;

constexpr uint32_t kMaxReplyPayload = mig::kMaxFramePayload;
// The NIC cores' utilisation, counting a returning actor's load, below which it may return.
// Queueing latency climbs steeply past about 70 %; half leaves room for bursts.
constexpr double kReturnUtilization = 0.5;

}  // namespace

void Runtime::Impl::management_loop() {
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
      hook(owner_);
  }
}

bool Runtime::Impl::poll_link() {
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

void Runtime::Impl::handle_host_frame(const FrameHeader& h, std::span<const std::byte> payload) {
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

bool Runtime::Impl::link_wait() {
  if (!link_ || !link_->ok())
    return false;
  if (!poll_link())
    std::this_thread::yield();
  return link_->ok();
}

void Runtime::Impl::forward_outboxes() {
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
      } else {
        ++forwarded_total_;
        if (m.wants_reply)
          outstanding_[m.seq] = Forwarded{m.request_id, id};
      }
      out.pop_front();
    }
  }
}

void Runtime::Impl::auto_migrate() {
  const uint64_t now = clock_.now_ns();
  sched_.sample_idle_tick();
  measure_load(now);
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
    if (victim != kNoActorId && do_migrate_out(victim, nullptr) == Status::kOk)
      restart_load_window(clock_.now_ns());
  } else if (mean < (1.0 - cfg_.sched.alpha) * threshold && !on_host_.empty() &&
             load_window_.measured) {
    // A NIC whose hot actor left is idle, so its latency alone says "come back" while the
    // load that drove the actor out may still be there. Bring it back only if the NIC could
    // have carried that load over the last window: its own busy time plus the actor's
    // requests at the execution time the actor had here, within kReturnUtilization.
    // The requests the host has not answered yet count too: the host answers every request
    // ahead of the pull before it ships the state back (ring order), so whatever arrives for
    // the actor meanwhile waits on the NIC for all of them. Without them, a host still hundreds
    // of milliseconds behind looked idle whenever the last window's arrivals dipped below the
    // limit, and the actor came back to latencies that sent it out again.
    const ActorId back = on_host_.back();
    double exec_ns = 0;
    for (const ActorSchedStats& a : sched_.actor_stats()) {
      if (a.id == back)
        exec_ns = a.exec_mean_ns;
    }
    const LoadWindow& w = load_window_;
    const double host_requests = static_cast<double>(w.forwarded + outstanding_.size());
    const double work = static_cast<double>(w.busy_ns) + host_requests * exec_ns;
    const double utilization =
        work / (static_cast<double>(w.length_ns) * std::max<uint32_t>(1, cfg_.sched.cores));
    if (utilization < kReturnUtilization && do_migrate_in(back, nullptr) == Status::kOk)
      restart_load_window(clock_.now_ns());
  }
}

void Runtime::Impl::restart_load_window(uint64_t now) {
  load_window_ = LoadWindow{};
  load_mark_ = LoadMark{now, sched_.busy_ns_total(), forwarded_total_};
}

void Runtime::Impl::measure_load(uint64_t now) {
  if (load_mark_.at_ns == 0 || now < load_mark_.at_ns) {
    restart_load_window(now);
    return;
  }
  // Windows one cooldown long (at least ten ticks): a per-tick count of bursty traffic would
  // read zero between bursts.
  const uint64_t length = std::max(cfg_.migration_cooldown_ns, 10 * cfg_.tick_ns);
  if (now - load_mark_.at_ns < length)
    return;
  const LoadMark mark{now, sched_.busy_ns_total(), forwarded_total_};
  load_window_ = LoadWindow{true, now - load_mark_.at_ns, mark.busy_ns - load_mark_.busy_ns,
                            mark.forwarded - load_mark_.forwarded};
  load_mark_ = mark;
}

}  // namespace wave::rt
