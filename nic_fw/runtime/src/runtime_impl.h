// The NIC runtime's state behind runtime.h, and the code that runs on its threads. Split by
// responsibility:
//   runtime.cc          construction, start, actors, post, shutdown, stats
//   runtime_cores.cc    the core threads and the watchdog that evicts their handlers
//   runtime_link.cc     the management thread: the link to the host, forwarding, auto-migration
//   runtime_migrate.cc  moving an actor to the host and back
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

#include "core_guard.h"
#include "dmo_table.h"
#include "hybrid_scheduler.h"
#include "migration/state_transfer.h"
#include "runtime/runtime.h"

namespace wave::rt {

// What the runtime keeps of an actor on the NIC besides its DMOs and its scheduler entry.
struct ActorRecord {
  ActorId id = kNoActorId;
  ActorSpec spec;
  ActorType type;
  ObjectId root = kNoObjectId;
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> migrations{0};
};

// A core slot: a runtime core thread's, or an inline core's (inline_core.h) while it is open.
struct CoreState {
  CoreGuard guard;
  std::thread thread;  // a runtime core's; an inline core's caller is signal_to
  // The thread the watchdog signals for an inline core: the caller of the run in progress.
  std::atomic<pthread_t> signal_to{};
  // True while a handler runs in this slot (guard.run_epoch names the run). The watchdog bounds
  // CPU time, not wall time: on this emulation a core thread may be descheduled by the host (on
  // a real NIC a core is dedicated and the two are the same).
  std::atomic<bool> busy{false};
  std::atomic<clockid_t> cpu_clock{CLOCK_THREAD_CPUTIME_ID};
  std::atomic<ActorId> actor{kNoActorId};
  // An inline core's: the record of the actor it ran last (used by its one caller only).
  std::shared_ptr<ActorRecord> inline_record;
  // An inline core's: the thread whose CPU clock and signal target the slot holds (its one
  // caller's; re-read only when another thread calls).
  pthread_t inline_caller{};
  bool inline_caller_known = false;
  // The watchdog's own (management thread only): the run it saw last (its run_epoch) and the
  // slot thread's CPU time when it first saw it. Reading the thread CPU clock is a system call
  // (over a microsecond in a VM, several times the agent's whole decision), so the run does
  // not stamp its start; the watchdog does, at its first sight of the run. The stamp is kept
  // here under the run's epoch rather than stored into the slot: a stamp read for one run and
  // stored late (the management thread preempted in between) could otherwise land on a later
  // run of the same slot, with a CPU time from before that run began, and evict it early.
  uint64_t watched_epoch = 0;
  uint64_t watched_since_cpu = 0;
};

class Runtime::Impl {
 public:
  Impl(const Runtime& owner, RuntimeConfig cfg, const ActorRegistry& registry, ReplySink sink,
       const Clock* clock);

  void attach_host_link(std::unique_ptr<mig::MigrationLink> link);
  bool start();
  Status create_actor(const ActorSpec& spec, ActorId* out);
  Status destroy_actor(ActorId id);
  Status post(Message&& msg);
  Status migrate_to_host(ActorId id, MigrationRecord* rec);
  Status migrate_from_host(ActorId id, MigrationRecord* rec);
  void shutdown(ShutdownMode mode);
  RuntimeStats stats() const;
  std::vector<MigrationRecord> migrations() const;
  DmoTable& dmo_table() { return table_; }
  void set_tick_hook(std::function<void(const Runtime&)> hook);

  // Inline cores (runtime_inline.cc).
  std::unique_ptr<InlineCore> open_inline_core();
  Status run_inline(CoreState& cs, Message& msg, Reply* out);
  void close_inline_core(CoreState& cs);

 private:
  std::shared_ptr<ActorRecord> record(ActorId id) const;
  void core_loop(uint32_t core);
  void run_one(uint32_t core, Message& msg);
  // The handler call every core slot makes: watchdog-guarded (core_guard.h), timed.
  struct RunResult {
    bool evicted;
    uint64_t exec_ns, end_ns;
  };
  // `t0`: when the run started, if the caller just read the clock (0: read it here).
  RunResult run_handler(CoreState& cs, ActorRecord& rec, ActorContext& ctx, const Message& msg,
                        uint64_t t0 = 0);
  static void make_reply(const Message& msg, ActorContext& ctx, const RunResult& run, Reply* r);
  void management_loop();
  void watchdog_check();
  void watchdog_check(CoreState& cs, pthread_t target);
  // Is some core slot, a runtime core's or an inline one, running the actor now?
  bool running_on_a_core(ActorId id);
  // Unblocks the watchdog signal after a jump back from an eviction (the jump kept the mask).
  void after_eviction(CoreState& cs, ActorRecord& rec);
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
  // Polls the link until `done` holds; false on the deadline or a broken link.
  bool wait_for_host(std::chrono::steady_clock::time_point deadline,
                     const std::function<bool()>& done);
  // Both directions end alike: phase times from the five stamps, counters, the record kept.
  void record_migration(ActorRecord& rec, MigrationRecord& mr, const uint64_t (&t)[5],
                        MigrationRecord* out);
  void auto_migrate();

  const Runtime& owner_;  // what the tick hook is given
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
  // Open inline cores; the watchdog looks at them under the lock, so closing waits for it.
  std::mutex inline_mu_;
  std::vector<std::unique_ptr<CoreState>> inline_cores_;
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
  // The NIC cores' busy time and the requests sent to the host over the last complete window
  // (measure_load), from which auto_migrate judges whether a host actor may return.
  uint64_t forwarded_total_ = 0;
  struct LoadMark {
    uint64_t at_ns = 0, busy_ns = 0, forwarded = 0;
  } load_mark_;
  struct LoadWindow {
    bool measured = false;  // a whole window passed since the last migration
    uint64_t length_ns = 0, busy_ns = 0, forwarded = 0;
  } load_window_;
  void measure_load(uint64_t now);
  void restart_load_window(uint64_t now);
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

// Bounds on waits for the host, so a dead peer cannot hang the NIC.
inline constexpr auto kHostTimeout = std::chrono::seconds(5);

}  // namespace wave::rt
