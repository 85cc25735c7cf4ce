// Migration of an actor holding a large state (iPipe's 32 MB LSM memtable case) from the NIC
// runtime to the host runtime and back, over the shared-memory link, timed per phase.
#pragma once

#include <cstdint>
#include <string>

namespace wave::bench {

struct PhaseTimes {
  double stop_ms = 0, ship_ms = 0, recreate_ms = 0, replay_ms = 0, total_ms = 0;
  double cleanup_ms = 0;  // freeing the old copy, after the actor serves again (not in total)
};

struct MigrationBenchResult {
  uint64_t bytes = 0;
  uint32_t objects = 0;
  int repetitions = 0;
  PhaseTimes to_host;  // medians over the repetitions
  PhaseTimes to_nic;
  double to_host_min_ms = 0, to_host_max_ms = 0;
  double to_host_first_ms = 0;  // the first trip: the host's memory is not yet faulted in
  bool state_intact = false;    // checksum of the state equal after every trip
  std::string error;
};

MigrationBenchResult run_migration_bench(uint64_t bytes, uint32_t object_bytes, int repetitions);

}  // namespace wave::bench
