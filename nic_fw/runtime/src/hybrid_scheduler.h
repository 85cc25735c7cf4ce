// iPipe's hybrid scheduler as a passive, thread-safe policy object. NIC core threads (or the
// discrete-event simulator in tools/bench/actors) ask it for work and report completions; it
// never runs code or reads time except through the Clock it was given, so the same policy runs
// on real cores and in logical time.
//
// Cores belong to one of two groups:
//   FCFS  pull requests from one shared queue in arrival order and run them to completion.
//   DRR   serve the mailboxes of the actors in the DRR runnable list by deficit round robin.
// An actor whose execution tail (mu + 3 sigma) exceeds tail_threshold moves to DRR; it moves
// back when its tail falls below (1 - alpha) * tail_threshold. Idle cores move to the other
// group when it has work and no idle core of its own; every actor mode keeps one core.
// Actor locations (for migration to the host) are described in runtime/scheduler_config.h.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "latency_stats.h"
#include "runtime/clock.h"
#include "runtime/message.h"
#include "runtime/runtime_stats.h"
#include "runtime/scheduler_config.h"

namespace wave::rt {

class HybridScheduler {
 public:
  enum class Enqueued : uint8_t { kQueued, kOutbox, kNoActor, kQuarantined };
  // What claim_inline decided: kClaimed, or why the request must go through enqueue().
  enum class InlineClaim : uint8_t { kClaimed, kBusy, kElsewhere, kNoActor, kQuarantined };
  // The core id complete() is given for a run that claim_inline granted (no core of ours).
  static constexpr uint32_t kInlineCore = UINT32_MAX;

  HybridScheduler(const SchedulerConfig& cfg, const Clock& clock);
  HybridScheduler(const HybridScheduler&) = delete;
  HybridScheduler& operator=(const HybridScheduler&) = delete;

  const SchedulerConfig& config() const { return cfg_; }

  // `serial` actors run on at most one core at a time (iPipe lets FCFS cores run an actor
  // concurrently; agents and anything with multi-word invariants in its DMOs wants serial).
  bool add_actor(ActorId id, bool serial, bool start_in_drr);
  // Forgets the actor and hands back every request still waiting for it.
  std::vector<Message> remove_actor(ActorId id);

  // Stamps arrival time and sequence; routes the request to the shared queue, a DRR mailbox or
  // the migration outbox. Rejected requests stay with the caller.
  Enqueued enqueue(Message& msg);

  // The next request for `core`, or nothing. The caller runs it and then calls complete().
  std::optional<Message> next(uint32_t core);
  // Reports that `core` ran `msg` for exec_ns. Updates statistics and group membership.
  // Returns true if it queued requests that waited for the (serial) actor to finish.
  bool complete(uint32_t core, const Message& msg, uint64_t exec_ns);
  // The same, at `now` (a time the caller read from this scheduler's clock just before).
  bool complete_at(uint32_t core, const Message& msg, uint64_t exec_ns, uint64_t now);

  // Run to completion on a thread outside the cores (Runtime::open_inline_core): grants `msg`
  // only when a core would take it next and alone: the actor is on the NIC, not quarantined,
  // in the FCFS group (DRR cores processor-share theirs), has no request waiting anywhere
  // (order) and, if serial, none running. Then stamps arrival and sequence like enqueue() and
  // counts the actor running, so cores, migration and destroy see it busy until the caller
  // reports complete(kInlineCore, msg, exec_ns). Otherwise `msg` is untouched.
  InlineClaim claim_inline(Message& msg);

  // Quarantine: no more dispatch; returns the requests that were waiting.
  std::vector<Message> quarantine(ActorId id);

  // Migration support (see the location states above).
  bool begin_migration_out(ActorId id);  // kNic -> kMigratingOut, outbox = waiting work
  bool running(ActorId id) const;        // some core still runs the actor
  bool set_location(ActorId id, ActorLocation loc);
  ActorLocation location(ActorId id) const;
  std::deque<Message> take_outbox(ActorId id);  // buffered requests, in arrival order
  // kReturning -> kNic: the buffered requests are scheduled here again, in order. Returns how
  // many were buffered.
  size_t finish_migration_in(ActorId id);
  // The non-pinned actor on the NIC with the most execution time since the last call.
  ActorId pick_heaviest(const std::vector<ActorId>& candidates);

  // True when some request may be waiting for a core (a cheap hint for idle cores).
  bool has_work() const;
  // No request waiting and no core inside a request: a core may leave at shutdown. (Leaving
  // while another core still runs would strand that actor's next requests if they belong to
  // the leaving core's group.)
  bool quiescent() const;
  // Every waiting request, for shutdown. The scheduler is empty afterwards.
  std::vector<Message> drain_all();

  std::vector<ActorSchedStats> actor_stats() const;
  SchedStats stats() const;
  CoreGroup core_group(uint32_t core) const;
  double nic_latency_mean_ns() const;
  // Called once per management tick. A NIC that completed nothing since the last call and has
  // nothing waiting would answer a request at once: the mean latency takes a zero sample, so
  // that it decays once load is gone (otherwise it would keep the value of the last busy
  // moment forever, and a migrated actor would never come back).
  void sample_idle_tick();
  // Execution time of every request completed here so far (the NIC cores' busy time).
  uint64_t busy_ns_total() const;

 private:
  struct Actor {
    ActorId id;
    bool serial;
    CoreGroup group = CoreGroup::kFcfs;
    ActorLocation location = ActorLocation::kNic;
    bool quarantined = false;
    std::deque<Message> mailbox;  // DRR requests, and FCFS requests waiting for a serial actor
    std::deque<Message> outbox;   // requests buffered or forwarded during migration
    uint64_t in_shared_queue = 0;
    int64_t deficit = 0;
    bool in_drr_list = false;
    bool on_drr_core = false;
    uint32_t running = 0;
    LatencyStats exec;
    LatencyStats latency;
    uint64_t processed = 0;
    uint64_t recent_work_ns = 0;
    uint32_t to_drr = 0, to_fcfs = 0;
    explicit Actor(ActorId i, bool s, uint32_t window)
        : id(i), serial(s), exec(window), latency(window) {}
  };
  struct Core {
    CoreGroup group = CoreGroup::kFcfs;
    bool busy = false;
    Actor* drr_turn = nullptr;  // the actor whose DRR turn this core is serving
  };

  Actor* find(ActorId id) const;
  void route(Actor& a, Message&& msg);  // a is on the NIC and not quarantined
  void make_drr_runnable(Actor& a);
  // Per-actor order is arrival order (seq) whichever queue a request waits in.
  static void insert_in_order(std::deque<Message>& q, Message&& msg);
  void take_from_shared_queue(Actor& a);  // a's shared-queue requests into its mailbox
  std::optional<Message> take_fcfs(Core& core);
  std::optional<Message> take_drr(Core& core);
  void end_drr_turn(Core& core);
  bool drr_eligible(const Actor& a) const;
  bool drr_backlogged() const;
  uint32_t count_group(CoreGroup g, bool idle_only) const;
  bool has_work_locked() const;
  uint32_t min_cores(CoreGroup g) const;
  bool any_actor_in(CoreGroup g) const;
  void maybe_change_group(Actor& a);
  void to_fcfs(Actor& a);
  void extract_waiting(Actor& a, std::vector<Message>* out);
  uint64_t estimate_ns(const Actor& a) const;
  void update_group_loads(uint64_t now);

  const SchedulerConfig cfg_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<ActorId, std::unique_ptr<Actor>> actors_;
  std::deque<Message> shared_queue_;
  std::deque<Actor*> drr_list_;
  std::vector<Core> cores_;
  uint64_t next_seq_ = 1;
  LatencyStats nic_latency_;
  uint64_t completed_ = 0;
  uint64_t completed_at_idle_sample_ = 0;
  uint64_t busy_ns_total_ = 0;
  uint64_t core_moves_ = 0;
  // Work done per group since load_epoch_, and the smoothed load (in cores) it gives.
  uint64_t group_work_ns_[2] = {0, 0};
  double group_load_[2] = {0, 0};
  uint64_t load_epoch_ = 0;
};

}  // namespace wave::rt
