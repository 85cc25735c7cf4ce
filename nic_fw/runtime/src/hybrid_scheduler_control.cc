// The hybrid scheduler outside the dispatch path: quarantine, the location states of a
// migrating actor and its outbox, the shutdown drain, and the statistics.
#include <algorithm>

#include "hybrid_scheduler.h"

namespace wave::rt {

std::vector<Message> HybridScheduler::quarantine(ActorId id) {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr || a->quarantined)
    return out;
  a->quarantined = true;
  extract_waiting(*a, &out);
  return out;
}

bool HybridScheduler::begin_migration_out(ActorId id) {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr || a->quarantined || a->location != ActorLocation::kNic)
    return false;
  a->location = ActorLocation::kMigratingOut;
  std::vector<Message> waiting;
  extract_waiting(*a, &waiting);
  for (Message& m : waiting)
    a->outbox.push_back(std::move(m));
  return true;
}

bool HybridScheduler::running(ActorId id) const {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  return a != nullptr && a->running > 0;
}

bool HybridScheduler::set_location(ActorId id, ActorLocation loc) {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr)
    return false;
  a->location = loc;
  return true;
}

ActorLocation HybridScheduler::location(ActorId id) const {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  return a == nullptr ? ActorLocation::kNic : a->location;
}

std::deque<Message> HybridScheduler::take_outbox(ActorId id) {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr)
    return {};
  std::deque<Message> out;
  out.swap(a->outbox);
  return out;
}

size_t HybridScheduler::finish_migration_in(ActorId id) {
  std::lock_guard lock(mu_);
  Actor* a = find(id);
  if (a == nullptr)
    return 0;
  a->location = ActorLocation::kNic;
  // Statistics from before the trip do not describe the NIC's current load.
  a->exec.reset();
  a->latency.reset();
  a->group = cfg_.mode == SchedMode::kDrrOnly ? CoreGroup::kDrr : CoreGroup::kFcfs;
  std::deque<Message> buffered;
  buffered.swap(a->outbox);
  for (Message& m : buffered)
    route(*a, std::move(m));
  return buffered.size();
}

ActorId HybridScheduler::pick_heaviest(const std::vector<ActorId>& candidates) {
  std::lock_guard lock(mu_);
  ActorId best = kNoActorId;
  uint64_t best_work = 0;
  for (ActorId id : candidates) {
    Actor* a = find(id);
    if (a == nullptr || a->quarantined || a->location != ActorLocation::kNic)
      continue;
    if (a->recent_work_ns > best_work) {
      best_work = a->recent_work_ns;
      best = id;
    }
  }
  for (auto& [id, a] : actors_)
    a->recent_work_ns = 0;
  return best;
}

bool HybridScheduler::has_work() const {
  std::lock_guard lock(mu_);
  return has_work_locked();
}

bool HybridScheduler::has_work_locked() const {
  // Only work a core could take now: a DRR list entry whose actor left (migrated, quarantined,
  // upgraded) is not work, or an idle core would spin on it instead of sleeping or exiting.
  if (!shared_queue_.empty() || drr_backlogged())
    return true;
  return std::any_of(cores_.begin(), cores_.end(),
                     [this](const Core& c) { return c.drr_turn && drr_eligible(*c.drr_turn); });
}

bool HybridScheduler::quiescent() const {
  std::lock_guard lock(mu_);
  return !has_work_locked() &&
         std::none_of(cores_.begin(), cores_.end(), [](const Core& c) { return c.busy; });
}

std::vector<Message> HybridScheduler::drain_all() {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  for (auto& [id, a] : actors_) {
    for (Message& m : a->mailbox)
      out.push_back(std::move(m));
    for (Message& m : a->outbox)
      out.push_back(std::move(m));
    a->mailbox.clear();
    a->outbox.clear();
    a->in_shared_queue = 0;
    a->in_drr_list = false;
  }
  for (Message& m : shared_queue_)
    out.push_back(std::move(m));
  shared_queue_.clear();
  drr_list_.clear();
  return out;
}

std::vector<ActorSchedStats> HybridScheduler::actor_stats() const {
  std::vector<ActorSchedStats> out;
  std::lock_guard lock(mu_);
  for (const auto& [id, a] : actors_) {
    ActorSchedStats s;
    s.id = id;
    s.group = a->group;
    s.location = a->location;
    s.quarantined = a->quarantined;
    s.exec_mean_ns = a->exec.mean_ns();
    s.exec_tail_ns = a->exec.tail_ns();
    s.latency_mean_ns = a->latency.mean_ns();
    s.latency_tail_ns = a->latency.tail_ns();
    s.queued = a->in_shared_queue + a->mailbox.size() + a->outbox.size();
    s.processed = a->processed;
    s.to_drr = a->to_drr;
    s.to_fcfs = a->to_fcfs;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.id < y.id; });
  return out;
}

SchedStats HybridScheduler::stats() const {
  std::lock_guard lock(mu_);
  SchedStats s;
  s.fcfs_cores = count_group(CoreGroup::kFcfs, false);
  s.drr_cores = count_group(CoreGroup::kDrr, false);
  s.fcfs_load = group_load_[0];
  s.drr_load = group_load_[1];
  s.fcfs_queue_depth = shared_queue_.size();
  s.drr_runnable = drr_list_.size();
  s.nic_latency_mean_ns = nic_latency_.mean_ns();
  s.completed = completed_;
  s.core_moves = core_moves_;
  return s;
}

CoreGroup HybridScheduler::core_group(uint32_t core) const {
  std::lock_guard lock(mu_);
  return core < cores_.size() ? cores_[core].group : CoreGroup::kFcfs;
}

double HybridScheduler::nic_latency_mean_ns() const {
  std::lock_guard lock(mu_);
  return nic_latency_.mean_ns();
}

void HybridScheduler::sample_idle_tick() {
  std::lock_guard lock(mu_);
  // Waiting work as has_work() counts it: an actor that migrated (or was quarantined) while
  // in the DRR list stays there until a DRR core pops it, and a lone core in the FCFS group
  // never does. Counting that entry kept the NIC "busy" forever: the mean never decayed and
  // the actor never came back from the host.
  bool busy = completed_ != completed_at_idle_sample_ || has_work_locked();
  for (const Core& c : cores_)
    busy = busy || c.busy;
  completed_at_idle_sample_ = completed_;
  if (!busy && nic_latency_.count() > 0)
    nic_latency_.add(0.0);
}

uint64_t HybridScheduler::busy_ns_total() const {
  std::lock_guard lock(mu_);
  return busy_ns_total_;
}

}  // namespace wave::rt
