// The dispersive workload of issue 4 run through the runtime's HybridScheduler in logical time.
//
// N simulated NIC cores pull requests from the scheduler exactly as the runtime's core threads
// do (next / complete), but service times advance a manual clock instead of burning a real
// core: this machine has two cores shared with other work, so N NIC cores in real time would
// measure the host's scheduler, not ours. Same policy code, deterministic for a given seed.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/scheduler_config.h"

namespace wave::bench {

struct DispersiveConfig {
  uint32_t cores = 8;
  double load = 0.7;             // of the cores' capacity
  double long_fraction = 0.005;  // of requests
  uint64_t short_ns = 1'000;
  uint64_t long_ns = 500'000;
  uint32_t light_actors = 16;  // receive the short requests
  uint32_t heavy_actors = 8;   // receive the long requests
  uint64_t duration_ns = 1'000'000'000;
  double warmup = 0.1;  // fraction of the run not measured
  uint64_t seed = 42;
  rt::SchedulerConfig sched;  // mode and thresholds; cores is set from `cores`
};

struct DispersiveResult {
  rt::SchedMode mode;
  uint64_t short_done = 0, long_done = 0;
  double short_p50_us = 0, short_p99_us = 0;
  double long_p50_us = 0, long_p99_us = 0;
  double utilisation = 0;  // busy core time / (cores * time)
  uint32_t fcfs_cores_end = 0, drr_cores_end = 0;
  uint64_t core_moves = 0;
};

DispersiveResult run_dispersive(const DispersiveConfig& cfg);

}  // namespace wave::bench
