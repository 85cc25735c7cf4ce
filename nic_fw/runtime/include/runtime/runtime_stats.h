// What Runtime::stats() and Runtime::migrations() report: per actor (scheduling, memory,
// evictions, migrations), per scheduler and for the whole runtime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/scheduler_config.h"
#include "runtime/status.h"

namespace wave::rt {

// An actor's DMO space.
struct DmoUsage {
  uint64_t cap_bytes = 0;
  uint64_t used_bytes = 0;
  uint32_t objects = 0;
  uint64_t violations = 0;
  uint64_t over_cap = 0;
  bool quarantined = false;
};

struct ActorSchedStats {
  ActorId id = kNoActorId;
  CoreGroup group = CoreGroup::kFcfs;
  ActorLocation location = ActorLocation::kNic;
  bool quarantined = false;
  double exec_mean_ns = 0, exec_tail_ns = 0;
  double latency_mean_ns = 0, latency_tail_ns = 0;
  uint64_t queued = 0;  // waiting here: shared queue + mailbox + outbox
  uint64_t processed = 0;
  uint32_t to_drr = 0, to_fcfs = 0;
};

struct SchedStats {
  uint32_t fcfs_cores = 0, drr_cores = 0;
  double fcfs_load = 0, drr_load = 0;  // cores' worth of work, recent estimate
  uint64_t fcfs_queue_depth = 0;
  uint64_t drr_runnable = 0;
  double nic_latency_mean_ns = 0;
  uint64_t completed = 0;
  uint64_t core_moves = 0;
};

// Time of each migration phase, in ns.
struct MigrationRecord {
  ActorId actor = kNoActorId;
  bool to_host = true;
  uint64_t bytes = 0;
  uint64_t objects = 0;
  uint64_t stop_ns = 0;      // stop the mailbox, wait for running handlers, buffer new requests
  uint64_t ship_ns = 0;      // DMOs over the link (one copy via the DMA window, two via a ring)
  uint64_t recreate_ns = 0;  // the other side inserts the actor and acknowledges
  uint64_t replay_ns = 0;    // buffered requests replayed; the actor serves from the new side
  uint64_t cleanup_ns = 0;   // the old side's copy freed (after the actor already serves)
  uint64_t replayed = 0;
  bool ok = false;
  uint64_t total_ns() const { return stop_ns + ship_ns + recreate_ns + replay_ns; }
};

struct ActorStats {
  ActorId id = kNoActorId;
  std::string name;
  ActorSchedStats sched;
  DmoUsage mem;
  uint64_t evictions = 0;
  uint64_t migrations = 0;
  bool pinned = false;
};

struct RuntimeStats {
  SchedStats sched;
  std::vector<ActorStats> actors;
  uint64_t requests = 0;    // accepted by post()
  uint64_t replies = 0;     // answered (any status)
  uint64_t rejected = 0;    // answered with an error without running
  uint64_t violations = 0;  // DMO isolation violations, all actors
  uint64_t quarantines = 0;
  uint64_t evictions = 0;
  uint64_t migrations_out = 0, migrations_in = 0;
  uint64_t link_errors = 0;
  uint64_t host_replies = 0;  // replies that came back from the host runtime
};

}  // namespace wave::rt
