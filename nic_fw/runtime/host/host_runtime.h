// The host half of the runtime: receives migrated actors over the link, recreates them with
// their DMOs in a host-side object table (same checks as on the NIC), runs their requests and
// sends the replies back, and returns an actor when the NIC pulls it. Host cores are
// preemptible and plentiful, so it runs one decentralised loop per link instead of the
// NIC's hybrid scheduler.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/actor.h"
#include "runtime/dmo_table.h"
#include "runtime/migration/frame_channel.h"
#include "runtime/migration/state_transfer.h"

namespace wave::rt {

struct HostRuntimeStats {
  uint64_t actors = 0;            // living here now
  uint64_t received = 0;          // actors received from the NIC
  uint64_t returned = 0;          // actors sent back
  uint64_t requests = 0;          // requests run
  uint64_t bad_frames = 0;        // refused input from the NIC
  uint64_t last_recreate_ns = 0;  // kStateEnd to acknowledgement, last migration
};

class HostRuntime {
 public:
  HostRuntime(const ActorRegistry& registry, std::unique_ptr<mig::MigrationLink> link);
  ~HostRuntime();
  HostRuntime(const HostRuntime&) = delete;
  HostRuntime& operator=(const HostRuntime&) = delete;

  bool start();  // starts the thread that serves the link
  void stop();

  bool has_actor(ActorId id) const;
  HostRuntimeStats stats() const;
  // For tests: the host-side object table.
  DmoTable& dmo_table() { return table_; }

 private:
  struct HostActor {
    mig::ActorImage image;
    ActorType type;
  };

  void loop();
  void handle(const mig::FrameHeader& h, std::span<const std::byte> payload);
  void run_request(const mig::FrameHeader& h, std::span<const std::byte> payload);
  void return_actor(ActorId id);
  bool send(mig::FrameType type, ActorId actor, uint64_t a0, uint64_t a1,
            std::span<const std::byte> payload);

  const ActorRegistry& registry_;
  std::unique_ptr<mig::MigrationLink> link_;
  DmoTable table_;
  mig::StateReceiver receiver_{table_};
  std::map<ActorId, HostActor> actors_;  // touched only by the loop thread
  mutable std::mutex stats_mu_;
  HostRuntimeStats stats_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace wave::rt
