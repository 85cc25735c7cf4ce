// How the NIC runtime's hybrid FCFS/DRR scheduler is configured: the scheduling mode, the
// number of NIC cores and the thresholds that move actors between the core groups. Also the
// names of the groups and of the places an actor can be, as statistics report them.
#pragma once

#include <cstdint>
#include <string>

namespace wave::rt {

enum class SchedMode : uint8_t { kHybrid, kFcfsOnly, kDrrOnly };
enum class CoreGroup : uint8_t { kFcfs, kDrr };
// Where an actor runs (see migration in runtime.h):
//   kNic          scheduled here.
//   kMigratingOut stopped: no new dispatch; new requests are buffered in the outbox.
//   kHost         runs on the host: requests go to the outbox, which the migrator forwards.
//   kReturning    coming back: requests are buffered in the outbox until the state arrived.
enum class ActorLocation : uint8_t { kNic, kMigratingOut, kHost, kReturning };

const char* sched_mode_name(SchedMode m);
bool parse_sched_mode(const std::string& s, SchedMode* out);

// An actor whose execution tail (mu + 3 sigma) exceeds tail_threshold moves to the DRR group;
// it moves back when its tail falls below (1 - alpha) * tail_threshold.
struct SchedulerConfig {
  SchedMode mode = SchedMode::kHybrid;
  uint32_t cores = 2;
  uint64_t tail_threshold_ns = 100'000;
  double alpha = 0.2;    // hysteresis for the return to FCFS (and from the host)
  uint32_t window = 64;  // samples the EWMAs average over
  uint64_t drr_quantum_ns = 20'000;
  uint32_t min_samples = 8;  // an actor changes group only after this many samples
  // Each group keeps enough cores to run its measured load at this utilisation; only cores
  // beyond that move to the other group when it has work.
  double core_target_util = 0.8;
  uint64_t load_window_ns = 1'000'000;  // how often group loads are re-estimated
};

}  // namespace wave::rt
