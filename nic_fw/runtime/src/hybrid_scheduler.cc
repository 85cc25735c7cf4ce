// The scheduling policy proper: routing requests, dispatch to FCFS and DRR cores, completions
// and the moves of actors and cores between the groups. What the runtime asks of the scheduler
// outside the dispatch path (quarantine, migration states, drain, statistics) is in
// hybrid_scheduler_control.cc.
#include "hybrid_scheduler.h"

#include <algorithm>

namespace wave::rt {
namespace {

// A DRR turn grants at most this many quanta in one search, so one pass over a list of very
// expensive actors stays bounded while the scheduler lock is held.
constexpr uint32_t kMaxDrrPasses = 1024;

}  // namespace

HybridScheduler::HybridScheduler(const SchedulerConfig& cfg, const Clock& clock)
    : cfg_(cfg), clock_(clock), nic_latency_(cfg.window) {
  cores_.resize(cfg_.cores == 0 ? 1 : cfg_.cores);
  // iPipe starts every core in the FCFS group; pure DRR starts them all in DRR.
  for (Core& c : cores_) {
    c.group = cfg_.mode == SchedMode::kDrrOnly ? CoreGroup::kDrr : CoreGroup::kFcfs;
  }
}

HybridScheduler::Actor* HybridScheduler::find(ActorId id) const {
  auto it = actors_.find(id);
  return it == actors_.end() ? nullptr : it->second.get();
}

bool HybridScheduler::add_actor(ActorId id, bool serial, bool start_in_drr) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = actors_.try_emplace(id, nullptr);
  if (!inserted)
    return false;
  it->second = std::make_unique<Actor>(id, serial, cfg_.window);
  Actor& a = *it->second;
  if (cfg_.mode == SchedMode::kDrrOnly || (cfg_.mode == SchedMode::kHybrid && start_in_drr)) {
    a.group = CoreGroup::kDrr;
  }
  return true;
}

void HybridScheduler::extract_waiting(Actor& a, std::vector<Message>* out) {
  std::vector<Message> mine;
  for (auto it = shared_queue_.begin(); it != shared_queue_.end();) {
    if (it->dst == a.id) {
      mine.push_back(std::move(*it));
      it = shared_queue_.erase(it);
    } else {
      ++it;
    }
  }
  a.in_shared_queue = 0;
  for (Message& m : a.mailbox)
    mine.push_back(std::move(m));
  for (Message& m : a.outbox)
    mine.push_back(std::move(m));
  a.mailbox.clear();
  a.outbox.clear();
  std::sort(mine.begin(), mine.end(),
            [](const Message& x, const Message& y) { return x.seq < y.seq; });
  for (Message& m : mine)
    out->push_back(std::move(m));
}

std::vector<Message> HybridScheduler::remove_actor(ActorId id) {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr)
    return out;
  extract_waiting(*a, &out);
  std::erase(drr_list_, a);
  for (Core& c : cores_) {
    if (c.drr_turn == a)
      c.drr_turn = nullptr;
  }
  actors_.erase(id);
  return out;
}

HybridScheduler::Enqueued HybridScheduler::enqueue(Message& msg) {
  std::lock_guard lock(mu_);
  Actor* a = find(msg.dst);
  if (a == nullptr)
    return Enqueued::kNoActor;
  if (a->quarantined)
    return Enqueued::kQuarantined;
  msg.arrival_ns = clock_.now_ns();
  msg.seq = next_seq_++;
  if (a->location != ActorLocation::kNic) {
    a->outbox.push_back(std::move(msg));
    return Enqueued::kOutbox;
  }
  route(*a, std::move(msg));
  return Enqueued::kQueued;
}

void HybridScheduler::route(Actor& a, Message&& msg) {
  if (a.group == CoreGroup::kDrr) {
    a.mailbox.push_back(std::move(msg));
    make_drr_runnable(a);
  } else {
    ++a.in_shared_queue;
    shared_queue_.push_back(std::move(msg));
  }
}

void HybridScheduler::insert_in_order(std::deque<Message>& q, Message&& msg) {
  auto at = std::upper_bound(q.begin(), q.end(), msg.seq,
                             [](uint64_t seq, const Message& m) { return seq < m.seq; });
  q.insert(at, std::move(msg));
}

void HybridScheduler::take_from_shared_queue(Actor& a) {
  if (a.in_shared_queue == 0)
    return;
  for (auto it = shared_queue_.begin(); it != shared_queue_.end();) {
    if (it->dst == a.id) {
      insert_in_order(a.mailbox, std::move(*it));
      it = shared_queue_.erase(it);
    } else {
      ++it;
    }
  }
  a.in_shared_queue = 0;
}

void HybridScheduler::make_drr_runnable(Actor& a) {
  if (a.in_drr_list || a.on_drr_core)
    return;
  a.in_drr_list = true;
  drr_list_.push_back(&a);
}

uint64_t HybridScheduler::estimate_ns(const Actor& a) const {
  return a.exec.count() == 0 ? 0 : static_cast<uint64_t>(a.exec.mean_ns());
}

bool HybridScheduler::drr_eligible(const Actor& a) const {
  return a.group == CoreGroup::kDrr && a.location == ActorLocation::kNic && !a.quarantined &&
         !a.mailbox.empty();
}

bool HybridScheduler::drr_backlogged() const {
  for (const Actor* a : drr_list_) {
    if (drr_eligible(*a))
      return true;
  }
  return false;
}

uint32_t HybridScheduler::count_group(CoreGroup g, bool idle_only) const {
  uint32_t n = 0;
  for (const Core& c : cores_) {
    if (c.group == g && (!idle_only || !c.busy))
      ++n;
  }
  return n;
}

bool HybridScheduler::any_actor_in(CoreGroup g) const {
  for (const auto& [id, a] : actors_) {
    if (a->group == g && a->location == ActorLocation::kNic && !a->quarantined)
      return true;
  }
  return false;
}

uint32_t HybridScheduler::min_cores(CoreGroup g) const {
  // With one core there is nothing to reserve: it serves whichever group has work.
  if (cores_.size() < 2)
    return 0;
  if (!any_actor_in(g))
    return 0;
  // Enough cores for the group's recent load at the target utilisation, at least one, and
  // always leaving one for the other group.
  const double util = cfg_.core_target_util > 0 ? cfg_.core_target_util : 1.0;
  const double need = group_load_[static_cast<int>(g)] / util;
  uint32_t n = static_cast<uint32_t>(need);
  if (static_cast<double>(n) < need)
    ++n;
  const uint32_t cap = static_cast<uint32_t>(cores_.size()) - 1;
  return std::clamp<uint32_t>(n, 1, cap);
}

void HybridScheduler::update_group_loads(uint64_t now) {
  if (load_epoch_ == 0 || now < load_epoch_) {
    load_epoch_ = now == 0 ? 1 : now;
    return;
  }
  const uint64_t elapsed = now - load_epoch_;
  if (elapsed < cfg_.load_window_ns)
    return;
  for (int g = 0; g < 2; ++g) {
    const double load = static_cast<double>(group_work_ns_[g]) / static_cast<double>(elapsed);
    group_load_[g] = 0.5 * group_load_[g] + 0.5 * load;
    group_work_ns_[g] = 0;
  }
  load_epoch_ = now;
}

std::optional<Message> HybridScheduler::take_fcfs(Core& core) {
  while (!shared_queue_.empty()) {
    Message msg = std::move(shared_queue_.front());
    shared_queue_.pop_front();
    Actor* a = find(msg.dst);
    if (a == nullptr)
      continue;  // removed actors had their requests extracted already
    --a->in_shared_queue;
    if (a->quarantined)
      continue;  // quarantine extracted them too; defensive
    if (a->location != ActorLocation::kNic) {
      a->outbox.push_back(std::move(msg));
      continue;
    }
    if (a->group == CoreGroup::kDrr) {  // downgraded since the request was queued
      insert_in_order(a->mailbox, std::move(msg));
      make_drr_runnable(*a);
      continue;
    }
    if (a->serial && a->running > 0) {
      // The core that finishes the actor puts its mailbox back at the head of the queue.
      a->mailbox.push_back(std::move(msg));
      continue;
    }
    ++a->running;
    core.busy = true;
    return msg;
  }
  return std::nullopt;
}

void HybridScheduler::end_drr_turn(Core& core) {
  Actor* a = core.drr_turn;
  if (a == nullptr)
    return;
  core.drr_turn = nullptr;
  a->on_drr_core = false;
  if (drr_eligible(*a)) {
    a->in_drr_list = true;
    drr_list_.push_back(a);
  } else {
    a->deficit = 0;  // DRR forgets the credit of an actor that ran out of work
  }
}

std::optional<Message> HybridScheduler::take_drr(Core& core) {
  if (Actor* a = core.drr_turn) {
    if (drr_eligible(*a) && a->deficit >= static_cast<int64_t>(estimate_ns(*a))) {
      Message msg = std::move(a->mailbox.front());
      a->mailbox.pop_front();
      ++a->running;
      core.busy = true;
      return msg;
    }
    end_drr_turn(core);
  }
  const size_t bound = drr_list_.size() * kMaxDrrPasses;
  for (size_t i = 0; i < bound && !drr_list_.empty(); ++i) {
    Actor* a = drr_list_.front();
    drr_list_.pop_front();
    a->in_drr_list = false;
    if (!drr_eligible(*a)) {
      a->deficit = 0;
      continue;
    }
    a->deficit += static_cast<int64_t>(cfg_.drr_quantum_ns);
    const bool last_pass = i + drr_list_.size() + 1 >= bound;
    if (a->deficit >= static_cast<int64_t>(estimate_ns(*a)) || last_pass) {
      core.drr_turn = a;
      a->on_drr_core = true;
      Message msg = std::move(a->mailbox.front());
      a->mailbox.pop_front();
      ++a->running;
      core.busy = true;
      return msg;
    }
    a->in_drr_list = true;
    drr_list_.push_back(a);
  }
  return std::nullopt;
}

std::optional<Message> HybridScheduler::next(uint32_t core_id) {
  std::lock_guard lock(mu_);
  if (core_id >= cores_.size())
    return std::nullopt;
  Core& core = cores_[core_id];
  core.busy = false;
  update_group_loads(clock_.now_ns());
  // A group with work but no core at all gets this one first, whatever our own backlog: iPipe
  // spawns a DRR core as soon as an actor enters the DRR queue.
  if (cfg_.mode == SchedMode::kHybrid) {
    const CoreGroup other = core.group == CoreGroup::kFcfs ? CoreGroup::kDrr : CoreGroup::kFcfs;
    const bool other_has_work =
        other == CoreGroup::kDrr ? drr_backlogged() : !shared_queue_.empty();
    if (other_has_work && count_group(other, false) == 0 &&
        count_group(core.group, false) > min_cores(core.group)) {
      if (core.group == CoreGroup::kDrr)
        end_drr_turn(core);
      core.group = other;
      ++core_moves_;
    }
  }
  // Then at most one more group change: try our group, maybe move, try the other.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (core.group == CoreGroup::kFcfs) {
      if (auto m = take_fcfs(core))
        return m;
      if (cfg_.mode != SchedMode::kHybrid)
        return std::nullopt;
      // Move to DRR if DRR has work and no idle DRR core will take it.
      const bool drr_needs_core = drr_backlogged() && count_group(CoreGroup::kDrr, true) == 0;
      if (!drr_needs_core || count_group(CoreGroup::kFcfs, false) <= min_cores(CoreGroup::kFcfs)) {
        return std::nullopt;
      }
      core.group = CoreGroup::kDrr;
      ++core_moves_;
    } else {
      if (auto m = take_drr(core))
        return m;
      if (cfg_.mode != SchedMode::kHybrid)
        return std::nullopt;
      const bool fcfs_needs_core =
          !shared_queue_.empty() && count_group(CoreGroup::kFcfs, true) == 0;
      if (!fcfs_needs_core || count_group(CoreGroup::kDrr, false) <= min_cores(CoreGroup::kDrr)) {
        return std::nullopt;
      }
      end_drr_turn(core);
      core.group = CoreGroup::kFcfs;
      ++core_moves_;
    }
  }
  return std::nullopt;
}

void HybridScheduler::to_fcfs(Actor& a) {
  a.group = CoreGroup::kFcfs;
  ++a.to_fcfs;
  // Its DRR backlog rejoins the shared queue, oldest first, behind what is already there.
  while (!a.mailbox.empty()) {
    ++a.in_shared_queue;
    shared_queue_.push_back(std::move(a.mailbox.front()));
    a.mailbox.pop_front();
  }
}

void HybridScheduler::maybe_change_group(Actor& a) {
  if (cfg_.mode != SchedMode::kHybrid || a.exec.count() < cfg_.min_samples)
    return;
  const double tail = a.exec.tail_ns();
  if (a.group == CoreGroup::kFcfs && tail > static_cast<double>(cfg_.tail_threshold_ns)) {
    a.group = CoreGroup::kDrr;  // downgrade: served by processor sharing from now on
    ++a.to_drr;
    // Its requests still in the shared queue join its mailbox now, in arrival order, so that
    // none falls behind a request that arrives in the mailbox later.
    take_from_shared_queue(a);
    if (!a.mailbox.empty())
      make_drr_runnable(a);
  } else if (a.group == CoreGroup::kDrr &&
             tail < (1.0 - cfg_.alpha) * static_cast<double>(cfg_.tail_threshold_ns)) {
    to_fcfs(a);  // upgrade back to run-to-completion
  }
}

bool HybridScheduler::complete(uint32_t core_id, const Message& msg, uint64_t exec_ns) {
  return complete_at(core_id, msg, exec_ns, clock_.now_ns());
}

bool HybridScheduler::complete_at(uint32_t core_id, const Message& msg, uint64_t exec_ns,
                                  uint64_t now) {
  std::lock_guard lock(mu_);
  if (core_id < cores_.size())
    cores_[core_id].busy = false;
  const uint64_t latency = now > msg.arrival_ns ? now - msg.arrival_ns : 0;
  nic_latency_.add(static_cast<double>(latency));
  ++completed_;
  busy_ns_total_ += exec_ns;
  Actor* a = find(msg.dst);
  if (a == nullptr)
    return false;
  if (a->running > 0)
    --a->running;
  a->exec.add(static_cast<double>(exec_ns));
  a->latency.add(static_cast<double>(latency));
  ++a->processed;
  a->recent_work_ns += exec_ns;
  group_work_ns_[static_cast<int>(a->group)] += exec_ns;
  if (core_id < cores_.size() && cores_[core_id].drr_turn == a) {
    a->deficit -= static_cast<int64_t>(exec_ns);
  }
  if (a->quarantined || a->location != ActorLocation::kNic)
    return false;
  const CoreGroup before = a->group;
  maybe_change_group(*a);
  if (before == CoreGroup::kDrr && a->group == CoreGroup::kFcfs && core_id < cores_.size() &&
      cores_[core_id].drr_turn == a) {
    end_drr_turn(cores_[core_id]);
  }
  if (a->group == CoreGroup::kFcfs && a->serial && a->running == 0 && !a->mailbox.empty()) {
    ++a->in_shared_queue;
    shared_queue_.push_front(std::move(a->mailbox.front()));
    a->mailbox.pop_front();
    return true;
  }
  // Requests that came while it ran and became DRR work when it moved groups.
  return a->group == CoreGroup::kDrr && a->in_drr_list;
}

}  // namespace wave::rt
