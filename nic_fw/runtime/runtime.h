// The NIC runtime: actors and their DMOs, NIC cores (threads) driven by the hybrid scheduler,
// a management thread (watchdog, migration policy, link to the host runtime) and statistics.
//
// Threads:
//   core i       loop { next request from the scheduler; run its handler; reply; complete }
//   management   every tick: watchdog; forward requests of migrated actors; receive replies and
//                returning state from the host; decide migrations; publish stats.
// Every request that post() accepts is answered exactly once through the reply sink.
#pragma once

#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/actor.h"
#include "runtime/clock.h"
#include "runtime/core_guard.h"
#include "runtime/dmo_table.h"
#include "runtime/hybrid_scheduler.h"
#include "runtime/migration/frame_channel.h"
#include "runtime/migration/state_transfer.h"
#include "runtime/runtime_config.h"

namespace wave::rt {

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

enum class ShutdownMode : uint8_t {
  kDrain,   // run every request already accepted, then stop
  kCancel,  // answer waiting requests with kShutdown, finish only running handlers
};

class Runtime {
 public:
  // `clock` defaults to a steady clock; `registry` must outlive the runtime.
  Runtime(RuntimeConfig cfg, const ActorRegistry& registry, ReplySink sink,
          const Clock* clock = nullptr);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Connects the link to the host runtime (before start). Without it, no migration happens.
  void attach_host_link(std::unique_ptr<mig::MigrationLink> link);
  // Starts core and management threads and creates cfg.actors.
  bool start();

  Status create_actor(const ActorSpec& spec, ActorId* out);
  // Removes the actor: waiting requests are answered with kNoActor, its DMOs freed.
  Status destroy_actor(ActorId id);
  // Accepts a request; it will be answered exactly once through the sink.
  Status post(Message&& msg);

  // Moves an actor to the host (or back) now, regardless of load. Blocks until done.
  Status migrate_to_host(ActorId id, MigrationRecord* rec = nullptr);
  Status migrate_from_host(ActorId id, MigrationRecord* rec = nullptr);

  void shutdown(ShutdownMode mode);

  RuntimeStats stats() const;
  std::vector<MigrationRecord> migrations() const;
  DmoTable& dmo_table() { return table_; }
  const HybridScheduler& scheduler() const { return sched_; }
  // Hook the stats publisher (wave-nicd's control page) runs on every management tick.
  void set_tick_hook(std::function<void(const Runtime&)> hook);

 private:
  struct ActorRecord {
    ActorSpec spec;
    ActorType type;
    ObjectId root = kNoObjectId;
    std::atomic<uint64_t> evictions{0};
    std::atomic<uint64_t> migrations{0};
  };
  struct CoreState {
    CoreGuard guard;
    std::thread thread;
    // The core thread's CPU time when the running handler started, 0 when idle. The watchdog
    // bounds CPU time, not wall time: on this emulation a core thread may be descheduled by
    // the host (on a real NIC a core is dedicated and the two are the same).
    std::atomic<uint64_t> busy_since{0};
    std::atomic<clockid_t> cpu_clock{CLOCK_THREAD_CPUTIME_ID};
    std::atomic<ActorId> actor{kNoActorId};
  };

  std::shared_ptr<ActorRecord> record(ActorId id) const;
  void core_loop(uint32_t core);
  void run_one(uint32_t core, Message& msg);
  void management_loop();
  void watchdog_check();
  void quarantine(ActorId id, Status why);
  void reject(Message&& msg, Status why);
  void deliver(Reply&& r);
  void wake_cores();
  void wake_management();

  // Link handling (management thread, or a caller of migrate_* holding link_mu_).
  bool poll_link();  // handles at most a batch of frames from the host; false when idle
  void handle_host_frame(const mig::FrameHeader& h, std::span<const std::byte> payload);
  void forward_outboxes();
  bool link_wait();  // called while the tx ring is full
  Status do_migrate_out(ActorId id, MigrationRecord* rec);
  Status do_migrate_in(ActorId id, MigrationRecord* rec);
  void auto_migrate();

  const RuntimeConfig cfg_;
  const ActorRegistry& registry_;
  ReplySink sink_;
  SteadyClock steady_;
  const Clock& clock_;
  DmoTable table_;
  HybridScheduler sched_;

  mutable std::shared_mutex actors_mu_;
  std::map<ActorId, std::shared_ptr<ActorRecord>> actors_;
  ActorId next_id_ = 1;

  std::vector<std::unique_ptr<CoreState>> cores_;
  std::thread mgmt_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> mgmt_stop_{false};
  bool shut_down_ = false;
  std::atomic<bool> started_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::mutex mgmt_mu_;
  std::condition_variable mgmt_cv_;
  bool mgmt_kick_ = false;
  int watchdog_sig_ = 0;

  // Link to the host runtime: all use serialized by link_mu_.
  std::recursive_mutex link_mu_;
  std::unique_ptr<mig::MigrationLink> link_;
  mig::DmaGrantSlot dma_grant_;  // the grant a one-copy migration out waits for
  mig::StateReceiver returning_{table_};
  std::map<ActorId, uint64_t> acks_;  // actor -> status of its last kStateAck (+1)
  bool return_done_ = false;
  ActorId return_actor_ = kNoActorId;
  uint64_t last_migration_ns_ = 0;
  std::vector<ActorId> on_host_;  // in migration order
  // Requests forwarded to the host and not answered yet, by the NIC's sequence number (the id
  // on the wire): a host reply is delivered only if it matches one, and only once.
  struct Forwarded {
    uint64_t request_id;
    ActorId actor;
  };
  std::map<uint64_t, Forwarded> outstanding_;

  mutable std::mutex records_mu_;
  std::vector<MigrationRecord> records_;
  std::function<void(const Runtime&)> tick_hook_;

  std::atomic<uint64_t> requests_{0}, replies_{0}, rejected_{0}, quarantines_{0}, evictions_{0},
      migrations_out_{0}, migrations_in_{0}, link_errors_{0}, host_replies_{0};
};

}  // namespace wave::rt
