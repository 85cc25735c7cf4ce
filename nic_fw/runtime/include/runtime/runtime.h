// The NIC runtime: actors and their DMOs, NIC cores (threads) driven by the hybrid scheduler,
// a management thread (watchdog, migration policy, link to the host runtime) and statistics.
//
// Threads:
//   core i       loop { next request from the scheduler; run its handler; reply; complete }
//   inline       a thread outside the runtime that opened an InlineCore runs handlers itself
//   management   every tick: watchdog; forward requests of migrated actors; receive replies and
//                returning state from the host; decide migrations; publish stats.
// Every request that post() accepts is answered exactly once through the reply sink.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/actor.h"
#include "runtime/clock.h"
#include "runtime/message.h"
#include "runtime/migration/frame_channel.h"
#include "runtime/runtime_config.h"
#include "runtime/runtime_stats.h"
#include "runtime/status.h"

namespace wave::rt {

class DmoTable;
class InlineCore;

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

  // A core slot for the calling (polling) thread to run handlers on itself (inline_core.h);
  // null before start or after shutdown. Close it before the runtime goes.
  std::unique_ptr<InlineCore> open_inline_core();

  // Moves an actor to the host (or back) now, regardless of load. Blocks until done.
  Status migrate_to_host(ActorId id, MigrationRecord* rec = nullptr);
  Status migrate_from_host(ActorId id, MigrationRecord* rec = nullptr);

  void shutdown(ShutdownMode mode);

  RuntimeStats stats() const;
  std::vector<MigrationRecord> migrations() const;
  // The NIC's object table, for the runtime's own tests (its header is private).
  DmoTable& dmo_table();
  // Hook the stats publisher (wave-nicd's control page) runs on every management tick.
  void set_tick_hook(std::function<void(const Runtime&)> hook);

 private:
  friend class InlineCore;
  class Impl;  // src/runtime_impl.h: threads, scheduler, object table, host link
  std::unique_ptr<Impl> impl_;
};

}  // namespace wave::rt
