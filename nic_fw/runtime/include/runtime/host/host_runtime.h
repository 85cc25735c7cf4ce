// The host half of the runtime: receives migrated actors over the link, recreates them with
// their DMOs in a host-side object table (same checks as on the NIC), runs their requests and
// sends the replies back, and returns an actor when the NIC pulls it. Host cores are
// preemptible and plentiful, so it runs one decentralised loop per link instead of the
// NIC's hybrid scheduler.
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/actor.h"
#include "runtime/migration/frame_channel.h"

namespace wave::rt {

class DmoTable;

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
  DmoTable& dmo_table();

 private:
  class Impl;  // src/host/host_runtime.cc: the link loop, the host's object table, the actors
  std::unique_ptr<Impl> impl_;
};

}  // namespace wave::rt
